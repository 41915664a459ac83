"""Bradley-Terry on the Elo scale recovers planted strengths and matches a direct likelihood maximisation."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from emovec.analysis.preferences import ELO, bootstrap_elo, bradley_terry


def pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(n, 1)
    return i, j


def test_recovers_planted_strengths_from_exact_probabilities():
    s = np.array([-1.0, -0.2, 0.0, 0.5, 0.7])
    i, j = pairs(5)
    p = expit(s[i] - s[j])
    got = bradley_terry(p, i, j, 5, ridge=1e-9)
    np.testing.assert_allclose(got, (s - s.mean()) * ELO, atol=0.05)


def test_matches_a_derivative_free_fit_of_the_same_objective():
    rng = np.random.default_rng(1)
    i, j = pairs(6)
    p = rng.uniform(0.05, 0.95, size=len(i))

    def objective(s):
        d = s[i] - s[j]
        return -(p * np.log(expit(d)) + (1 - p) * np.log(expit(-d))).sum() + 0.5e-3 * s @ s

    ref = minimize(objective, np.zeros(6), method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12,
                                                                        "maxiter": 40000, "maxfev": 40000}).x
    np.testing.assert_allclose(bradley_terry(p, i, j, 6), (ref - ref.mean()) * ELO, atol=0.5)


def test_bootstrap_intervals_cover_the_fit():
    s = np.linspace(-1, 1, 6)
    i, j = pairs(6)
    p = expit(s[i] - s[j])
    fit = bradley_terry(p, i, j, 6)
    draws = bootstrap_elo(p, i, j, 6, resamples=50, seed=0)
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    assert draws.shape == (50, 6) and np.all(low <= fit + 1e-6) and np.all(fit <= high + 1e-6)
