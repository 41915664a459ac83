"""Affect axes in activation space, per layer: directions along which valence (or arousal) grows.

Two directions per dimension, both fitted on the emotion vectors and their norms only:

- ``readout``: the weights of a ridge regression of the ratings on the vectors (penalty by efficient
  leave-one-out, ``RidgeCV``), i.e. the direction the geometry readout uses;
- ``best_pc``: the principal component of the vectors with the largest |r| with the ratings, signed so that
  the ratings rise along it.

Both are returned as unit vectors [L, d].
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

from emovec.analysis.geometry import RIDGE_ALPHAS, pca, pearson_columns
from emovec.analysis.norms.loading import Norms
from emovec.analysis.norms.matching import match_emotions
from emovec.errors import EmovecError
from emovec.vectors.emotion_vectors import EmotionVectors

MIN_MATCHED = 3


def affect_axes(vectors: EmotionVectors, norms: Norms, dims: tuple[str, ...] = ("valence", "arousal"),
                components: int = 10) -> dict[str, np.ndarray]:  # fmt: skip
    """``{"valence_readout": [L, d], "valence_best_pc": [L, d], ...}`` unit directions per layer."""
    match = match_emotions(vectors.emotions, norms)
    if len(match.matched) < MIN_MATCHED:
        raise EmovecError(f"only {len(match.matched)} of the vectors' emotions have {norms.name} norms (need 3)")
    rows = [vectors.emotions.index(e) for e in match.matched]
    axes: dict[str, np.ndarray] = {}
    for dim in dims:
        if dim not in match.values.columns:
            continue
        y = match.values[dim].to_numpy(dtype=np.float64)
        readout, best = [], []
        for slot in range(len(vectors.layers)):
            x = vectors.vectors[:, slot].astype(np.float64)
            w = RidgeCV(alphas=RIDGE_ALPHAS).fit(x[rows], y).coef_
            readout.append(w / (np.linalg.norm(w) or 1.0))
            fit = pca(x, components)
            r = pearson_columns(fit.scores[rows], y)
            k = int(np.nanargmax(np.abs(r)))
            best.append(fit.components[k] * np.sign(r[k]))
        axes[f"{dim}_readout"], axes[f"{dim}_best_pc"] = np.stack(readout), np.stack(best)
    return axes
