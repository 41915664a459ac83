"""Teacher-forced log-probabilities of continuations after prefixes, with or without steering.

Each row is ``prefix ids + continuation ids`` (right-padded in length-sorted batches); the log-probability of
the continuation is the sum over its tokens of ``log p(token | everything before it)``. Steering, when given,
adds ``additions[row]`` at ``layers`` on every real token of the row (phase ``all``: the prefix and the
continuation, as generation with ``phase="all"`` would) or only on ``token_masks[row]``.
"""

from __future__ import annotations

import numpy as np
import torch

from emovec.extraction.batching import plan_batches
from emovec.extraction.engine import pad_batch
from emovec.extraction.pooling import position_ids
from emovec.models.loaded import LoadedModel
from emovec.steering.hooks import steering


def continuation_logprobs(
    model: LoadedModel, prefixes: list[list[int]], continuations: list[list[int]], *,
    additions: np.ndarray | None = None, layers: list[int] | None = None,
    token_masks: list[np.ndarray | None] | None = None, batch_size: int = 16, advance=None,
) -> np.ndarray:  # fmt: skip
    """``log p(continuation | prefix)`` [rows] (float64), steered by ``additions`` [rows, L, d] when given."""
    rows = [p + c for p, c in zip(prefixes, continuations)]
    lengths = np.array([len(r) for r in rows])
    out = np.zeros(len(rows))
    for batch in plan_batches(np.arange(len(rows)), lengths, batch_size=batch_size):
        logits = _batch_logits(model, rows, batch, additions, layers, token_masks)
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        for b, r in enumerate(batch):
            start, stop = len(prefixes[r]), len(rows[r])
            targets = torch.as_tensor(rows[r][start:stop], device=logprobs.device)
            picked = logprobs[b, start - 1 : stop - 1].gather(-1, targets.unsqueeze(-1))
            out[r] = float(picked.double().sum())
        if advance is not None:
            advance(len(batch), int(lengths[batch].sum()))
    return out


def next_token_logprobs(
    model: LoadedModel, prefixes: list[list[int]], tokens: list[int], *, additions: np.ndarray | None = None,
    layers: list[int] | None = None, token_masks: list[np.ndarray | None] | None = None, batch_size: int = 16,
    advance=None,
) -> np.ndarray:  # fmt: skip
    """``log p(token | prefix)`` [rows, len(tokens)] at each prefix's last position, steered when given
    ``additions`` [rows, L, d] (on ``token_masks[row]`` where given, else on every token)."""
    lengths = np.array([len(p) for p in prefixes])
    out = np.zeros((len(prefixes), len(tokens)))
    wanted = torch.as_tensor(tokens)
    for batch in plan_batches(np.arange(len(prefixes)), lengths, batch_size=batch_size):
        logits = _batch_logits(model, prefixes, batch, additions, layers, token_masks)
        last = torch.as_tensor(lengths[batch] - 1, device=logits.device)
        rows = logits[torch.arange(len(batch), device=logits.device), last].float()
        out[batch] = torch.log_softmax(rows, dim=-1)[:, wanted.to(rows.device)].double().cpu().numpy()
        if advance is not None:
            advance(len(batch), int(lengths[batch].sum()))
    return out


def _batch_logits(model: LoadedModel, rows: list[list[int]], batch: np.ndarray, additions: np.ndarray | None,
                  layers: list[int] | None, token_masks: list[np.ndarray | None] | None) -> torch.Tensor:  # fmt: skip
    """Logits [B, T, V] of ``rows[batch]`` right-padded; steered on ``token_masks[row]`` (None: every token)."""
    input_ids, mask = pad_batch([rows[r] for r in batch], model.pad_token_id, "right", model.device)
    inputs = {"input_ids": input_ids, "attention_mask": mask}
    if model.accepts_position_ids:
        inputs["position_ids"] = position_ids(mask)
    with torch.inference_mode():
        if additions is None:
            return model.model(**inputs, use_cache=False).logits
        token_mask = None
        if token_masks is not None:
            token_mask = np.ones(input_ids.shape, dtype=bool)
            for b, r in enumerate(batch):
                if token_masks[r] is not None:
                    token_mask[b] = False
                    token_mask[b, : len(token_masks[r])] = token_masks[r]
        with steering(model, additions=additions[batch], layers=layers, phase="all", token_mask=token_mask):
            return model.model(**inputs, use_cache=False).logits
