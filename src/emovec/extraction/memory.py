"""Batch size from free device memory: the default ``max_batch_tokens`` on an accelerator.

A forward pass without gradients or KV cache holds, per token, about one block's working set at a time:
the residual stream, q/k/v/o, the MLP's intermediate activations, the attention row and the pooling copy.
Half the free memory after the weights are loaded goes to one batch.
"""

from __future__ import annotations

import torch

MEMORY_FRACTION = 0.5
MAX_BATCH_TOKENS = 1 << 20


def token_bytes(hidden_size: int, intermediate_size: int, n_heads: int, max_length: int, dtype_bytes: int) -> int:
    """Peak bytes one token costs inside a block (activations in the model dtype, pooling in float32)."""
    block = (6 * hidden_size + 3 * intermediate_size) * dtype_bytes
    attention = n_heads * max_length * 4  # a row of attention scores, if the kernel materialises it
    pooling = 2 * hidden_size * 4
    return block + attention + pooling


def batch_tokens_for(free_bytes: int, per_token: int, max_length: int, fraction: float = MEMORY_FRACTION) -> int:
    """Padded tokens per batch that fit ``fraction`` of ``free_bytes``; at least one full-length story."""
    tokens = int(free_bytes * fraction // max(per_token, 1))
    return int(min(max(tokens, max_length), MAX_BATCH_TOKENS))


def free_bytes(device: torch.device) -> int | None:
    """Free memory on a CUDA device (None on CPU and MPS, where batches keep their fixed default)."""
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def default_batch_tokens(loaded, max_length: int) -> tuple[int, int] | None:
    """``(max_batch_tokens, free bytes)`` for ``loaded`` on a CUDA device, or None elsewhere."""
    free = free_bytes(loaded.device)
    if free is None:
        return None
    config = loaded.model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    d = loaded.hidden_size
    per_token = token_bytes(
        d,
        int(getattr(text, "intermediate_size", None) or 4 * d),
        int(getattr(text, "num_attention_heads", None) or 1),
        max_length,
        torch.finfo(loaded.dtype).bits // 8,
    )
    return batch_tokens_for(free, per_token, max_length), free
