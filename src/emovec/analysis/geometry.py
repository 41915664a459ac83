"""Per-layer geometry of emotion vectors: PCA, correlations with norms, a cross-validated readout, clusters.

Pure numpy/scipy/scikit-learn. PC signs are arbitrary; ``svd_flip`` fixes them deterministically, and
sign-free metrics use |r|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, LeaveOneOut
from sklearn.utils.extmath import svd_flip

RIDGE_ALPHAS = np.logspace(-4, 6, 21)


@dataclass(frozen=True)
class PCAResult:
    scores: np.ndarray  # [E, k] projections of the centred vectors on the components
    explained_variance_ratio: np.ndarray  # [k]
    components: np.ndarray  # [k, d]


def pca(vectors: np.ndarray, k: int) -> PCAResult:
    """PCA of the rows of ``vectors`` [E, d] (centred), top ``k`` components, sklearn's sign convention."""
    x = np.asarray(vectors, dtype=np.float64)
    centred = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    u, vt = svd_flip(u, vt)
    total = (s**2).sum()
    k = min(k, len(s))
    evr = (s[:k] ** 2) / total if total > 0 else np.zeros(k)
    return PCAResult(scores=u[:, :k] * s[:k], explained_variance_ratio=evr, components=vt[:k])


def pearson_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``x`` [n, k] with ``y`` [n] (NaN for a constant column)."""
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    denominator = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc[:, None]).sum(axis=0) / denominator


def spearman_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each column of ``x`` with ``y`` (Pearson r of average ranks)."""
    return pearson_columns(stats.rankdata(x, axis=0), stats.rankdata(y))


@dataclass(frozen=True)
class Readout:
    r: np.ndarray  # [t] Pearson r of out-of-fold predictions with the truth
    r2: np.ndarray  # [t] out-of-fold R^2
    predictions: np.ndarray  # [n, t]


def ridge_readout(x: np.ndarray, y: np.ndarray, folds: int = 10, seed: int = 0) -> Readout:
    """Cross-validated ridge readout of each column of ``y`` [n, t] from ``x`` [n, d].

    Outer folds (``folds`` >= 2, or leave-one-out when ``folds`` is 0 or >= n) hold out emotions; inside each
    training set RidgeCV picks the penalty per target by efficient leave-one-out, so no held-out emotion
    influences its own prediction.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
    n = len(x)
    splitter = LeaveOneOut() if folds == 0 or folds >= n else KFold(folds, shuffle=True, random_state=seed)
    predictions = np.empty_like(y)
    for train, test in splitter.split(x):
        model = RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True).fit(x[train], y[train])
        predictions[test] = model.predict(x[test]).reshape(len(test), -1)
    residual = ((y - predictions) ** 2).sum(axis=0)
    total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    r = np.array([pearson_columns(predictions[:, [j]], y[:, j])[0] for j in range(y.shape[1])])
    return Readout(r=r, r2=1 - residual / total, predictions=predictions)


def kmeans_labels(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means cluster labels of the L2-normalised rows (so clusters follow direction, not length)."""
    x = np.asarray(vectors, dtype=np.float64)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    k = max(1, min(k, len(x)))
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(unit)
