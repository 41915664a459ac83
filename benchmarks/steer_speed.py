"""Benchmark: steered generation tokens/s next to plain ``generate`` on the same prompts and batches.

For each model, on emovec's 12 bundled neutral prompts (chat format, left-padded batches, greedy, exactly
``--new-tokens`` tokens per reply), interleaved batch by batch:

1. **plain generate** (the baseline; the issue's target is steering >= 0.95x);
2. **emovec steering**, one layer and five layers, response phase (``emovec.steering.generation.generate``);
3. **steering-vectors** (the library's ``SteeringVector.apply`` on the same layers and vector), when it is
   installed (``pip install steering-vectors``); it steers every position.

Run from the repository root: ``.venv/bin/python benchmarks/steer_speed.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import numpy as np
import torch
from harness import Method, Row, base_parser, interleave, load_under_test, model_names, session, table


def prompt_batches(loaded, batch_size: int, repeat: int):
    from emovec.extraction.engine import pad_batch
    from emovec.steering.generation import prepare_prompt
    from emovec.steering.sweep import bundled_prompts

    prompts = [prepare_prompt(loaded.tokenizer, p) for p in bundled_prompts() * repeat]
    batches = [prompts[i : i + batch_size] for i in range(0, len(prompts), batch_size)]
    padded = [pad_batch([p.ids for p in b], loaded.pad_token_id, "left", loaded.device) for b in batches]
    return batches, padded


def plain_method(loaded, padded, new_tokens: int) -> Method:
    def step(i: int) -> tuple[int, int]:
        ids, mask = padded[i]
        with torch.inference_mode():
            loaded.model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=new_tokens,
                                  min_new_tokens=new_tokens, pad_token_id=loaded.pad_token_id)  # fmt: skip
        return ids.shape[0] * new_tokens, ids.shape[0] * new_tokens

    return Method("plain generate (baseline)", [lambda i=i: step(i) for i in range(len(padded))], lambda: step(0))


def emovec_method(loaded, batches, new_tokens: int, layers: list[int], vector: np.ndarray) -> Method:
    from emovec.steering.generation import generate

    def step(i: int) -> tuple[int, int]:
        additions = np.tile(vector[None, None], (len(batches[i]), len(layers), 1))
        generate(loaded, batches[i], additions, layers, max_new_tokens=new_tokens, batch_size=len(batches[i]),
                 progress=False, min_new_tokens=new_tokens)  # fmt: skip
        return len(batches[i]) * new_tokens, len(batches[i]) * new_tokens

    return Method(f"emovec steering ({len(layers)} layer{'s' * (len(layers) > 1)}, response)",
                  [lambda i=i: step(i) for i in range(len(batches))], lambda: step(0))  # fmt: skip


def library_method(loaded, padded, new_tokens: int, layers: list[int], vector: np.ndarray) -> Method:
    def build():
        from steering_vectors import SteeringVector

        tensor = torch.as_tensor(vector, dtype=loaded.dtype)
        return SteeringVector({k - 1: tensor for k in layers}, "decoder_block")  # emovec layer k = block k-1 out

    state: dict = {}

    def step(i: int) -> tuple[int, int]:
        state.setdefault("vector", build())
        ids, mask = padded[i]
        with torch.inference_mode(), state["vector"].apply(loaded.model):
            loaded.model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=new_tokens,
                                  min_new_tokens=new_tokens, pad_token_id=loaded.pad_token_id)  # fmt: skip
        return ids.shape[0] * new_tokens, ids.shape[0] * new_tokens

    return Method(f"steering-vectors ({len(layers)} layers, all positions)",
                  [lambda i=i: step(i) for i in range(len(padded))], lambda: step(0), fragile=True)  # fmt: skip


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens generated per reply (default 32)")
    parser.add_argument("--repeat", type=int, default=2, help="times the 12 prompts are used (default 2)")
    args = parser.parse_args()
    new_tokens = 4 if args.quick else args.new_tokens
    with session(args) as (work, _corpus):
        for name in model_names(args):
            if name == "minilm":
                continue  # an encoder does not generate
            model = load_under_test(name, work)
            loaded = model.loaded
            batches, padded = prompt_batches(loaded, args.batch_size, 1 if args.quick else args.repeat)
            rng = np.random.default_rng(0)
            vector = rng.normal(size=loaded.hidden_size)
            vector *= 0.05 * 20 / np.linalg.norm(vector)
            middle = round(0.6 * loaded.n_blocks)
            print(f"### {name}: {loaded.n_blocks} blocks x d={loaded.hidden_size}; {sum(len(b) for b in batches)} "
                  f"prompts, batch size {args.batch_size}, {new_tokens} new tokens each, greedy\n", flush=True)
            five = list(range(middle - 2, middle + 3))
            methods = [plain_method(loaded, padded, new_tokens),
                       emovec_method(loaded, batches, new_tokens, [middle], vector),
                       emovec_method(loaded, batches, new_tokens, five, vector),
                       library_method(loaded, padded, new_tokens, five, vector)]  # fmt: skip
            interleave(methods)
            rows: list[Row] = [m.row() for m in methods]
            rows[0].is_reference = True
            print("\n" + table(rows, rows[0]).replace("real tok/s", "generated tok/s") + "\n", flush=True)


if __name__ == "__main__":
    main()
