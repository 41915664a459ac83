"""``steering``: add vectors to the residual stream at chosen layers and positions, inside a ``with`` block.

Which positions are steered (``phase``), counted in the padded sequence that ``generate`` builds:

- ``prompt``: every real (non-padding) prompt token, the prompt's last token included; generated tokens never.
- ``response``: the prompt's last token (its logits choose the first generated token, so steering it is what
  changes that token) and every generated token after it; nothing else of the prompt.
- ``all``: both.
- ``token_mask`` (a [rows, prompt length] bool array): exactly those prompt tokens (e.g. an activity's
  character span, mapped to tokens); generated tokens never.

A model-level pre-hook reads each forward pass's offset in the sequence (``cache_position``, else the KV
cache's length before the pass, else 0): a pass at offset 0 is the prompt (its attention mask says which
tokens are padding); later passes under the KV cache are one token each at offset ``prompt length + i``.
A plain forward pass
without ``generate`` is a prompt: ``prompt`` steers all its real tokens, ``response`` only its last.
On exit every hook is removed, also after an exception, so the model is exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from emovec.errors import EmovecError, SettingError
from emovec.models.blocks import block_input, block_output, replace_block_input, with_hidden
from emovec.models.layers import parse_layer_spec
from emovec.models.loaded import LoadedModel
from emovec.steering.strengths import added_vectors, check_steerable, warn_if_large
from emovec.vectors.emotion_vectors import EmotionVectors

PHASES = ("prompt", "response", "all")
DEFAULT_DEPTH = 0.66


def steering_layers(vectors: EmotionVectors, layers: str | list[int] | None, n_blocks: int) -> list[int]:
    """Resolve a layer spec (``0.66``, ``12,14``; ``14-18``: the vectors' layers in that range; ``all``: every
    vector layer >= 1); default: the vectors' layer nearest 2/3 of the depth."""
    if layers is None:
        target = DEFAULT_DEPTH * n_blocks
        return [min([k for k in vectors.layers if k >= 1] or vectors.layers, key=lambda k: abs(k - target))]
    if isinstance(layers, str):
        text = layers.strip().lower()
        if text == "all":
            return [k for k in vectors.layers if k >= 1]
        if "-" in text and not text.startswith("-") and "," not in text:
            lo, _, hi = text.partition("-")
            try:
                first, last = int(lo), int(hi)
            except ValueError:
                raise SettingError("layers", f"{layers!r}: a range is FIRST-LAST, e.g. 14-18") from None
            if first > last:
                raise SettingError("layers", f"{layers!r}: FIRST must not exceed LAST")
            inside = [k for k in vectors.layers if first <= k <= last]
            if not inside:
                raise SettingError("layers", f"{layers!r}: no vector layer in that range (the vectors have "
                                             f"{', '.join(map(str, vectors.layers))})")  # fmt: skip
            layers = inside
    chosen = parse_layer_spec(layers, n_blocks)
    bad = [k for k in chosen if not 0 <= k <= n_blocks]
    if bad:
        raise SettingError("layers", f"layer(s) {', '.join(map(str, bad))} out of range 0..{n_blocks}")
    return chosen


@dataclass
class _Positions:
    """Which tokens of the current forward pass are steered ([B, T] bool), updated before every pass."""

    phase: str
    token_mask: torch.Tensor | None
    prompt_length: int | None = None
    prompt_real: torch.Tensor | None = None  # [B, P] bool
    current: torch.Tensor | None = None  # [B, T] bool

    def update(self, args: tuple, kwargs: dict) -> None:
        tokens = kwargs.get("input_ids", args[0] if args else None)
        if tokens is None:
            tokens = kwargs.get("inputs_embeds")
        if tokens is None:
            raise EmovecError("steering needs input_ids or inputs_embeds in the forward call")
        rows, width = tokens.shape[0], tokens.shape[1]
        device = tokens.device
        offset = _offset(kwargs)
        mask = kwargs.get("attention_mask")
        if offset == 0 or self.prompt_length is None:
            self.prompt_length = offset + width
            real = torch.ones(rows, width, dtype=torch.bool, device=device)
            if isinstance(mask, torch.Tensor) and mask.ndim == 2:
                real = mask[:, -width:].bool().to(device)
            self.prompt_real = torch.cat([torch.ones(rows, offset, dtype=torch.bool, device=device), real], 1)
        absolute = offset + torch.arange(width, device=device)
        in_prompt = absolute < self.prompt_length
        real = torch.zeros(rows, width, dtype=torch.bool, device=device)
        real[:, in_prompt] = self.prompt_real[:, absolute[in_prompt]]
        steer = torch.zeros_like(real)
        if self.token_mask is not None:
            if self.token_mask.shape != (rows, self.prompt_length):
                raise EmovecError(f"token_mask is {tuple(self.token_mask.shape)}, the prompt batch is "
                                  f"({rows}, {self.prompt_length})")  # fmt: skip
            chosen = self.token_mask.to(device)
            steer[:, in_prompt] = chosen[:, absolute[in_prompt]] & real[:, in_prompt]
        else:
            if self.phase in ("prompt", "all"):
                steer |= real
            if self.phase in ("response", "all"):
                steer |= (absolute >= self.prompt_length).expand(rows, width)
                steer |= (absolute == self.prompt_length - 1).expand(rows, width) & real
        self.current = steer


def _offset(kwargs: dict) -> int:
    position = kwargs.get("cache_position")
    if isinstance(position, torch.Tensor) and position.numel():
        return int(position.reshape(-1)[0])
    cache = kwargs.get("past_key_values", kwargs.get("cache"))  # transformers 5 names it ``cache``
    if cache is not None and hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    if isinstance(cache, (tuple, list)) and cache and cache[0] is not None:
        return int(cache[0][0].shape[-2])
    return 0


@contextmanager
def steering(
    model: LoadedModel,
    vectors: EmotionVectors | None = None,
    strengths: dict[str, float] | list[dict[str, float]] | None = None,
    *,
    layers: str | list[int] | None = None,
    phase: str = "response",
    token_mask: np.ndarray | torch.Tensor | None = None,
    additions: np.ndarray | None = None,
    warn: bool = True,
) -> Iterator[list[int]]:
    """Steer ``model`` inside the block; yields the steered layers.

    ``strengths`` is ``{emotion: strength}`` for every row, or one such dict per row of the batch; the vector
    added at layer k is ``strength * residual_norm[k] * v_k / |v_k|``. ``additions`` gives the added vectors
    directly: [L, d] for every row or [rows, L, d]. No strengths (or all zero) adds nothing.
    """
    if phase not in PHASES:
        raise SettingError("phase", f"{phase!r}: use one of {', '.join(PHASES)}")
    if additions is None and vectors is None:
        raise EmovecError("steering needs vectors and strengths, or additions")
    chosen = steering_layers(vectors, layers, model.n_blocks) if vectors is not None else (
        parse_layer_spec(layers, model.n_blocks) if layers is not None else None)  # fmt: skip
    if chosen is None:
        raise SettingError("layers", "additions need explicit layers")
    if additions is None:
        rows = strengths if isinstance(strengths, list) else [strengths or {}]
        check_steerable(vectors, sorted({e for row in rows for e in row}), chosen)
        additions = np.stack([added_vectors(vectors, row, chosen) for row in rows])
        if warn:
            worst = int(np.argmax([np.linalg.norm(a, axis=1).sum() for a in additions]))
            warn_if_large(vectors, additions[worst], chosen)
    additions = np.asarray(additions, dtype=np.float64)
    if additions.ndim == 2:
        additions = additions[None]
    if additions.shape[1:] != (len(chosen), model.hidden_size):
        raise EmovecError(f"additions are {additions.shape[1:]}, expected ({len(chosen)}, {model.hidden_size})")
    mask = torch.as_tensor(np.asarray(token_mask, dtype=bool)) if token_mask is not None else None
    positions = _Positions(phase, mask)
    handles = [model.model.register_forward_pre_hook(lambda m, a, k: positions.update(a, k), with_kwargs=True)]
    altup = model.altup_index
    deltas = {k: torch.as_tensor(additions[:, i]) for i, k in enumerate(chosen)}
    placed: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = {}

    def steered(layer: int, hidden: torch.Tensor) -> torch.Tensor:
        key = (layer, hidden.device, hidden.dtype)
        if key not in placed:
            placed[key] = deltas[layer].to(device=hidden.device, dtype=hidden.dtype)
        delta = placed[key]
        steer = positions.current
        if steer is None:
            raise EmovecError("steering hooks ran without the model's forward pass; call the model itself")
        if delta.shape[0] not in (1, hidden.shape[0]):
            raise EmovecError(f"steering was set up for {delta.shape[0]} rows, the batch has {hidden.shape[0]} "
                              "(beam search or several return sequences multiply rows)")  # fmt: skip
        return hidden + steer.to(hidden.device).unsqueeze(-1).to(hidden.dtype) * delta.unsqueeze(1)

    if 0 in chosen:

        def pre_hook(module, args, kwargs):
            return replace_block_input(args, kwargs, steered(0, block_input(args, kwargs, altup)), altup)

        handles.append(model.blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True))
    for layer in chosen:
        if layer == 0:
            continue

        def post_hook(module, args, output, layer=layer):
            return with_hidden(output, steered(layer, block_output(output, altup)), altup)

        handles.append(model.blocks[layer - 1].register_forward_hook(post_hook))
    try:
        yield chosen
    finally:
        for handle in handles:
            handle.remove()
