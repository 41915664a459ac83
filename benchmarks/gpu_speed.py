"""Benchmark (GPU): emovec's extraction vs the bare forward pass of a real-shaped Llama in bfloat16.

A Llama with a real model's shape (``--shape llama-1b``: Llama-3.2-1B, ``llama-8b``: Llama-3-8B; random weights,
which do not change the speed) is built from its config, saved, and loaded by ``emovec.load_model`` in
bfloat16 on the device. Random token batches of 128..512 tokens, batched by emovec's default
``max_batch_tokens`` (from free device memory), run interleaved through

1. **bare forward**: ``model.model(input_ids, attention_mask)`` under ``torch.inference_mode``, no cache;
2. **emovec engine**: ``pool_batches`` at every layer (sums in float32 on the device, one host trip per batch).

Reported: tokens/s of each, the ratio, model FLOP utilisation (2 x non-embedding parameters x tokens/s over the
device's dense bf16 peak, ``--peak-tflops``, 989 for an H100/H200), and how far float32 accumulation on the device
is from a float64 reference on the same batches (max |diff| over max |value|).

Run on a GPU machine from the repository root: ``.venv/bin/python benchmarks/gpu_speed.py --shape llama-8b``.
``--device cpu --shape tiny --stories 8`` is a smoke run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SHAPES = {
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "vocab_size": 512},
    "llama-1b": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
                 "num_key_value_heads": 8, "vocab_size": 128256},
    "llama-8b": {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                 "num_key_value_heads": 8, "vocab_size": 128256},
}  # fmt: skip


def build(shape: str, out: Path, dtype: torch.dtype) -> Path:
    from transformers import AutoModelForCausalLM, LlamaConfig

    from emovec.models.tiny import train_tokenizer

    tok = train_tokenizer("bpe")
    config = LlamaConfig(**SHAPES[shape], max_position_embeddings=4096, pad_token_id=tok.pad_token_id,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama-1b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--stories", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all batches")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense peak of the device in this dtype")
    args = parser.parse_args(argv)

    import emovec
    from emovec.extraction.batching import plan_batches
    from emovec.extraction.engine import pad_batch, pool_batches
    from emovec.extraction.memory import default_batch_tokens

    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[args.dtype]
    with tempfile.TemporaryDirectory(prefix="emovec-gpu-") as tmp:
        folder = build(args.shape, Path(tmp) / args.shape, dtype)
        loaded = emovec.load_model(folder, dtype=args.dtype, device=args.device)
    device = loaded.device
    rng = np.random.default_rng(0)
    vocab = SHAPES[args.shape]["vocab_size"]
    ids = [rng.integers(0, vocab, size=int(n)).tolist() for n in rng.integers(128, 513, size=args.stories)]
    lengths = np.array([len(r) for r in ids])
    sized = default_batch_tokens(loaded, 512)
    tokens_per_batch = sized[0] if sized else 4096
    batches = plan_batches(np.arange(len(ids)), lengths, max_batch_tokens=tokens_per_batch)
    padded = [pad_batch([ids[r] for r in rows], loaded.pad_token_id, "right", device) for rows in batches]
    layers = list(range(loaded.n_blocks + 1))
    base = loaded.model.model
    params = sum(p.numel() for name, p in loaded.model.named_parameters()
                 if "embed" not in name and "lm_head" not in name)  # fmt: skip
    print(f"{args.shape}: {params / 1e9:.2f}B non-embedding parameters, {args.dtype} on {device}, "
          f"{len(ids)} stories, {int(lengths.sum()):,} tokens, {len(batches)} batches of <= {tokens_per_batch:,} "
          f"tokens" + (f" (from {sized[1] / 2**30:.0f} GiB free)" if sized else ""), flush=True)  # fmt: skip

    def bare(i: int) -> None:
        with torch.inference_mode():
            base(input_ids=padded[i][0], attention_mask=padded[i][1], use_cache=False)

    def pooled(i: int, accumulate: str = "auto") -> np.ndarray:
        return next(pool_batches(loaded, ids, [batches[i]], layers, 0, "right", accumulate)).means

    seconds = {"bare": 0.0, "emovec": 0.0}
    bare(0), pooled(0)  # warm-up
    for round_ in range(args.rounds):
        for i in range(len(batches)):
            order = [("bare", bare), ("emovec", pooled)]
            for name, fn in order if (i + round_) % 2 == 0 else order[::-1]:
                sync(device)
                t0 = time.perf_counter()
                fn(i)
                sync(device)
                seconds[name] += time.perf_counter() - t0
    real = int(lengths.sum()) * args.rounds
    processed = sum(int(p[0].numel()) for p in padded) * args.rounds
    rates = {k: real / v for k, v in seconds.items()}
    print("\n| method | tok/s (real) | vs bare | MFU |\n|---|---:|---:|---:|")
    for name in ("bare", "emovec"):
        mfu = 2 * params * (processed / seconds[name]) / (args.peak_tflops * 1e12)
        print(f"| {name} | {rates[name]:,.0f} | {rates[name] / rates['bare']:.3f}x | {100 * mfu:.1f}% |")
    narrow = np.concatenate([pooled(i, "float32") for i in range(min(4, len(batches)))])
    wide = np.concatenate([pooled(i, "float64") for i in range(min(4, len(batches)))])
    print(f"\nfloat32 vs float64 accumulation on {device}: max |diff| {np.abs(narrow - wide).max():.3g}, "
          f"relative to max |value| {np.abs(narrow - wide).max() / np.abs(wide).max():.3g}", flush=True)


if __name__ == "__main__":
    main()
