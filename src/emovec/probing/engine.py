"""The probing engine: forward passes whose hooks centre each layer's residual stream and score it at once.

For each requested layer ``k`` a hook computes, on the device, ``c = h - mu_k`` (``mu_k`` the reference mean)
and its dot products with the unit emotion vectors ``c . v_e / |v_e|``, plus ``|c|``: per token (``tokens``),
at one position per row (``last``, ``reply-start``), or for the mean activation over the row's non-special
tokens (``mean``). Batches are sorted by length, each row keeps its own positions whatever the padding side,
and the forward pass stops after the last requested layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from emovec.extraction.batching import plan_batches
from emovec.extraction.engine import pad_batch
from emovec.extraction.pooling import position_ids
from emovec.models.hooks import layer_hooks, run_forward
from emovec.models.loaded import LoadedModel
from emovec.probing.texts import ProbeTexts


@dataclass(frozen=True)
class RawScores:
    """Dot products with the unit vectors and norms of the centred activations, per layer slot.

    ``tokens``: ``dots[slot][i]`` is [T_i, E] and ``norms[slot][i]`` [T_i]; otherwise ``dots[slot]`` is
    [n, E] and ``norms[slot]`` [n].
    """

    dots: list
    norms: list
    positions: str


def read_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last real token, for left or right padding."""
    width = attention_mask.shape[1]
    index = torch.arange(width, device=attention_mask.device).expand_as(attention_mask)
    return torch.where(attention_mask.bool(), index, -1).max(dim=1).values


def score_texts(
    loaded: LoadedModel,
    texts: ProbeTexts,
    layers: list[int],
    reference: np.ndarray,
    unit_vectors: np.ndarray,
    positions: str = "tokens",
    batch_size: int = 8,
    padding_side: str = "right",
    advance: Callable[[int, int], None] | None = None,
) -> RawScores:
    """Score every text at ``layers``; ``reference`` is [L, d] and ``unit_vectors`` [E, L, d] (unit rows)."""
    device = loaded.device
    slot = {layer: i for i, layer in enumerate(layers)}
    mu = torch.as_tensor(reference, dtype=torch.float32, device=device)
    units = torch.as_tensor(unit_vectors, dtype=torch.float32, device=device)
    n = len(texts.ids)
    lengths = texts.lengths
    if positions == "tokens":
        dots: list = [[None] * n for _ in layers]
        norms: list = [[None] * n for _ in layers]
    else:
        dots = [np.zeros((n, units.shape[0]), dtype=np.float32) for _ in layers]
        norms = [np.zeros(n, dtype=np.float32) for _ in layers]
    for rows in plan_batches(np.arange(n), lengths, batch_size=batch_size):
        input_ids, attention_mask = pad_batch([texts.ids[r] for r in rows], loaded.pad_token_id, padding_side, device)
        real = attention_mask.bool()
        special = torch.zeros_like(real)
        for b, r in enumerate(rows):
            span = _span(len(texts.ids[r]), input_ids.shape[1], padding_side)
            special[b, span] = torch.as_tensor(texts.special[r], device=device)
        pooled = real & ~special
        pooled = torch.where(pooled.any(dim=1, keepdim=True), pooled, real)  # a text of special tokens only
        last = read_positions(attention_mask)

        def record(layer: int, hidden: torch.Tensor, rows=rows, real=real, pooled=pooled, last=last) -> None:
            k = slot[layer]
            h = hidden.to(torch.float32)
            if positions == "tokens":
                centred = h - mu[k]
                d = centred @ units[:, k].T  # [B, T, E]
                norm = centred.norm(dim=-1)
                for b, r in enumerate(rows):
                    keep = real[b]
                    dots[k][r] = d[b, keep].cpu().numpy()
                    norms[k][r] = norm[b, keep].cpu().numpy()
                return
            if positions == "mean":
                weights = pooled.to(h.dtype).unsqueeze(-1)
                vector = (h * weights).sum(dim=1) / weights.sum(dim=1)
            else:  # last, reply-start: the row's last real token
                vector = h[torch.arange(h.shape[0], device=h.device), last]
            centred = vector - mu[k]
            dots[k][rows] = (centred @ units[:, k].T).cpu().numpy()
            norms[k][rows] = centred.norm(dim=-1).cpu().numpy()

        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if loaded.accepts_position_ids:
            inputs["position_ids"] = position_ids(attention_mask)
        with layer_hooks(loaded, layers, record):
            run_forward(loaded, **inputs)
        if advance is not None:
            advance(len(rows), int(lengths[rows].sum()))
    return RawScores(dots=dots, norms=norms, positions=positions)


def _span(length: int, width: int, side: str) -> slice:
    return slice(width - length, width) if side == "left" else slice(0, length)
