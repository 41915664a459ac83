"""Benchmark: probing throughput next to extraction on the same texts, batches and layers.

For each model, on the synthetic corpus of ``harness.py`` (or ``--corpus FILE``), interleaved batch by batch:

1. **bare forward** (``harness.bare_method``), for scale;
2. **emovec extraction engine** (``pool_batches``) at the probed layers, skip 0 (the baseline of this
   benchmark: the issue's target is probing >= 0.9x extraction);
3. **emovec probing engine** (``score_texts``) at the same layers with 171 random emotion vectors, per
   token (``tokens``: every token's centred cosine with every vector, copied to the host) and per text
   (``mean``).

Run from the repository root: ``.venv/bin/python benchmarks/probe_speed.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import numpy as np
from harness import (
    Method,
    Row,
    bare_method,
    base_parser,
    load_under_test,
    model_header,
    model_names,
    plan_like_emovec,
    run_interleaved,
    session,
    table,
)

N_EMOTIONS = 171


def extraction_method(loaded, plan, layers) -> Method:
    from emovec.extraction.engine import pool_batches

    def step(i: int) -> tuple[int, int]:
        rows = plan.batches[i]
        padded = 0
        for batch in pool_batches(loaded, plan.ids, [rows], layers, 0, "right"):
            padded += batch.padded_tokens
        return int(plan.lengths[rows].sum()), padded

    return Method("emovec extraction (pool_batches)", [lambda i=i: step(i) for i in range(len(plan.batches))],
                  lambda: step(plan.smallest()))  # fmt: skip


def probing_method(loaded, plan, layers, positions: str, batch_size: int) -> Method:
    from emovec.probing.engine import score_texts
    from emovec.probing.texts import ProbeTexts

    rng = np.random.default_rng(0)
    units = rng.normal(size=(N_EMOTIONS, len(layers), loaded.hidden_size))
    units = (units / np.linalg.norm(units, axis=-1, keepdims=True)).astype(np.float32)
    reference = rng.normal(size=(len(layers), loaded.hidden_size))
    specials = set(loaded.tokenizer.all_special_ids)

    def step(i: int) -> tuple[int, int]:
        rows = plan.batches[i]
        ids = [plan.ids[r] for r in rows]
        texts = ProbeTexts(ids=ids, formatted=[""] * len(ids), tokens=[[]] * len(ids), pieces=[[]] * len(ids),
                           offsets=[[]] * len(ids), special=[np.array([t in specials for t in row]) for row in ids],
                           truncated=np.zeros(len(ids), dtype=bool))  # fmt: skip
        score_texts(loaded, texts, layers, reference, units, positions, batch_size=len(ids))
        return int(plan.lengths[rows].sum()), len(ids) * max(len(row) for row in ids)

    return Method(f"emovec probing ({positions}, {N_EMOTIONS} vectors)",
                  [lambda i=i: step(i) for i in range(len(plan.batches))], lambda: step(plan.smallest()))  # fmt: skip


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--layers", default="0.66", help="layer spec probed and extracted (default 0.66)")
    args = parser.parse_args()
    import json

    from emovec.models.layers import parse_layer_spec

    with session(args) as (work, corpus):
        texts = [json.loads(line)["text"] for line in corpus.read_text().splitlines() if line.strip()]
        for name in model_names(args):
            model = load_under_test(name, work)
            loaded = model.loaded
            plan = plan_like_emovec(loaded, texts, args.batch_size)
            layers = parse_layer_spec(args.layers, loaded.n_blocks)
            print(model_header(model, plan, args.batch_size) + f"layers {layers}\n", flush=True)
            methods = [bare_method(loaded, plan), extraction_method(loaded, plan, layers),
                       probing_method(loaded, plan, layers, "tokens", args.batch_size),
                       probing_method(loaded, plan, layers, "mean", args.batch_size)]  # fmt: skip
            run_interleaved(loaded, methods)
            rows: list[Row] = [m.row() for m in methods]
            baseline = rows[1]
            baseline.is_reference = True
            print("\n" + table(rows, baseline) + "\n", flush=True)


if __name__ == "__main__":
    main()
