"""Benchmark: emovec's extraction next to the interpretability libraries researchers would use instead.

**nnsight** (``NNsight(model).trace``, saving the input of block 0 and every block's output) and
**TransformerLens** (``run_with_cache`` on ``blocks.0.hook_resid_pre`` and every ``hook_resid_post``) run
interleaved with the bare forward and emovec's engine on the same batches, each pooled afterwards in torch
(mean over real tokens at positions >= 50). A library that is not installed is reported as skipped; one that
fails on a model is reported with its error, never ending the run.

Run from the repository root: ``.venv/bin/python benchmarks/extract_libraries.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

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
    load_under_test,
    model_header,
    model_names,
    plan_like_emovec,
    run_interleaved,
    session,
    table,
)

Collect = Callable[[torch.Tensor, torch.Tensor], list[torch.Tensor]]  # (ids, mask) -> hidden state per layer


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
        return Row(name, None, note=failure(err))

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


def bench_model(model: ModelUnderTest, corpus, batch_size: int) -> str:
    """Interleave the bare forward, emovec's engine and each installed library on one model."""
    import emovec

    loaded = model.loaded
    plan = plan_like_emovec(loaded, emovec.read_corpus(corpus).texts, batch_size)
    header = model_header(model, plan, batch_size)
    print(header, flush=True)
    means = np.full((len(plan.ids), loaded.n_blocks + 1, loaded.hidden_size), np.nan, np.float32)
    methods: list[Method] = [bare_method(loaded, plan), emovec_method(loaded, plan, means)]
    skipped: list[Row] = []
    for name, module, make in (
        ("nnsight", "nnsight", lambda: nnsight_collect(loaded)),
        ("TransformerLens", "transformer_lens", lambda: transformer_lens_collect(model)),
    ):
        made = library_method(name, module, plan, make)
        (methods if isinstance(made, Method) else skipped).append(made)
    run_interleaved(loaded, methods)
    rows = [m.row() for m in methods] + skipped
    print("\n" + table(rows, methods[0].row()), flush=True)
    return header + "\n" + table(rows, methods[0].row()) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = base_parser(__doc__.splitlines()[0]).parse_args(argv)
    sections = []
    with session(args) as (work, corpus):
        for name in model_names(args):
            model = load_under_test(name, work)
            sections.append(bench_model(model, corpus, args.batch_size))
            del model
    print("=" * 100 + "\n\n" + "\n\n".join(sections), flush=True)


if __name__ == "__main__":
    main()
