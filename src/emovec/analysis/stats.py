"""Uncertainty for the geometry: bootstrap CIs, permutation p-values, a max-over-layers null, random directions.

All resampling is seeded. A bootstrap over emotions resamples emotions with replacement and refits PCA
in each resample (through the centred Gram matrix, exact, top two components only); correlations use the
resampled emotions that have norms. Permutation nulls shuffle the norm values across emotions, with the
same permutation at every layer so that the best layer of a null sweep can be compared with the
observed peak.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.linalg import eigh
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from emovec.analysis.geometry import pearson_columns


def centred_gram(gram: np.ndarray) -> np.ndarray:
    """Double-centre a Gram matrix (the Gram matrix of the mean-centred rows)."""
    row = gram.mean(axis=1, keepdims=True)
    return gram - row - row.T + gram.mean()


def top_pc_scores(gram: np.ndarray, k: int = 2) -> np.ndarray:
    """Scores [E, k] of the top ``k`` PCs from a raw Gram matrix (up to sign), largest first."""
    centred = centred_gram(gram)
    n = len(centred)
    values, vectors = eigh(centred, subset_by_index=[n - k, n - 1], driver="evr")
    return vectors[:, ::-1] * np.sqrt(np.clip(values[::-1], 0, None))


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n] resampled row indices, with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_pc_correlations(
    grams: list[np.ndarray],
    indices: np.ndarray,
    matched: np.ndarray,
    targets: tuple[np.ndarray, np.ndarray],
    reference_scores: list[np.ndarray] | None = None,
    workers: int | None = None,
    best_of: int = 0,
    predictions: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Signed r of PC1 with ``targets[0]`` and PC2 with ``targets[1]`` in each resample: [n_boot, L, 2].

    ``grams`` are raw Gram matrices [E, E] per layer; ``matched`` [E] marks emotions with norms and
    ``targets`` hold their values at every emotion (ignored where unmatched). With ``reference_scores``
    (full-data scores [E, 2] per layer), each resample's top 4 PCs are matched to the full-data PC1 and PC2 by
    maximum |cosine| (:func:`match_components`) and sign-aligned, so a resample in which two nearly equal PCs
    swap order still measures the same axes. Layers are spread over ``workers`` processes (default: one per
    CPU core).

    With ``best_of`` = K > 0 two more columns follow: the best |r| over the resample's top K PCs with each
    target (the ``best_r`` statistic, recomputed in full). With ``predictions`` (the cross-validated readout's
    predictions [E, 2] per layer, NaN where unmatched) two more: r between the resampled predictions and
    targets. That interval covers which emotions are evaluated, not refitting the readout (which would cost a
    nested cross-validation per resample).
    """
    references = reference_scores or [None] * len(grams)
    preds = predictions or [None] * len(grams)
    jobs = [(gram, indices, matched, targets, ref, best_of, pred) for gram, ref, pred in zip(grams, references, preds)]
    workers = min(len(grams), workers or os.cpu_count() or 1)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            per_layer = list(pool.map(_bootstrap_layer, *zip(*jobs)))
    else:
        per_layer = [_bootstrap_layer(*job) for job in jobs]
    return np.stack(per_layer, axis=1)


CANDIDATES = 4  # resample PCs searched for the full-data PC1 and PC2 (nearly equal PCs swap between resamples)


def match_components(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Columns of ``scores`` [E, K] matched to those of ``reference`` [E, k <= K] by maximum total |cosine|
    (a linear assignment), then sign-aligned: [E, k]."""
    a = scores - scores.mean(axis=0)
    b = reference - reference.mean(axis=0)
    norms = np.linalg.norm(a, axis=0)[:, None] * np.linalg.norm(b, axis=0)[None, :]
    cosine = (a.T @ b) / np.where(norms == 0, 1.0, norms)  # [K, k]
    rows, cols = linear_sum_assignment(-np.abs(cosine))
    order = rows[np.argsort(cols)]
    signs = np.sign(cosine[order, np.arange(reference.shape[1])])
    return scores[:, order] * np.where(signs == 0, 1, signs)


def _bootstrap_layer(gram, indices, matched, targets, reference, best_of=0, predictions=None) -> np.ndarray:
    columns = 2 + (2 if best_of else 0) + (2 if predictions is not None else 0)
    out = np.full((len(indices), columns), np.nan)
    with threadpool_limits(limits=1):  # small eigenproblems are fastest on one BLAS thread
        for b, rows in enumerate(indices):
            k = min(max(CANDIDATES if reference is not None else 2, best_of), len(rows) - 1)
            top = top_pc_scores(gram[np.ix_(rows, rows)], k)
            scores = top[:, :2] if reference is None else match_components(top, reference[rows])
            keep = matched[rows]
            for pc, target in enumerate(targets):
                out[b, pc] = pearson_columns(scores[keep][:, [pc]], target[rows][keep])[0]
            column = 2
            if best_of:
                for target in targets:
                    r = pearson_columns(top[keep][:, :best_of], target[rows][keep])
                    out[b, column] = np.nanmax(np.abs(r)) if np.isfinite(r).any() else np.nan
                    column += 1
            if predictions is not None:
                for j, target in enumerate(targets):
                    out[b, column] = pearson_columns(predictions[rows][keep][:, [j]], target[rows][keep])[0]
                    column += 1
    return out


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval along axis 0, ignoring NaN resamples."""
    tail = (1 - level) / 2 * 100
    return np.nanpercentile(samples, tail, axis=0), np.nanpercentile(samples, 100 - tail, axis=0)


def abs_r_ci(signed: np.ndarray, observed: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """CI for |r| from sign-aligned bootstrap samples of signed r [n_boot, ...] and the observed signed r.

    The percentile interval of r oriented like the observation, folded at 0: when it crosses 0 the
    interval for |r| is [0, max(|low|, high)], so an |r| near 0 is never given a spuriously positive floor.
    """
    oriented = signed * np.where(np.sign(observed) == 0, 1, np.sign(observed))
    low, high = percentile_ci(oriented, level)
    crosses = low < 0
    return np.where(crosses, 0.0, low), np.where(crosses, np.maximum(-low, high), high)


def permutation_null(scores: np.ndarray, values: np.ndarray, n_perm: int, seed: int) -> np.ndarray:
    """|r| of fixed scores [L, n] with permuted values [n], the same permutation at every layer: [n_perm, L]."""
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(len(values)) for _ in range(n_perm)])
    shuffled = values[perms]  # [P, n]
    sc = scores - scores.mean(axis=1, keepdims=True)
    sh = shuffled - shuffled.mean(axis=1, keepdims=True)
    numerator = sh @ sc.T  # [P, L]
    denominator = np.sqrt((sh**2).sum(axis=1))[:, None] * np.sqrt((sc**2).sum(axis=1))[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(numerator / denominator)


def p_value(null: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    """One-sided p = (1 + #null >= observed) / (1 + n), along axis 0."""
    null = np.asarray(null)
    return (1 + (null >= np.asarray(observed) - 1e-12).sum(axis=0)) / (1 + len(null))


def random_direction_null(vectors: np.ndarray, values: np.ndarray, n: int, seed: int) -> np.ndarray:
    """|r| between ``values`` and projections of ``vectors`` [E, d] on ``n`` random unit directions: [n]."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((vectors.shape[1], n))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    return np.abs(pearson_columns(np.asarray(vectors, dtype=np.float64) @ directions, values))


def story_resample_weights(groups: list[np.ndarray], counts: np.ndarray, n_boot: int, seed: int,
                           weighting: str = "token"):  # fmt: skip
    """Sparse [E, n] matrices, one per resample: row e averages a with-replacement resample of emotion e's stories
    (token-weighted by ``counts``, or story-weighted)."""
    from scipy import sparse

    rng = np.random.default_rng(seed)
    n = len(counts)
    for _ in range(n_boot):
        rows, cols, vals = [], [], []
        for e, members in enumerate(groups):
            drawn = rng.choice(members, size=len(members), replace=True)
            weights = counts[drawn].astype(np.float64) if weighting == "token" else np.ones(len(drawn))
            rows.append(np.full(len(drawn), e))
            cols.append(drawn)
            vals.append(weights / weights.sum())
        yield sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(len(groups), n))  # fmt: skip


def bootstrap_story_correlations(
    story_grams: list[np.ndarray],
    groups: list[np.ndarray],
    counts: np.ndarray,
    matched: np.ndarray,
    targets: tuple[np.ndarray, np.ndarray],
    reference_scores: list[np.ndarray],
    n_boot: int,
    seed: int,
    weighting: str = "token",
) -> np.ndarray:
    """Signed r of PC1/PC2 with the targets when stories are resampled within each emotion: [n_boot, L, 2].

    ``story_grams`` are Gram matrices [n, n] of the (denoised) per-story means at each layer; the emotion
    means of a resample are ``W @ M``, so their Gram matrix is ``W G W^T`` and PCA is refit exactly.
    """
    out = np.full((n_boot, len(story_grams), 2), np.nan)
    with threadpool_limits(limits=1):
        for b, w in enumerate(story_resample_weights(groups, counts, n_boot, seed, weighting)):
            for layer, gram in enumerate(story_grams):
                emotion_gram = np.asarray(w @ (w @ gram).T)  # W G W^T (G symmetric)
                scores = top_pc_scores(emotion_gram, 2)
                signs = np.sign((scores * reference_scores[layer]).sum(axis=0))
                scores = scores * np.where(signs == 0, 1, signs)
                for pc, target in enumerate(targets):
                    out[b, layer, pc] = pearson_columns(scores[matched][:, [pc]], target[matched])[0]
    return out
