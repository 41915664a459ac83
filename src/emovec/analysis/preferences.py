"""Bradley-Terry strengths from soft pairwise preferences, on the Elo scale, with bootstrap intervals.

``p[k]`` is the probability that item ``i[k]`` is preferred to item ``j[k]``. The fit maximises
``sum_k p_k log sigmoid(s_i - s_j) + (1 - p_k) log sigmoid(s_j - s_i) - ridge/2 |s|^2`` (convex; the small
ridge keeps items that always win or lose finite), and reports ``Elo = 400 / ln 10 * s`` centred at 0, so a
difference of 400 is 10:1 odds.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

ELO = 400.0 / np.log(10.0)


def bradley_terry(p: np.ndarray, i: np.ndarray, j: np.ndarray, n_items: int, ridge: float = 1e-3) -> np.ndarray:
    """Elo ratings [n_items] (mean 0) fitted to the soft outcomes ``p`` of pairs ``(i, j)``."""
    p, i, j = np.asarray(p, dtype=np.float64), np.asarray(i), np.asarray(j)

    def loss(s: np.ndarray) -> tuple[float, np.ndarray]:
        d = s[i] - s[j]
        value = -(p * log_expit(d) + (1 - p) * log_expit(-d)).sum() + 0.5 * ridge * (s @ s)
        g = expit(d) - p  # d(loss)/d(d)
        grad = np.bincount(i, g, n_items) - np.bincount(j, g, n_items) + ridge * s
        return float(value), grad

    fit = minimize(loss, np.zeros(n_items), jac=True, method="L-BFGS-B")
    s = fit.x - fit.x.mean()
    return s * ELO


def bootstrap_elo(p: np.ndarray, i: np.ndarray, j: np.ndarray, n_items: int, resamples: int = 200,
                  seed: int = 0) -> np.ndarray:  # fmt: skip
    """Elo ratings [resamples, n_items] refitted on pairs drawn with replacement."""
    rng = np.random.default_rng(seed)
    n = len(p)
    return np.stack([bradley_terry(p[k], i[k], j[k], n_items) for k in rng.integers(0, n, size=(resamples, n))])
