"""Geometry and statistics, each checked against an independent numpy/scipy/sklearn computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.model_selection import KFold, LeaveOneOut, cross_val_predict

from emovec.analysis.compare import cka_matrix, compare_by_layer, direction_cosines, linear_cka, rsa
from emovec.analysis.geometry import RIDGE_ALPHAS, pca, pearson_columns, ridge_readout, spearman_columns
from emovec.analysis.stats import (
    bootstrap_indices,
    bootstrap_pc_correlations,
    p_value,
    permutation_null,
    random_direction_null,
    top_pc_scores,
)
from emovec.vectors.emotion_vectors import EmotionVectors, cosine_matrix


def test_pca_matches_sklearn():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 50)) @ rng.normal(size=(50, 50))
    ours = pca(x, 5)
    ref = PCA(n_components=5, svd_solver="full").fit(x)
    np.testing.assert_allclose(ours.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(ours.scores), np.abs(ref.transform(x)), rtol=1e-8, atol=1e-8)


def test_top_pc_scores_from_gram_match_sklearn():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(25, 40)) * np.linspace(3, 0.1, 40)
    scores = top_pc_scores(x @ x.T, 2)
    ref = PCA(n_components=2, svd_solver="full").fit_transform(x)
    np.testing.assert_allclose(np.abs(scores), np.abs(ref), rtol=1e-7, atol=1e-7)


def test_correlations_match_scipy():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 4)), rng.normal(size=40)
    y[::3] = y[0]  # ties for Spearman
    for j in range(4):
        assert pearson_columns(x, y)[j] == pytest.approx(stats.pearsonr(x[:, j], y).statistic, abs=1e-12)
        assert spearman_columns(x, y)[j] == pytest.approx(stats.spearmanr(x[:, j], y).statistic, abs=1e-12)


@pytest.mark.parametrize("folds", [5, 0])
def test_readout_matches_sklearn_cross_val_predict(folds):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 10))
    y = np.stack([3 * x[:, 0] + 0.3 * rng.normal(size=40), 3 * (x[:, 1] - x[:, 2]) + 0.3 * rng.normal(size=40)], 1)
    ours = ridge_readout(x, y, folds=folds, seed=3)
    cv = LeaveOneOut() if folds == 0 else KFold(folds, shuffle=True, random_state=3)
    for j in range(2):
        predicted = cross_val_predict(RidgeCV(alphas=RIDGE_ALPHAS), x, y[:, j], cv=cv)
        np.testing.assert_allclose(ours.predictions[:, j], predicted, rtol=1e-6, atol=1e-8)
        assert ours.r[j] == pytest.approx(stats.pearsonr(predicted, y[:, j]).statistic, abs=1e-6)
        r2 = 1 - ((y[:, j] - predicted) ** 2).sum() / ((y[:, j] - y[:, j].mean()) ** 2).sum()
        assert ours.r2[j] == pytest.approx(r2, abs=1e-6)
    assert ours.r.min() > 0.5  # the signal is there


def test_cosine_rsa_and_cka_match_direct_formulas():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(12, 30)), rng.normal(size=(12, 20))
    np.testing.assert_allclose(cosine_matrix(x), cosine_similarity(x), atol=1e-12)
    upper = [(i, j) for i in range(12) for j in range(i + 1, 12)]
    cx, cy = cosine_similarity(x), cosine_similarity(y)
    expected = stats.spearmanr([cx[i, j] for i, j in upper], [cy[i, j] for i, j in upper]).statistic
    assert rsa(x, y) == pytest.approx(expected, abs=1e-12)
    h = np.eye(12) - 1 / 12
    k, m = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    assert linear_cka(x, y) == pytest.approx(hsic(k, m) / np.sqrt(hsic(k, k) * hsic(m, m)), abs=1e-12)
    assert linear_cka(x, x @ np.linalg.qr(rng.normal(size=(30, 30)))[0]) == pytest.approx(1.0)  # rotation-invariant


def test_comparisons_of_two_vector_sets():
    rng = np.random.default_rng(6)
    base = rng.normal(size=(6, 3, 16))
    a = EmotionVectors(base.astype(np.float32), list("abcdef"), [0, 1, 2], [0, 0.5, 1], metadata={"model": "m"})
    b = EmotionVectors(base[::-1].astype(np.float32), list("fedcba"), [0, 1, 2], [0, 0.5, 1], metadata={"model": "m"})
    table = compare_by_layer(a, b)  # same vectors, other order: identical after alignment by name
    np.testing.assert_allclose(table[["rsa", "cka", "direction_cosine_mean"]].to_numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.diag(cka_matrix(a, b).to_numpy()), 1.0, atol=1e-6)
    np.testing.assert_allclose(direction_cosines(a, b).to_numpy(), 1.0, atol=1e-6)


def test_permutation_null_matches_a_loop():
    rng = np.random.default_rng(7)
    scores, values = rng.normal(size=(3, 20)), rng.normal(size=20)
    null = permutation_null(scores, values, 50, seed=7)
    perm_rng = np.random.default_rng(7)
    for p in range(50):
        perm = perm_rng.permutation(20)
        for layer in range(3):
            assert null[p, layer] == pytest.approx(abs(stats.pearsonr(scores[layer], values[perm]).statistic))
    assert p_value(null, null.max(axis=0) + 1).tolist() == [1 / 51] * 3
    assert p_value(np.array([0.1, 0.2, 0.3]), 0.2) == pytest.approx(3 / 4)


def test_abs_r_ci_folds_at_zero():
    from emovec.analysis.stats import abs_r_ci

    samples = np.linspace(-0.2, 0.6, 801)[:, None]  # observed r = -0.3: oriented samples = -samples
    low, high = abs_r_ci(samples, np.array([-0.3]))
    assert low[0] == 0.0 and high[0] == pytest.approx(np.percentile(samples, 97.5))
    low, high = abs_r_ci(samples + 1, np.array([0.7]))
    assert (low[0], high[0]) == pytest.approx((np.percentile(samples + 1, 2.5), np.percentile(samples + 1, 97.5)))


def test_random_direction_null_matches_a_loop():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(15, 8)), rng.normal(size=15)
    null = random_direction_null(x, y, 10, seed=1)
    d = np.random.default_rng(1).standard_normal((8, 10))
    for j in range(10):
        assert null[j] == pytest.approx(abs(stats.pearsonr(x @ d[:, j], y).statistic))


def test_bootstrap_refits_pca_like_sklearn_on_each_resample():
    """Each resample: sklearn PCA (top 4), the two components closest to the full-data PC1 and PC2 by total
    |cosine| (found here by brute force over ordered pairs), sign-aligned, then Pearson with the norms."""
    import itertools

    rng = np.random.default_rng(9)
    x = rng.normal(size=(20, 12)) * np.linspace(4, 0.5, 12)
    valence, arousal = x[:, 0] + rng.normal(size=20), x[:, 1] + rng.normal(size=20)
    matched = np.ones(20, dtype=bool)
    matched[[3, 11]] = False  # unmatched emotions take part in PCA, not in correlations
    indices = bootstrap_indices(20, 15, seed=5)
    reference = pca(x, 2).scores
    got = bootstrap_pc_correlations([x @ x.T], indices, matched, (valence, arousal), [reference], workers=1)
    for b, rows in enumerate(indices):
        scores = PCA(n_components=4, svd_solver="full").fit_transform(x[rows])
        ref = reference[rows]
        cos = np.array([[abs(np.corrcoef(scores[:, i], ref[:, j])[0, 1]) for j in range(2)] for i in range(4)])
        pair = max(itertools.permutations(range(4), 2), key=lambda p: cos[p[0], 0] + cos[p[1], 1])
        chosen = scores[:, list(pair)]
        signs = np.sign([np.corrcoef(chosen[:, j], ref[:, j])[0, 1] for j in range(2)])
        keep = matched[rows]
        expected = [stats.pearsonr(signs[pc] * chosen[keep, pc], t[rows][keep]).statistic
                    for pc, t in enumerate((valence, arousal))]  # fmt: skip
        np.testing.assert_allclose(got[b, 0], expected, atol=1e-8)


def test_bootstrap_of_best_pc_and_readout_against_direct_resampling():
    """best_r: max |r| over sklearn PCA's top K components of each resample; readout: Pearson r of the
    resampled out-of-fold predictions with the resampled norms (scipy), unmatched emotions left out."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(24, 10)) * np.linspace(3, 0.5, 10)
    valence, arousal = x[:, 2] + rng.normal(size=24), x[:, 0] + rng.normal(size=24)
    matched = np.ones(24, dtype=bool)
    matched[[0, 7]] = False
    predictions = np.column_stack([valence, arousal]) + rng.normal(size=(24, 2))
    predictions[~matched] = np.nan
    indices = bootstrap_indices(24, 12, seed=2)
    got = bootstrap_pc_correlations([x @ x.T], indices, matched, (valence, arousal), [pca(x, 2).scores],
                                    workers=1, best_of=5, predictions=[predictions])  # fmt: skip
    assert got.shape == (12, 1, 6)
    for b, rows in enumerate(indices):
        scores = PCA(n_components=5, svd_solver="full").fit_transform(x[rows])
        keep = matched[rows]
        for j, target in enumerate((valence, arousal)):
            best = max(abs(stats.pearsonr(scores[keep, i], target[rows][keep]).statistic) for i in range(5))
            assert got[b, 0, 2 + j] == pytest.approx(best, abs=1e-8)
            readout = stats.pearsonr(predictions[rows][keep, j], target[rows][keep]).statistic
            assert got[b, 0, 4 + j] == pytest.approx(readout, abs=1e-10)


def test_bootstrap_follows_the_valence_axis_when_nearly_equal_pcs_swap():
    """PC1 (valence) and PC2 (arousal) have nearly equal variance, so resamples often swap their order;
    matching each resample's PCs to the full-data ones keeps reading the same axes."""
    rng = np.random.default_rng(3)
    n = 30
    basis, _ = np.linalg.qr(np.column_stack([np.ones(n), rng.normal(size=(n, 2))]))
    valence, arousal = basis[:, 1] * np.sqrt(n), basis[:, 2] * np.sqrt(n)  # centred, orthogonal, unit variance
    x = np.outer(valence, np.eye(10)[0]) * 1.1 + np.outer(arousal, np.eye(10)[1]) + 0.05 * rng.normal(size=(n, 10))
    reference = pca(x, 2).scores
    assert abs(stats.pearsonr(reference[:, 0], valence).statistic) > 0.99
    indices = bootstrap_indices(n, 200, seed=1)
    matched = np.ones(n, dtype=bool)
    with_matching = bootstrap_pc_correlations([x @ x.T], indices, matched, (valence, arousal), [reference], workers=1)
    order_only = bootstrap_pc_correlations([x @ x.T], indices, matched, (valence, arousal), None, workers=1)
    assert (np.abs(order_only[:, 0, 0]) < 0.5).mean() > 0.15  # by order alone, many resamples read arousal
    assert (np.abs(with_matching[:, 0, :]) > 0.5).all()  # matched: never the other axis
    assert np.median(np.abs(with_matching[:, 0, 0])) > 0.9


@pytest.mark.slow
def test_bootstrap_ci_coverage_in_simulation():
    """The 95% percentile CI of |r(PC1, valence)| covers the population value in 90-99% of samples."""
    from emovec.analysis.stats import abs_r_ci

    d, n = 12, 60
    axis_v, axis_a = np.eye(d)[0] * 1.6, np.eye(d)[1]

    def sample(size, generator):
        valence, arousal = generator.normal(size=size), generator.normal(size=size)
        noisy_valence = valence + 0.8 * generator.normal(size=size)  # norms measure the latent axis with noise
        x = np.outer(valence, axis_v) + np.outer(arousal, axis_a) + 0.6 * generator.normal(size=(size, d))
        return x, noisy_valence

    sim = np.random.default_rng(11)
    big_x, big_v = sample(200_000, sim)
    true_r = abs(stats.pearsonr(pca(big_x, 1).scores[:, 0], big_v).statistic)
    assert 0.5 < true_r < 0.9
    covered, runs = 0, 200
    for run in range(runs):
        x, valence = sample(n, sim)
        reference = pca(x, 2).scores
        observed = stats.pearsonr(reference[:, 0], valence).statistic
        samples = bootstrap_pc_correlations([x @ x.T], bootstrap_indices(n, 300, seed=run), np.ones(n, bool),
                                            (valence, valence), [reference], workers=1)  # fmt: skip
        low, high = abs_r_ci(samples[:, 0, 0], observed)
        covered += low <= true_r <= high
    assert 0.90 <= covered / runs <= 0.99, covered / runs


def test_story_bootstrap_matches_direct_resampling():
    from emovec.analysis.stats import bootstrap_story_correlations, story_resample_weights

    rng = np.random.default_rng(21)
    n_emotions, per, d = 6, 4, 10
    groups = [np.arange(e * per, (e + 1) * per) for e in range(n_emotions)]
    counts = rng.integers(1, 30, size=n_emotions * per)
    stories = rng.normal(size=(n_emotions * per, d)) + np.repeat(rng.normal(size=(n_emotions, d)) * 2, per, axis=0)
    valence, arousal = rng.normal(size=n_emotions), rng.normal(size=n_emotions)
    matched = np.array([True, True, True, False, True, True])
    means = np.stack([np.average(stories[g], axis=0, weights=counts[g]) for g in groups])
    reference = pca(means, 2).scores
    got = bootstrap_story_correlations([stories @ stories.T], groups, counts, matched, (valence, arousal),
                                      [reference], n_boot=8, seed=4)  # fmt: skip
    for b, w in enumerate(story_resample_weights(groups, counts, 8, 4)):
        resampled = w @ stories  # each row: the weighted mean of that emotion's resampled stories
        scores = PCA(n_components=2, svd_solver="full").fit_transform(resampled)
        signs = np.sign((scores * reference).sum(axis=0))
        expected = [stats.pearsonr(signs[pc] * scores[matched, pc], t[matched]).statistic
                    for pc, t in enumerate((valence, arousal))]  # fmt: skip
        np.testing.assert_allclose(got[b, 0], expected, atol=1e-8)
    w = next(story_resample_weights(groups, counts, 1, 4))
    np.testing.assert_allclose(np.asarray(w.sum(axis=1)).ravel(), 1.0)  # each row is an average
