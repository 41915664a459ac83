"""Shared harness for the extraction benchmarks: timing that survives a shared machine, synthetic corpora,
the models under test, emovec's own batch plan, the bare-forward baseline and the results table.

Methods run *interleaved*, batch by batch, in a rotating order: on a shared 2-core machine another process
can slow a forward pass down 2x for minutes, and running one method after the other turned that into ratios
anywhere between 0.8x and 1.8x. Interleaving gives every method the same share of any disturbance. Each method
is warmed up once (one small batch) before timing. Reported per method: wall seconds, real tokens per second,
processed (padded) tokens / real tokens, tokens/s relative to the bare forward, and "other CPU": how many cores
other processes kept busy meanwhile (from /proc/stat; 0 on a quiet machine).

The baseline, **bare forward**, is the base model (``model.base_model``: the ``LlamaModel`` inside the causal
LM, or the ``BertModel`` itself) under ``torch.inference_mode()``, no hooks, no LM head, over exactly the
length-sorted, right-padded batches emovec plans (same shards, same batches; padding done before timing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from emovec.models import tiny
from emovec.models.bundled import minilm_path

REPO = Path(__file__).resolve().parents[1]
SKIP = 50
MAX_LENGTH = 512
EMOTIONS = ("joy", "sadness", "anger", "fear", "surprise", "calm", "pride", "shame")
# The words the offline BPE tokenizer (emovec.models.tiny.train_tokenizer) is trained on, so a random Llama sees about
# 1.35 tokens per word (MiniLM's real WordPiece vocabulary: about 1.1): 60..400 words give about 80..512 tokens.
WORDS = tiny.WORDS

Step = Callable[[], tuple[int, int]]  # runs one batch; returns (real tokens, processed tokens)
Collect = Callable[[torch.Tensor, torch.Tensor], list[torch.Tensor]]  # (ids, mask) -> hidden state per layer


# --------------------------------------------------------------------------------------------------- timing


class Stopwatch:
    """Wall time of a block, and how many cores other processes kept busy meanwhile (from /proc/stat)."""

    def __enter__(self) -> Stopwatch:
        self.busy0, self.own0 = _busy_cpu_seconds(), _own_cpu_seconds()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        busy = _busy_cpu_seconds()
        self.other_cpu_seconds: float | None = None
        if busy is not None and self.busy0 is not None:
            self.other_cpu_seconds = max(0.0, (busy - self.busy0) - (_own_cpu_seconds() - self.own0))


def _busy_cpu_seconds() -> float | None:
    """CPU seconds all processes have used since boot (Linux), or None."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Row:
    """One line of a results table."""

    method: str
    seconds: float | None  # None: skipped or failed
    real: int = 0
    processed: int = 0
    note: str = ""
    other_cpu: float | None = None  # cores kept busy by other processes meanwhile (None: unknown)
    reference: Row | None = None  # the bare-forward row this one is compared with, when not the table's
    is_reference: bool = False  # a baseline row of its own: shown as 1.00x


@dataclass
class Method:
    """A way to get pooled activations, run batch by batch so that methods can be interleaved."""

    name: str
    steps: list[Step]
    warmup: Callable[[], object]
    fragile: bool = False  # a third-party library: an error skips the method instead of ending the run
    seconds: float = 0.0
    other_cpu_seconds: float | None = 0.0
    real: int = 0
    processed: int = 0
    error: str | None = None

    def row(self) -> Row:
        if self.error:
            return Row(self.name, None, note=self.error)
        other = None if self.other_cpu_seconds is None else self.other_cpu_seconds / max(self.seconds, 1e-9)
        return Row(self.name, self.seconds, self.real, self.processed, "", other)


def interleave(methods: list[Method]) -> None:
    """Warm every method up, then run batch i of every method, rotating which goes first."""
    for method in methods:
        try:
            method.warmup()
        except Exception as err:
            if not method.fragile:
                raise
            method.error = failure(err)
    live = [m for m in methods if not m.error]
    n_steps = max((len(m.steps) for m in live), default=0)
    report_every = max(1, n_steps // 4)
    for i in range(n_steps):
        k = i % len(live)
        for method in live[k:] + live[:k]:
            if method.error or i >= len(method.steps):
                continue
            try:
                with Stopwatch() as watch:
                    real, processed = method.steps[i]()
            except Exception as err:
                if not method.fragile:
                    raise
                method.error = failure(err)
                continue
            method.seconds += watch.seconds
            method.real += real
            method.processed += processed
            if watch.other_cpu_seconds is None or method.other_cpu_seconds is None:
                method.other_cpu_seconds = None
            else:
                method.other_cpu_seconds += watch.other_cpu_seconds
        if (i + 1) % report_every == 0 or i + 1 == n_steps:
            done = ", ".join(f"{m.name.split(' ')[0]} {m.seconds:.0f}s" for m in live if not m.error)
            print(f"    batch {i + 1}/{n_steps}: {done}", flush=True)


def failure(err: Exception) -> str:
    first = (str(err).splitlines() or [""])[0][:90]
    return f"failed: {type(err).__name__}: {first}"


# --------------------------------------------------------------------------------------------------- corpus


def story(rng: random.Random, n_words: int) -> str:
    """A pseudo-English story of exactly ``n_words`` words, in sentences of 5..14 words."""
    words: list[str] = []
    while len(words) < n_words:
        sentence = [rng.choice(WORDS) for _ in range(min(rng.randint(5, 14), n_words - len(words)))]
        sentence[0] = sentence[0].capitalize()
        sentence[-1] += "."
        words.extend(sentence)
    return " ".join(words)


def write_corpus(path: Path, n: int, min_words: int, max_words: int, seed: int = 0) -> Path:
    """Write a deterministic JSONL corpus of ``n`` stories with ``min_words..max_words`` words."""
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(n):
            row = {
                "id": f"s{i:06d}",
                "emotion": EMOTIONS[i % len(EMOTIONS)],
                "text": story(rng, rng.randint(min_words, max_words)),
            }
            f.write(json.dumps(row) + "\n")
    return path


def head_corpus(src: Path, dst: Path, n: int) -> Path:
    """The first ``n`` rows of a JSONL corpus (used for warm-up runs)."""
    lines = src.read_text().splitlines()[:n]
    dst.write_text("\n".join(lines) + "\n")
    return dst


# --------------------------------------------------------------------------------------------------- models


@dataclass
class ModelUnderTest:
    """A model folder, loaded once by emovec and shared by every method."""

    name: str
    path: Path
    loaded: object  # emovec.LoadedModel


def build_llama(out: Path, seed: int = 0) -> Path:
    """A random ~86M-parameter Llama (12 x 768, MLP 2048) with the offline BPE tokenizer, saved to ``out``."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    from emovec.models.tiny import train_tokenizer

    tok = train_tokenizer("bpe")
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=12,
        max_position_embeddings=1024,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out

def n_params(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


# --------------------------------------------------------------------------------------------------- methods


@dataclass
class Plan:
    """The stories as emovec sees them: token ids, its batches, and those batches padded on the right."""

    ids: list[list[int]]
    batches: list[np.ndarray]
    max_length: int
    padded: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(row) for row in self.ids], dtype=np.int64)

    def smallest(self) -> int:
        return min(range(len(self.padded)), key=lambda i: self.padded[i][0].numel())


def plan_like_emovec(loaded, texts: list[str], batch_size: int) -> Plan:
    """Token ids and the exact batches ``emovec.extract`` runs (shards, then length-sorted batches)."""
    from emovec.extraction.batching import plan_batches, plan_shards
    from emovec.extraction.config import auto_shard_size
    from emovec.extraction.engine import pad_batch
    from emovec.extraction.tokenization import encode_stories
    from emovec.models.layers import parse_layer_spec

    max_length = min(MAX_LENGTH, loaded.max_positions or MAX_LENGTH)
    encoded = encode_stories(loaded.tokenizer, texts, max_length=max_length)
    n_layers = len(parse_layer_spec("all", loaded.n_blocks))
    shards = plan_shards(encoded.lengths, auto_shard_size(n_layers, loaded.hidden_size))
    batches = [batch for rows in shards for batch in plan_batches(rows, encoded.lengths, batch_size=batch_size)]
    padded = [
        pad_batch([encoded.ids[r] for r in rows], loaded.pad_token_id, "right", loaded.device) for rows in batches
    ]
    return Plan(encoded.ids, batches, max_length, padded)


def forward_kwargs(loaded) -> dict:
    return {"use_cache": False} if loaded.is_decoder else {}


def bare_method(loaded, plan: Plan) -> Method:
    """The baseline: the base model's forward pass over emovec's batches, nothing else."""
    base = loaded.model.base_model
    extra = forward_kwargs(loaded)

    def step(i: int) -> tuple[int, int]:
        input_ids, mask = plan.padded[i]
        with torch.inference_mode():
            base(input_ids=input_ids, attention_mask=mask, **extra)
        return int(mask.sum()), int(input_ids.numel())

    steps = [lambda i=i: step(i) for i in range(len(plan.padded))]
    return Method("bare forward (baseline)", steps, lambda: step(plan.smallest()))


# --------------------------------------------------------------------------------------------------- report


def table(rows: list[Row], baseline: Row) -> str:
    """A Markdown table of the rows, ratios relative to ``baseline``."""
    base_rate = baseline.real / baseline.seconds if baseline.seconds else float("nan")
    lines = [
        "| method | wall s | real tok/s | processed / real | vs bare | other CPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row.seconds is None:
            lines.append(f"| {row.method} | - | - | - | {row.note} | |")
            continue
        rate = row.real / row.seconds
        reference = row.reference.real / row.reference.seconds if row.reference else base_rate
        if row.is_reference:
            reference = rate
        note = f" ({row.note})" if row.note else ""
        other = "?" if row.other_cpu is None else f"{row.other_cpu:.2f}"
        lines.append(
            f"| {row.method}{note} | {row.seconds:.1f} | {rate:,.0f} | {row.processed / row.real:.3f} | "
            f"{rate / reference:.2f}x | {other} |"
        )
    return "\n".join(lines)


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.abs(a[ok] - b[ok]).max()) if ok.any() else float("nan")


# --------------------------------------------------------------------------------------------------- setup

MODELS = ("llama100m", "minilm", "smollm2")


def base_parser(description: str) -> argparse.ArgumentParser:
    """The options every extraction benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--stories", type=int, default=None, help="stories in the corpus (default 200)")
    parser.add_argument("--corpus", type=Path, default=None, help="use this JSONL corpus instead of a synthetic one")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    parser.add_argument("--batch-size", type=int, default=8, help="stories per batch (default 8)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    return parser


def model_names(args: argparse.Namespace) -> list[str]:
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = set(names) - set(MODELS)
    if unknown:
        sys.exit(f"unknown model(s): {', '.join(sorted(unknown))}; use {', '.join(MODELS)}")
    return names


@contextmanager
def session(args: argparse.Namespace) -> Iterator[tuple[Path, Path]]:
    """Quiet offline libraries, print versions, and yield (work directory, corpus) for one benchmark run."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import transformers

    import emovec

    transformers.utils.logging.disable_progress_bar()  # the loading and saving bars would clutter the report
    print(
        f"emovec {emovec.__version__}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs\n",
        flush=True,
    )
    n_stories = args.stories or (12 if args.quick else 200)
    max_words = 120 if args.quick else 400
    with tempfile.TemporaryDirectory(prefix="emovec-bench-") as tmp:
        work = Path(tmp)
        if args.corpus:
            corpus = args.corpus.resolve()
            print(f"corpus: {corpus}\n", flush=True)
        else:
            corpus = write_corpus(work / "corpus.jsonl", n_stories, 60, max_words)
            print(f"corpus: {n_stories} synthetic stories of 60..{max_words} words (seed 0)\n", flush=True)
        yield work, corpus


def load_under_test(name: str, work: Path) -> ModelUnderTest:
    import emovec

    (work / name).mkdir(exist_ok=True)
    if name == "smollm2":  # the real SmolLM2-135M-Instruct, dequantized from its GGUF (cached after the first run)
        loaded = emovec.load_model("smollm2-135m-instruct", dtype="float32")
        return ModelUnderTest(name, Path(loaded.source["path"]), loaded)
    path = build_llama(work / "llama100m") if name == "llama100m" else minilm_path()
    return ModelUnderTest(name, path, emovec.load_model(path, dtype="float32"))


def model_header(model: ModelUnderTest, plan: Plan, batch_size: int) -> str:
    loaded, lengths = model.loaded, plan.lengths
    return (
        f"### {model.name}: {type(loaded.model).__name__}, {n_params(loaded.model):.1f}M parameters, "
        f"{loaded.n_blocks} blocks x d={loaded.hidden_size}, {loaded.n_blocks + 1} layers pooled\n\n"
        f"{len(plan.ids)} stories, {int(lengths.sum()):,} real tokens (length {lengths.min()}..{lengths.max()}, "
        f"mean {lengths.mean():.0f}), batch size {batch_size}, skip {SKIP}, max length {plan.max_length}\n"
    )


def run_interleaved(loaded, methods: list[Method]) -> None:
    """Interleave ``methods`` with the tokenizer padding on the right (as emovec's plan does)."""
    print(f"  interleaved: {', '.join(m.name for m in methods)}", flush=True)
    saved_side = loaded.tokenizer.padding_side
    loaded.tokenizer.padding_side = "right"
    try:
        interleave(methods)
    finally:
        loaded.tokenizer.padding_side = saved_side


# --------------------------------------------------------------------------------------------------- peak memory


def _status_mib(field: str) -> float | None:
    """A memory line of /proc/self/status (``VmRSS``, ``VmHWM``) in MiB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _malloc_trim() -> None:
    """Hand freed heap pages back to the kernel (glibc), so that RSS counts only memory in use."""
    import ctypes
    import ctypes.util

    with suppress(OSError, AttributeError):  # not glibc: RSS may then include freed pages
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def peak_rss_growth(run: Callable[[], object]) -> float | None:
    """Peak resident memory (MiB) that ``run()`` added on top of what the process held before it.

    CPU tensors live in malloc'd memory that neither tracemalloc nor torch's accelerator counters see, so this
    reads the kernel's figures: freed heap pages are first returned to the kernel (``malloc_trim``), the
    process's high-water mark is reset (``/proc/self/clear_refs`` = 5), ``run()`` runs, and the result is the
    new high-water mark (``VmHWM``) minus the resident size before. Memory freed and reused inside ``run()``
    counts once. None where the kernel offers no reset (not Linux, or a locked-down /proc).
    """
    _malloc_trim()
    before = _status_mib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    run()
    peak = _status_mib("VmHWM")
    return None if before is None or peak is None else max(0.0, peak - before)


def largest(plan: Plan) -> int:
    """The index of the batch with the most padded tokens (where a method's memory peaks)."""
    return max(range(len(plan.padded)), key=lambda i: plan.padded[i][0].numel())


def with_columns(markdown: str, columns: dict[str, list[str]]) -> str:
    """Append columns to a table made by :func:`table`, one value per row in row order."""
    lines = markdown.splitlines()
    for name, values in columns.items():
        lines[0] += f" {name} |"
        lines[1] += "---:|"
        for k, value in enumerate(values):
            lines[2 + k] += f" {value} |"
    return "\n".join(lines)
