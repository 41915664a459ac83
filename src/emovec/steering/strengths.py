"""Strengths and the vectors they add, in units of each layer's mean residual-stream norm.

The vector added at layer ``k`` for ``{emotion: s}`` is ``s * residual_norm[k] * v_k / |v_k|`` (summed over the
emotions given). Steering several layers adds the same strength at each: the additions accumulate in the
residual stream, so ``total_added_norm`` (the sum over steered layers of the added norms) is compared with the
residual norm of the last steered layer and a warning is given when it is larger.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from emovec.errors import EmovecError, SettingError
from emovec.vectors.emotion_vectors import EmotionVectors

_RANGE = re.compile(r"^\s*(-?[\d.eE+-]+)\s*:\s*(-?[\d.eE+-]+)\s*:\s*([\d.eE+-]+)\s*$")


def parse_strengths(text: str, flag: str = "strength") -> list[float]:
    """``0.1``, a list ``-0.1,0,0.1`` or a range ``START:STOP:STEP`` (STOP included) as floats."""
    text = str(text).strip()
    match = _RANGE.match(text)
    try:
        if match:
            start, stop, step = (float(g) for g in match.groups())
            if not step > 0 or not all(math.isfinite(x) for x in (start, stop, step)) or stop < start:
                raise SettingError(flag, f"{text!r}: a range is START:STOP:STEP with STOP >= START and STEP > 0")
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            if count > 1000:
                raise SettingError(flag, f"{text!r}: {count} strengths; at most 1000")
            values = [round(start + i * step, 12) for i in range(count)]
        else:
            values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SettingError(flag, f"{text!r} is not a number, a list a,b,c or a range START:STOP:STEP") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise SettingError(flag, f"{text!r}: strengths must be finite numbers")
    return values


def check_steerable(vectors: EmotionVectors, emotions: list[str], layers: list[int], setting: str = "emotion") -> None:
    """Refuse unknown emotions, layers the vectors lack, and vectors without residual norms."""
    unknown = [e for e in emotions if e not in vectors.emotions]
    if unknown:
        more = ", ..." if len(vectors.emotions) > 8 else ""
        raise SettingError(setting, f"not among the vectors' emotions: {', '.join(unknown[:10])} (they have "
                                    f"{', '.join(vectors.emotions[:8])}{more})")  # fmt: skip
    missing = [k for k in layers if k not in vectors.layers]
    if missing:
        raise SettingError("layers", f"layer(s) {', '.join(map(str, missing))} are not among the vectors' layers")
    if vectors.residual_norm is None:
        raise EmovecError("these vectors carry no residual_norm (a community .npz?), the unit of steering strength; "
                          "rebuild them with emovec vectors")  # fmt: skip


def unit_directions(vectors: EmotionVectors, emotion: str, layers: list[int]) -> np.ndarray:
    """``v_k / |v_k|`` [L, d] (float64) of one emotion at ``layers``."""
    v = np.stack([vectors.vectors[vectors.emotions.index(emotion), vectors.layers.index(k)] for k in layers])
    v = v.astype(np.float64)
    length = np.linalg.norm(v, axis=1, keepdims=True)
    if (length == 0).any():
        raise EmovecError(f"the {emotion!r} vector has zero length at a steered layer")
    return v / length


def layer_norms(vectors: EmotionVectors, layers: list[int]) -> np.ndarray:
    """``residual_norm`` [L] at ``layers``."""
    return np.array([float(vectors.residual_norm[vectors.layers.index(k)]) for k in layers])


def added_vectors(vectors: EmotionVectors, strengths: dict[str, float], layers: list[int]) -> np.ndarray:
    """The vectors [L, d] added at ``layers`` for ``{emotion: strength}`` (zeros for an empty dict)."""
    check_steerable(vectors, list(strengths), layers)
    total = np.zeros((len(layers), vectors.vectors.shape[2]))
    norms = layer_norms(vectors, layers)
    for emotion, strength in strengths.items():
        total += float(strength) * norms[:, None] * unit_directions(vectors, emotion, layers)
    return total


def random_like(added: np.ndarray, seed: int) -> np.ndarray:
    """A random direction per layer with the same norms as ``added`` [L, d]: the control condition."""
    direction = np.random.default_rng(seed).normal(size=added.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * np.linalg.norm(added, axis=1, keepdims=True)


def total_added_norm(added: np.ndarray) -> float:
    """Sum over steered layers of the added vectors' norms: what accumulates in the residual stream."""
    return float(np.linalg.norm(added, axis=1).sum())


def warn_if_large(vectors: EmotionVectors, added: np.ndarray, layers: list[int]) -> str | None:
    """A warning (also returned) when the total added norm exceeds the last steered layer's residual norm."""
    total, reference = total_added_norm(added), float(layer_norms(vectors, [max(layers)])[0])
    if total <= reference:
        return None
    message = (f"the steering adds a total norm of {total:.1f} over {len(layers)} layer(s), more than the residual "
               f"norm {reference:.1f} at layer {max(layers)}: expect incoherent text")  # fmt: skip
    warnings.warn(message, stacklevel=2)
    return message
