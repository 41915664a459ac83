"""Comparing two vector sets (two models, or one model on two corpora) over their shared emotions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from emovec.analysis.stats import centred_gram
from emovec.errors import EmovecError
from emovec.vectors.emotion_vectors import EmotionVectors, cosine_matrix


def shared_emotions(a: EmotionVectors, b: EmotionVectors) -> list[str]:
    shared = [e for e in a.emotions if e in set(b.emotions)]
    if len(shared) < 3:
        raise EmovecError(f"the two vector sets share {len(shared)} emotions; need at least 3")
    return shared


def rsa(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho between the upper triangles of the cosine-similarity matrices of ``x`` and ``y``."""
    upper = np.triu_indices(len(x), k=1)
    return float(stats.spearmanr(cosine_matrix(x)[upper], cosine_matrix(y)[upper]).statistic)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between two representations of the same rows (Kornblith et al. 2019)."""
    k = centred_gram(np.asarray(x, np.float64) @ np.asarray(x, np.float64).T)
    m = centred_gram(np.asarray(y, np.float64) @ np.asarray(y, np.float64).T)
    return float((k * m).sum() / np.sqrt((k * k).sum() * (m * m).sum()))


def layer_pairs(a: EmotionVectors, b: EmotionVectors) -> list[tuple[int, int]]:
    """Slot pairs: same layer index when both sets have the same layers, else the nearest relative depth."""
    if a.layers == b.layers:
        return [(i, i) for i in range(len(a.layers))]
    if a.relative_depths is None or b.relative_depths is None:
        raise EmovecError("vector sets with different layers need relative depths to be compared")
    depth_b = np.asarray(b.relative_depths)
    return [(i, int(np.abs(depth_b - d).argmin())) for i, d in enumerate(a.relative_depths)]


def compare_by_layer(a: EmotionVectors, b: EmotionVectors) -> pd.DataFrame:
    """Per layer of ``a``: RSA and CKA with the matched layer of ``b``; mean cosine of matched directions."""
    emotions = shared_emotions(a, b)
    a, b = a.select(emotions), b.select(emotions)
    same_space = a.vectors.shape[2] == b.vectors.shape[2] and a.metadata.get("model") == b.metadata.get("model")
    rows = []
    for i, j in layer_pairs(a, b):
        x, y = a.vectors[:, i].astype(np.float64), b.vectors[:, j].astype(np.float64)
        row = {"layer_a": a.layers[i], "layer_b": b.layers[j],
               "relative_depth_a": None if a.relative_depths is None else a.relative_depths[i],
               "relative_depth_b": None if b.relative_depths is None else b.relative_depths[j],
               "n_shared": len(emotions), "rsa": rsa(x, y), "cka": linear_cka(x, y)}  # fmt: skip
        if same_space:
            cosines = np.diag(cosine_matrix(np.concatenate([x, y]))[: len(x), len(x) :])
            row.update(direction_cosine_mean=float(cosines.mean()), direction_cosine_min=float(cosines.min()))
        rows.append(row)
    return pd.DataFrame(rows)


def cka_matrix(a: EmotionVectors, b: EmotionVectors) -> pd.DataFrame:
    """Linear CKA between every layer of ``a`` and every layer of ``b`` over shared emotions [La, Lb]."""
    emotions = shared_emotions(a, b)
    a, b = a.select(emotions), b.select(emotions)
    grams_b = [centred_gram(b.vectors[:, j].astype(np.float64) @ b.vectors[:, j].astype(np.float64).T)
               for j in range(len(b.layers))]  # fmt: skip
    matrix = np.empty((len(a.layers), len(b.layers)))
    for i in range(len(a.layers)):
        k = centred_gram(a.vectors[:, i].astype(np.float64) @ a.vectors[:, i].astype(np.float64).T)
        for j, m in enumerate(grams_b):
            matrix[i, j] = (k * m).sum() / np.sqrt((k * k).sum() * (m * m).sum())
    return pd.DataFrame(matrix, index=pd.Index(a.layers, name="layer_a"), columns=pd.Index(b.layers, name="layer_b"))


def direction_cosines(a: EmotionVectors, b: EmotionVectors) -> pd.DataFrame:
    """Cosine between each shared emotion's directions in ``a`` and ``b`` at each shared layer [E, L]."""
    if a.vectors.shape[2] != b.vectors.shape[2]:
        raise EmovecError("direction cosines need vectors of the same width (the same model)")
    emotions = shared_emotions(a, b)
    layers = [k for k in a.layers if k in b.layers]
    x, y = a.select(emotions, layers).vectors.astype(np.float64), b.select(emotions, layers).vectors.astype(np.float64)
    cos = (x * y).sum(-1) / np.maximum(np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1), 1e-300)
    return pd.DataFrame(cos, index=pd.Index(emotions, name="emotion"), columns=pd.Index(layers, name="layer"))
