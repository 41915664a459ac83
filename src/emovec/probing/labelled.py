"""Labelled text: how well the vectors read labels (top-k, macro-F1) or ratings (Spearman) of any texts.

Labels map to vector names directly (lower-cased) or through a ``label,emotion`` CSV; texts whose label maps
to no vector are left out and listed. A text's predicted emotion is its highest-scoring vector.

Ratings (e.g. valence, arousal on any scale): a text's valence score is its centred activation projected on
the layer's valence axis (:func:`emovec.analysis.axes.affect_axes`: the readout direction and the best-PC
direction, both reported); Spearman rho with the ratings, a percentile bootstrap CI over texts and a
permutation p (ratings shuffled over texts).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import f1_score

from emovec.analysis.axes import affect_axes
from emovec.analysis.norms.loading import Norms
from emovec.errors import EmovecError
from emovec.probing.battery import topk_hits
from emovec.probing.probe import probe
from emovec.vectors.emotion_vectors import EmotionVectors


def read_label_map(path: str | Path, emotions: list[str]) -> dict[str, str]:
    """``label -> emotion`` from a CSV with columns label,emotion; unknown emotions are refused."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise EmovecError(f"{path}: not a readable CSV file ({' '.join(str(err).split())})") from None
    if list(table.columns[:2]) != ["label", "emotion"]:
        raise EmovecError(f"{path}: expected columns label,emotion, got {','.join(table.columns)}")
    mapping = {}
    for number, (label, emotion) in enumerate(zip(table["label"], table["emotion"]), start=2):
        emotion = emotion.strip().lower()
        if emotion not in emotions:
            raise EmovecError(f"{path}: row {number}: emotion {emotion!r} is not among the vectors' emotions")
        mapping[label.strip().lower()] = emotion
    return mapping


def evaluate_labels(model, vectors: EmotionVectors, texts: pd.DataFrame, label_column: str = "label",
                    label_map: dict[str, str] | None = None, *, layers="all", positions: str = "mean",
                    text_format: str = "raw", reference: str | None = "texts", permutations: int = 1000,
                    seed: int = 0, batch_size: int = 8, progress: bool = True,
                    ) -> tuple[pd.DataFrame, list[str]]:  # fmt: skip
    """Per layer: top-1/top-3 accuracy, macro-F1 and a permutation p; and the labels that mapped to nothing.

    Scores are centred on ``reference`` (default the texts' own mean, as the batteries are).
    """
    labels = texts[label_column].astype(str).str.strip().str.lower()
    mapped = labels.map(lambda x: (label_map or {}).get(x, x if x in vectors.emotions else None))
    unmapped = sorted(set(labels[mapped.isna()]))
    keep = mapped.notna().to_numpy()
    if keep.sum() < 2:
        raise EmovecError(f"only {int(keep.sum())} texts have a label that maps to a vector; unmapped labels: "
                          f"{', '.join(unmapped[:10])} (map them with --label-map label,emotion)")  # fmt: skip
    chosen = texts[keep]
    result = probe(model, vectors, chosen["text"].tolist(), ids=chosen["id"].tolist(), layers=layers,
                   text_format=text_format, positions=positions, reference=reference, batch_size=batch_size,
                   progress=progress)  # fmt: skip
    targets = np.array([result.emotions.index(e) for e in mapped[keep]])
    shuffles = np.random.default_rng(seed).permuted(np.tile(targets, (permutations, 1)), axis=1)
    rows = []
    for layer in result.layers:
        scores = np.asarray(result.scores[layer], dtype=np.float64)
        top1 = topk_hits(scores, targets, 1).mean()
        row = {"layer": layer, "n": len(targets), "n_labels": len(set(targets)), "top1": top1,
               "top3": topk_hits(scores, targets, 3).mean(),
               "macro_f1": f1_score(targets, scores.argmax(axis=1), labels=sorted(set(targets)), average="macro",
                                    zero_division=0)}  # fmt: skip
        if permutations:
            null = np.array([topk_hits(scores, s, 1).mean() for s in shuffles])
            row["top1_p_perm"] = (1 + (null >= top1).sum()) / (1 + permutations)
        rows.append(row)
    return pd.DataFrame(rows), unmapped


def evaluate_ratings(model, vectors: EmotionVectors, norms: Norms, texts: pd.DataFrame, columns: list[str], *,
                     layers="all", positions: str = "mean", text_format: str = "raw", bootstrap: int = 1000,
                     permutations: int = 1000, seed: int = 0, batch_size: int = 8,
                     progress: bool = True) -> pd.DataFrame:  # fmt: skip
    """Per layer, rating column and axis: Spearman rho of the axis score with the ratings, CI and p."""
    ratings = {}
    for column in columns:
        if column not in texts:
            raise EmovecError(f"no rating column {column!r} in the texts (columns: {', '.join(texts.columns)})")
        values = pd.to_numeric(texts[column], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0]) + 1
            raise EmovecError(f"row {row}: rating {column!r} is not a number ({texts[column].iloc[row - 1]!r})")
        ratings[column] = values.to_numpy(dtype=np.float64)
    dims = tuple(c for c in columns if c in ("valence", "arousal", "dominance"))
    if not dims:
        raise EmovecError("rating columns must be named valence, arousal or dominance (the norms' dimensions)")
    axes = affect_axes(vectors, norms, dims)
    names = list(axes)
    axis_vectors = EmotionVectors(vectors=np.stack([axes[n] for n in names]).astype(np.float32), emotions=names,
                                  layers=list(vectors.layers), grand_mean=vectors.grand_mean,
                                  metadata=dict(vectors.metadata))  # fmt: skip
    result = probe(model, axis_vectors, texts["text"].tolist(), ids=texts["id"].tolist(),
                   layers=layers, text_format=text_format, positions=positions, score="projection",
                   batch_size=batch_size, progress=progress)  # fmt: skip
    rng = np.random.default_rng(seed)
    n = len(texts)
    resamples = rng.integers(0, n, size=(bootstrap, n))
    orders = np.array([rng.permutation(n) for _ in range(permutations)])
    rows = []
    with warnings.catch_warnings():  # a resample of few texts can be constant: its rho is NaN and left out
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        for layer in result.layers:
            rows.extend(_rating_rows(layer, np.asarray(result.scores[layer], dtype=np.float64), names, ratings,
                                     resamples, orders, n, bootstrap, permutations))  # fmt: skip
    return pd.DataFrame(rows)


def _rating_rows(layer, scores, names, ratings, resamples, orders, n, bootstrap, permutations) -> list[dict]:
    """One row per axis of one layer: rho, its bootstrap CI over texts and a permutation p."""
    rows = []
    for j, name in enumerate(names):
        dim, _, axis = name.partition("_")
        y, x = ratings[dim], scores[:, j]
        rho = stats.spearmanr(x, y).statistic
        row = {"layer": layer, "rating": dim, "axis": axis, "n": n, "spearman": rho}
        if bootstrap:
            boot = [stats.spearmanr(x[r], y[r]).statistic for r in resamples]
            row["ci_low"], row["ci_high"] = np.nanpercentile(boot, [2.5, 97.5])
        if permutations:
            null = np.array([stats.spearmanr(x, y[o]).statistic for o in orders])
            row["p_perm"] = (1 + (null >= rho).sum()) / (1 + permutations)
        rows.append(row)
    return rows

