"""The padding arithmetic and batch planning, checked against hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emovec.errors import EmovecError
from emovec.extraction.batching import length_order, plan_batches, plan_shards
from emovec.extraction.pooling import pooled_sums, pooling_mask, position_ids, positions_from_first_real


def test_positions_count_from_each_rows_first_real_token():
    right = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    expected_real = [0, 1, 2, 3]
    assert positions_from_first_real(right)[0, :4].tolist() == expected_real
    assert positions_from_first_real(left)[0, 2:].tolist() == expected_real
    assert positions_from_first_real(left)[0, :2].tolist() == [-1, -1]
    assert position_ids(left)[0].tolist() == [0, 0, 0, 1, 2, 3]


@pytest.mark.parametrize("skip", [0, 1, 2, 4, 10])
def test_pooling_mask_keeps_the_same_tokens_under_left_and_right_padding(skip):
    lengths = [4, 6, 1]
    width = 6
    right = torch.tensor([[1] * n + [0] * (width - n) for n in lengths])
    left = torch.tensor([[0] * (width - n) + [1] * n for n in lengths])
    for mask in (right, left):
        keep = pooling_mask(mask, skip)
        assert keep.sum(dim=1).tolist() == [max(0, n - skip) for n in lengths]
    # the kept tokens are the same story tokens, only shifted by the padding
    for row, n in enumerate(lengths):
        kept_right = torch.nonzero(pooling_mask(right, skip)[row]).flatten().tolist()
        kept_left = torch.nonzero(pooling_mask(left, skip)[row]).flatten().tolist()
        assert [i - (width - n) for i in kept_left] == kept_right == list(range(skip, n))


def test_pooled_sums_ignore_nan_in_padding_and_use_float64():
    hidden = torch.randn(2, 5, 3, dtype=torch.float32)
    hidden[0, 3:] = float("nan")  # garbage in padding must not leak
    keep = torch.tensor([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], dtype=torch.bool)
    sums, norm_sums = pooled_sums(hidden, keep)
    assert sums.dtype == norm_sums.dtype == torch.float64
    kept = [hidden[0, :3].double().numpy(), hidden[1, 1:].double().numpy()]
    np.testing.assert_allclose(sums.numpy(), np.stack([k.sum(0) for k in kept]), rtol=1e-12)
    np.testing.assert_allclose(norm_sums.numpy(), [np.linalg.norm(k, axis=1).sum() for k in kept], rtol=1e-12)


def test_length_order_is_longest_first_and_stable():
    assert length_order(np.array([3, 5, 3, 9, 5])).tolist() == [3, 1, 4, 0, 2]


def test_batches_cover_every_row_once_and_respect_limits():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 300, size=257)
    rows = np.arange(len(lengths))
    for kwargs in ({"batch_size": 8}, {"max_batch_tokens": 1024}):
        batches = plan_batches(rows, lengths, **kwargs)
        assert sorted(np.concatenate(batches).tolist()) == rows.tolist()
        for batch in batches:
            if "batch_size" in kwargs:
                assert len(batch) <= 8
            else:
                assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 1024
    padded = sum(len(b) * lengths[b].max() for b in plan_batches(rows, lengths, batch_size=8))
    assert padded / lengths.sum() <= 1.05  # length bucketing keeps padding small


def test_shards_partition_the_length_order():
    lengths = np.array([5, 1, 7, 3, 3, 9, 2])
    shards = plan_shards(lengths, 3)
    assert [len(s) for s in shards] == [3, 3, 1]
    assert np.concatenate(shards).tolist() == length_order(lengths).tolist()


@pytest.mark.parametrize(
    "kwargs", [{}, {"batch_size": 2, "max_batch_tokens": 10}, {"batch_size": 0}, {"max_batch_tokens": 0}]
)
def test_bad_batching_is_rejected(kwargs):
    with pytest.raises(EmovecError):
        plan_batches(np.arange(3), np.array([1, 2, 3]), **kwargs)
