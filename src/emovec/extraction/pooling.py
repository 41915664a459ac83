"""Per-row token masks and pooled sums: the padding arithmetic, in one tested place.

Positions are counted per row from the row's first real token, so the same tokens are kept whether the
batch is padded on the left or the right and whatever the batch size.
"""

from __future__ import annotations

import torch


def positions_from_first_real(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position of each token counted from its row's first real token (padding gets -1 or a repeat)."""
    mask = attention_mask.long()
    return torch.where(mask.bool(), mask.cumsum(dim=1) - 1, torch.full_like(mask, -1))


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token (valid under left padding)."""
    return positions_from_first_real(attention_mask).clamp(min=0)


def pooling_mask(attention_mask: torch.Tensor, skip: int) -> torch.Tensor:
    """True for real tokens at position ``>= skip`` from the row's first real token."""
    return positions_from_first_real(attention_mask) >= skip


ACCUMULATE = {"float64": torch.float64, "float32": torch.float32}


def accumulate_dtype(device: torch.device, setting: str = "auto") -> torch.dtype:
    """Float64 on CPU, float32 on accelerators (fast there; MPS has no float64), unless ``setting`` names one."""
    if setting != "auto":
        return ACCUMULATE[setting]
    return torch.float64 if device.type == "cpu" else torch.float32


def pooled_sums(
    hidden: torch.Tensor, keep: torch.Tensor, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums over kept tokens in ``dtype``: of the vectors [B, d] and of their L2 norms [B].

    Masked positions are replaced (not multiplied) by zero, so NaN or inf in padding cannot leak in.
    """
    kept = torch.where(keep.unsqueeze(-1), hidden, torch.zeros((), dtype=hidden.dtype, device=hidden.device))
    kept = kept.to(dtype)
    return kept.sum(dim=1), torch.linalg.vector_norm(kept, dim=-1).sum(dim=1)
