"""The extraction engine: forward passes with pooling inside the hooks, one layer at a time.

Memory holds one layer's activations for one batch at a time, never all layers x all tokens; the forward
pass stops after the last requested layer, so later blocks and the LM head are never computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from emovec.extraction.pooling import accumulate_dtype, pooled_sums, pooling_mask, position_ids
from emovec.models.hooks import layer_hooks, run_forward
from emovec.models.loaded import LoadedModel


@dataclass(frozen=True)
class PooledBatch:
    """Pooled means for one batch of stories."""

    rows: np.ndarray  # [b] story indices
    means: np.ndarray  # [b, L, d] float32; NaN where no token was counted
    counted: np.ndarray  # [b] tokens at positions >= skip that entered each mean
    norms: np.ndarray  # [b, L] float32 mean L2 norm of those tokens' residual vectors; NaN where none
    padded_tokens: int  # tokens the model processed, padding included


@contextmanager
def _single_thread_on_cpu(device: torch.device) -> Iterator[None]:
    """Run the small pooling ops on one CPU thread: split over threads they stall whenever another process takes
    a core (measured in benchmarks/RESULTS.md: 5-10x slower under load, no gain when quiet)."""
    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def pad_batch(ids: list[list[int]], pad_id: int, side: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token id lists to one tensor on the ``left`` or ``right``; returns ids and attention mask."""
    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        span = slice(width - len(row), width) if side == "left" else slice(0, len(row))
        input_ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return input_ids.to(device), mask.to(device)


def pool_batches(
    loaded: LoadedModel,
    ids: list[list[int]],
    batches: Iterable[np.ndarray],
    layers: list[int],
    skip: int,
    padding_side: str = "right",
    accumulate: str = "auto",
) -> Iterator[PooledBatch]:
    """Yield pooled means per batch: for each story, the mean of each layer over tokens ``>= skip``.

    Sums accumulate on the model's device (float64 on CPU, float32 on accelerators, see
    :func:`~emovec.extraction.pooling.accumulate_dtype`) and cross to the host once per batch.
    """
    slot = {layer: i for i, layer in enumerate(layers)}
    device = loaded.device
    dtype = accumulate_dtype(device, accumulate)
    for rows in batches:
        input_ids, attention_mask = pad_batch([ids[r] for r in rows], loaded.pad_token_id, padding_side, device)
        keep = pooling_mask(attention_mask, skip)
        sums = torch.zeros((len(rows), len(layers), loaded.hidden_size), dtype=dtype, device=device)
        norm_sums = torch.zeros((len(rows), len(layers)), dtype=dtype, device=device)
        keeps = {device: keep}  # the mask on each device a layer lives on (several under a device map)

        def record(layer: int, hidden: torch.Tensor, keep=keep, keeps=keeps, sums=sums, norm_sums=norm_sums) -> None:
            mask = keeps.get(hidden.device)
            if mask is None:
                mask = keeps[hidden.device] = keep.to(hidden.device)
            with _single_thread_on_cpu(hidden.device):
                vectors, norms = pooled_sums(hidden, mask, dtype)
            sums[:, slot[layer]] = vectors.to(device)
            norm_sums[:, slot[layer]] = norms.to(device)

        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if loaded.accepts_position_ids:
            inputs["position_ids"] = position_ids(attention_mask)
        with layer_hooks(loaded, layers, record):
            run_forward(loaded, **inputs)
        counted = keep.sum(dim=1).to(dtype)
        means = sums / counted.clamp(min=1).view(-1, 1, 1)
        norms = norm_sums / counted.clamp(min=1).view(-1, 1)
        means, norms, counted = (t.cpu() for t in (means, norms, counted))  # the batch's one trip to the host
        means[counted == 0] = float("nan")
        norms[counted == 0] = float("nan")
        yield PooledBatch(
            rows=np.asarray(rows),
            means=means.to(torch.float32).numpy(),
            counted=counted.to(torch.int64).numpy(),
            norms=norms.to(torch.float32).numpy(),
            padded_tokens=int(input_ids.numel()),
        )
