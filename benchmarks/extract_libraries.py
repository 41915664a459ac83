"""Benchmark: emovec's extraction next to the interpretability libraries researchers would use instead.

Each library caches the residual stream the way its documentation says to, on its own copy of the model (so
that nothing it installs on a model, hooks or an attention implementation, touches the bare forward's or
emovec's), and runs interleaved with the bare forward and emovec's engine on the same batches (see
``harness.py``). Every method pools the same layers the same way: the input of block 0 and the output of every
block, mean over real tokens at positions >= 50.

- **nnsight** (``NNsight(model).trace(...)``): ``tracer.cache(modules=[every block], include_inputs=True)``,
  the "Caching Activations" recipe of nnsight's guide, then ``tracer.stop()`` once the last block has run (its
  documented early stop, as emovec stops after its last layer). The cached tensors are pooled in torch.
- **TransformerLens** (``TransformerBridge.boot_transformers(name, hf_model=..., tokenizer=...)``, the 3.x/4.x
  way to wrap an already-loaded HF model, so nothing is fetched from the hub): ``run_with_cache`` with
  ``names_filter`` on ``blocks.0.hook_in`` (alias ``hook_resid_pre``) and every ``blocks.{i}.hook_out`` (alias
  ``hook_resid_post``). The bridge keeps the raw HF weights (no LayerNorm folding or centring, unlike
  ``HookedTransformer.from_pretrained``), so its residual stream is the model's own. As documented, it switches
  the model it wraps to eager attention, and its ``stop_at_layer`` stops only *before* a block, so it also runs
  the final norm and the LM head. Its bridge takes BERT only with the masked-LM head (``BertForMaskedLM``), so
  it cannot wrap all-MiniLM-L6-v2 (a bare ``BertModel``).

Two columns beyond the harness's: **peak RSS growth**, measured after the timed run, once per method on the
batch with the most padded tokens, by :func:`harness.peak_rss_growth` (freed heap pages handed back with
``malloc_trim``, the kernel's high-water mark reset through ``/proc/self/clear_refs``, then the new ``VmHWM``
minus the RSS before the step); and **max |diff|**, the largest absolute difference of a method's pooled means
from emovec's, over every story, layer and dimension.

A library that is not installed is reported as skipped; one that fails on a model is reported with its error,
never ending the run. The libraries are not dependencies of emovec: ``make bench-libs`` builds a separate
venv (``benchmarks/.venv-libs``) with both and runs this script there.

Run from the repository root: ``benchmarks/.venv-libs/bin/python benchmarks/extract_libraries.py`` (``--quick``
for a smoke run); in the main venv the library rows say "skipped (not installed)".
"""

from __future__ import annotations

import copy
import importlib.util
import warnings
from collections.abc import Callable
from importlib.metadata import version

import numpy as np
import torch
from extract_speed import emovec_method
from harness import (
    SKIP,
    Method,
    ModelUnderTest,
    Plan,
    Row,
    bare_method,
    base_parser,
    failure,
    forward_kwargs,
    largest,
    load_under_test,
    max_diff,
    model_header,
    model_names,
    peak_rss_growth,
    plan_like_emovec,
    run_interleaved,
    session,
    table,
    with_columns,
)

Collect = Callable[[torch.Tensor, torch.Tensor], list[torch.Tensor]]  # (ids, mask) -> hidden state per layer

BERT_NOTE = "its bridge wraps BERT only with the MLM head (BertForMaskedLM); all-MiniLM-L6-v2 is a bare BertModel"
# nnsight serves ``.output`` on every module and says so, once per module, for BERT's submodules named "output".
warnings.filterwarnings("ignore", message=r"Module '.*' has a submodule named 'output'")


def pool_torch(hidden: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens at positions >= SKIP of right-padded hidden states: [B, L, d], as float32.

    One layer at a time (a masked sum as a batched matrix product, so pooling adds no copy of the whole stack),
    summed in float64 as emovec sums on the CPU: the agreement column then measures the library's activations,
    not float32 rounding of sums over hundreds of tokens.
    """
    keep = mask.bool().clone()
    keep[:, :SKIP] = False
    weights = keep.double()[:, None, :]  # [B, 1, T]
    counts = weights.sum(dim=2).clamp(min=1)  # [B, 1]
    return torch.stack([torch.bmm(weights, h.double()).squeeze(1) / counts for h in hidden], dim=1).float()


def library_method(
    name: str, module: str, plan: Plan, make_collect: Callable[[], Collect], means: np.ndarray
) -> Method | Row:
    """An interpretability library that returns every layer's hidden states; pooled in torch into ``means``."""
    if importlib.util.find_spec(module) is None:
        return Row(name, None, note="skipped (not installed; `make bench-libs` runs it)")
    try:
        collect = make_collect()
    except NotImplementedError as err:  # a model the library cannot wrap, said in one line
        return Row(name, None, note=f"not run: {err}")
    except Exception as err:  # a best-effort comparison must not end the benchmark
        return Row(name, None, note=failure(err))

    def step(i: int) -> tuple[int, int]:
        input_ids, mask = plan.padded[i]
        means[plan.batches[i]] = pool_torch(collect(input_ids, mask), mask).numpy()
        return int(mask.sum()), int(input_ids.numel())

    steps = [lambda i=i: step(i) for i in range(len(plan.padded))]
    return Method(name, steps, lambda: step(plan.smallest()), fragile=True)


def nnsight_collect(loaded) -> Collect:
    """All residual-stream layers of one batch via nnsight's ``tracer.cache`` (input of block 0, every output)."""
    from nnsight import NNsight

    wrapped = NNsight(copy.deepcopy(loaded.model))
    blocks = wrapped
    for part in loaded.blocks_path.split("."):
        blocks = getattr(blocks, part)
    modules = [blocks[i] for i in range(loaded.n_blocks)]
    extra = forward_kwargs(loaded)

    def tensor(value):
        return value[0] if isinstance(value, (tuple, list)) else value

    def collect(input_ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        with torch.inference_mode(), wrapped.trace(input_ids=input_ids, attention_mask=mask, **extra) as tracer:
            cache = tracer.cache(modules=modules, include_inputs=True)
            modules[-1].output  # wait for the last block, then skip the final norm and the head  # noqa: B018
            tracer.stop()
        entries = [cache[path] for path in cache.keys()]  # noqa: SIM118 (a CacheView, not a dict)
        if len(entries) != loaded.n_blocks:
            raise RuntimeError(f"nnsight cached {len(entries)} blocks, expected {loaded.n_blocks}")
        return [tensor(entries[0].input)] + [tensor(entry.output) for entry in entries]

    return collect


def transformer_lens_collect(model: ModelUnderTest) -> Collect:
    """All residual-stream layers via TransformerLens's ``TransformerBridge.run_with_cache`` (raw HF weights)."""
    from transformer_lens.model_bridge import TransformerBridge

    loaded = model.loaded
    if type(loaded.model).__name__ == "BertModel":
        raise NotImplementedError(BERT_NOTE)
    bridge = TransformerBridge.boot_transformers(
        str(model.path), hf_model=copy.deepcopy(loaded.model), tokenizer=copy.deepcopy(loaded.tokenizer),
        device="cpu",
    )  # fmt: skip
    names = ["blocks.0.hook_in"] + [f"blocks.{i}.hook_out" for i in range(loaded.n_blocks)]

    def collect(input_ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        with torch.inference_mode():
            _, cache = bridge.run_with_cache(input_ids, attention_mask=mask, return_type=None, names_filter=names)
        return [cache[name] for name in names]

    return collect


def bench_model(model: ModelUnderTest, corpus, batch_size: int) -> str:
    """Interleave the bare forward, emovec's engine and each installed library on one model."""
    import emovec

    loaded = model.loaded
    plan = plan_like_emovec(loaded, emovec.read_corpus(corpus).texts, batch_size)
    header = model_header(model, plan, batch_size)
    print(header, flush=True)
    shape = (len(plan.ids), loaded.n_blocks + 1, loaded.hidden_size)
    emovec_means = np.full(shape, np.nan, np.float32)
    methods: list[Method] = [bare_method(loaded, plan), emovec_method(loaded, plan, emovec_means)]
    library_means: dict[str, np.ndarray] = {}
    skipped: list[Row] = []
    for name, module, make in (
        ("nnsight", "nnsight", lambda: nnsight_collect(loaded)),
        ("TransformerLens", "transformer_lens", lambda: transformer_lens_collect(model)),
    ):
        library_means[name] = np.full(shape, np.nan, np.float32)
        made = library_method(name, module, plan, make, library_means[name])
        (methods if isinstance(made, Method) else skipped).append(made)
    run_interleaved(loaded, methods)

    big = largest(plan)
    peaks: dict[str, float | None] = {}
    for method in methods:
        if not method.error:
            try:
                peaks[method.name] = peak_rss_growth(method.steps[big])
            except Exception as err:
                if not method.fragile:
                    raise
                method.error = failure(err)

    rows = [m.row() for m in methods] + skipped
    peak_column, diff_column = [], []
    for row in rows:
        peak = peaks.get(row.method) if row.seconds is not None else None
        peak_column.append("-" if peak is None else f"{peak:,.0f}")
        if row.seconds is None or row.method == methods[0].name:
            diff_column.append("-")
        elif row.method == methods[1].name:
            diff_column.append("(reference)")
        else:
            diff_column.append(f"{max_diff(library_means[row.method], emovec_means):.2e}")
    report = with_columns(
        table(rows, methods[0].row()), {"peak RSS growth MiB": peak_column, "max abs diff vs emovec": diff_column}
    )
    input_ids, _ = plan.padded[big]
    footer = (
        f"\npeak RSS growth: on the largest batch ({input_ids.shape[0]} x {input_ids.shape[1]} tokens), once per "
        "method after the timed run; one layer's hidden states for that batch are "
        f"{input_ids.numel() * loaded.hidden_size * 4 / 2**20:.1f} MiB in float32\n"
        f"max abs diff: over all {len(plan.ids)} stories x {loaded.n_blocks + 1} layers x {loaded.hidden_size}; "
        f"the largest |value| among emovec's means is {np.nanmax(np.abs(emovec_means)):.3g}\n"
        "other CPU: cores kept busy by other processes during the timing (0 = quiet machine)\n"
    )
    print("\n" + report + "\n" + footer, flush=True)
    return header + "\n" + report + "\n" + footer


def main(argv: list[str] | None = None) -> None:
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    versions = [f"{module} {version(module.replace('_', '-'))}" for module in ("nnsight", "transformer_lens")
                if importlib.util.find_spec(module) is not None]  # fmt: skip
    print(f"libraries: {', '.join(versions) or 'none installed'}", flush=True)
    sections = []
    with session(args) as (work, corpus):
        for name in model_names(args):
            model = load_under_test(name, work)
            sections.append(bench_model(model, corpus, args.batch_size))
            del model
    print("=" * 100 + "\n\n" + "\n\n".join(sections), flush=True)


if __name__ == "__main__":
    main()
