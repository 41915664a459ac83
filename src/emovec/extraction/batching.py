"""Length-bucketed batches and the shard plan that makes extraction resumable.

Stories are sorted by token length (longest first, ties by corpus order), cut into shards of a fixed
number of stories, and each shard into batches of similar length, so padding stays small. The plan is a
pure function of the lengths and settings, so an interrupted run rebuilds the same shards.
"""

from __future__ import annotations

import numpy as np

from emovec.errors import EmovecError


def length_order(lengths: np.ndarray) -> np.ndarray:
    """Story indices, longest first; equal lengths keep corpus order."""
    return np.lexsort((np.arange(len(lengths)), -np.asarray(lengths)))


def plan_shards(lengths: np.ndarray, shard_size: int) -> list[np.ndarray]:
    """Split the length order into consecutive shards of at most ``shard_size`` stories."""
    if shard_size < 1:
        raise EmovecError(f"shard size must be at least 1, got {shard_size}")
    order = length_order(lengths)
    return [order[start : start + shard_size] for start in range(0, len(order), shard_size)]


def plan_batches(
    rows: np.ndarray, lengths: np.ndarray, batch_size: int | None = None, max_batch_tokens: int | None = None
) -> list[np.ndarray]:
    """Cut length-sorted ``rows`` into batches of ``batch_size`` rows or at most ``max_batch_tokens`` padded tokens."""
    if (batch_size is None) == (max_batch_tokens is None):
        raise EmovecError("give exactly one of batch size and max batch tokens")
    if batch_size is not None and batch_size < 1:
        raise EmovecError(f"batch size must be at least 1, got {batch_size}")
    if max_batch_tokens is not None and max_batch_tokens < 1:
        raise EmovecError(f"max batch tokens must be at least 1, got {max_batch_tokens}")
    rows = rows[length_order(lengths[rows])]
    batches: list[np.ndarray] = []
    current: list[int] = []
    for row in rows:
        if current:
            longest = int(lengths[current[0]])  # rows are sorted longest first
            if batch_size is not None:
                full = len(current) >= batch_size
            else:
                full = (len(current) + 1) * longest > max_batch_tokens
            if full:
                batches.append(np.array(current, dtype=np.int64))
                current = []
        current.append(int(row))
    if current:
        batches.append(np.array(current, dtype=np.int64))
    return batches
