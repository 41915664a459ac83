"""``analyze``: the layer-by-layer geometry of emotion vectors against human norms, with statistics.

One row per layer in ``geometry.csv``; ``geometry.json`` adds clusters, cosine-similarity matrices, the
matched and unmatched words, the norms' provenance and a summary of the peak layers.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emovec.analysis.geometry import kmeans_labels, pca, pearson_columns, ridge_readout, spearman_columns
from emovec.analysis.norms.loading import Norms
from emovec.analysis.norms.matching import match_emotions
from emovec.analysis.stats import (
    abs_r_ci,
    bootstrap_indices,
    bootstrap_pc_correlations,
    p_value,
    percentile_ci,
    permutation_null,
    random_direction_null,
)
from emovec.cache import write_json_atomic
from emovec.errors import EmovecError, SettingError
from emovec.locks import exclusive_lock
from emovec.vectors.emotion_vectors import EmotionVectors, cosine_matrix

MIN_MATCHED = 3
METHOD_VERSION = 3  # bump when the numbers analyze computes change (2: bootstrap PCs matched to full-data PCs)
HEADLINE = (("r_pc1_valence", 1, "valence"), ("r_pc2_arousal", 2, "arousal"))


@dataclass(repr=False)
class Geometry:
    """Per-layer metrics (``table``) and everything else ``analyze`` measured."""

    table: pd.DataFrame
    matched: list[str]
    unmatched: list[str]
    norms: dict
    summary: dict
    settings: dict
    clusters: dict[int, list[int]] = field(default_factory=dict)
    similarity: dict[int, np.ndarray] = field(default_factory=dict)
    emotions: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        peak = self.summary.get("peak_r_pc1_valence", {})
        value = f"{peak['value']:.2f} at layer {peak['layer']}" if "value" in peak else "n/a"
        return (f"Geometry({len(self.table)} layers, {len(self.matched)}/{len(self.emotions)} emotions matched in "
                f"{self.norms.get('name')}; peak |r| PC1~valence {value})")  # fmt: skip

    def _repr_html_(self) -> str:
        columns = [c for c in ("layer", "relative_depth", "r_pc1_valence", "best_r_valence", "readout_r_valence",
                               "r_pc2_arousal", "readout_r_arousal") if c in self.table]  # fmt: skip
        return f"<p>{html.escape(repr(self))}</p>" + self.table[columns].to_html(index=False, float_format="%.3f")

    def save(self, out: str | Path) -> Path:
        """Write ``geometry.csv`` and ``geometry.json`` into directory ``out``."""
        out = Path(out)
        document = {
            "summary": self.summary,
            "settings": self.settings,
            "norms": self.norms,
            "emotions": self.emotions,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "layers": _records(self.table),
            "clusters": {str(k): v for k, v in self.clusters.items()},
            "similarity": {str(k): np.round(v, 4).tolist() for k, v in self.similarity.items()},
        }
        with exclusive_lock(out):  # geometry.json is written last: its presence means the pair is complete
            (out / "geometry.json").unlink(missing_ok=True)
            partial = out / "geometry.csv.partial"
            self.table.to_csv(partial, index=False, float_format="%.6g")
            partial.replace(out / "geometry.csv")
            write_json_atomic(out / "geometry.json", document)
        return out


def analyze(
    vectors: EmotionVectors,
    norms: Norms,
    *,
    components: int = 10,
    bootstrap: int = 0,
    permutations: int = 0,
    seed: int = 0,
    readout_folds: int = 10,
    n_clusters: int = 10,
    aliases: dict[str, str] | None = None,
    level: float = 0.95,
    stories: str | Path | None = None,
    story_bootstrap: int = 0,
) -> Geometry:
    """Measure each layer's geometry; add CIs with ``bootstrap`` > 0 and p-values with ``permutations`` > 0.

    With ``stories`` (the activations directory the vectors were built from) and ``story_bootstrap`` > 0,
    CIs from resampling stories within each emotion are added too (``*_story_ci_low/high``).
    """
    _check_settings(components=components, bootstrap=bootstrap, permutations=permutations,
                    readout_folds=readout_folds, n_clusters=n_clusters, level=level, story_bootstrap=story_bootstrap)
    match = match_emotions(vectors.emotions, norms, aliases)
    if len(match.matched) < MIN_MATCHED:
        raise EmovecError(
            f"only {len(match.matched)} of {len(vectors.emotions)} emotions have {norms.name} norms "
            f"(need at least {MIN_MATCHED}); unmatched: {', '.join(match.unmatched[:8])}"
        )
    dims = [d for d in ("valence", "arousal", "dominance") if d in match.values.columns]
    matched_rows = np.array([vectors.emotions.index(e) for e in match.matched])
    values = {d: match.values[d].to_numpy(dtype=np.float64) for d in dims}
    depths = vectors.relative_depths or [None] * len(vectors.layers)
    rows, clusters, similarity, scores, predictions = [], {}, {}, [], []
    for slot, layer in enumerate(vectors.layers):
        x = vectors.vectors[:, slot].astype(np.float64)
        result = pca(x, components)
        scores.append(result.scores)
        row = {"layer": layer, "relative_depth": depths[slot], "n_emotions": len(x), "n_matched": len(matched_rows)}
        for i, evr in enumerate(result.explained_variance_ratio, start=1):
            row[f"evr_pc{i}"] = evr
        matched_scores = result.scores[matched_rows]
        for d in dims:
            pearson = pearson_columns(matched_scores, values[d])
            spearman = spearman_columns(matched_scores, values[d])
            for i in range(len(pearson)):
                row[f"pearson_pc{i + 1}_{d}"] = pearson[i]
                row[f"spearman_pc{i + 1}_{d}"] = spearman[i]
            best = int(np.nanargmax(np.abs(pearson)))
            row[f"best_pc_{d}"], row[f"best_r_{d}"] = best + 1, abs(pearson[best])
        for name, pc, d in HEADLINE:
            signed = row.get(f"pearson_pc{pc}_{d}", np.nan)
            row[name], row[f"{name}_signed"] = abs(signed), signed
        readout = ridge_readout(
            x[matched_rows], np.stack([values["valence"], values["arousal"]], 1), readout_folds, seed
        )
        predicted = np.full((len(x), 2), np.nan)
        predicted[matched_rows] = readout.predictions
        predictions.append(predicted)
        row.update(readout_r_valence=readout.r[0], readout_r_arousal=readout.r[1],
                   readout_r2_valence=readout.r2[0], readout_r2_arousal=readout.r2[1])  # fmt: skip
        rows.append(row)
        clusters[layer] = kmeans_labels(x, n_clusters, seed).tolist()
        similarity[layer] = cosine_matrix(x)
    table = pd.DataFrame(rows)
    if bootstrap:
        _add_bootstrap(table, vectors, scores, predictions, matched_rows, values, bootstrap, seed, level)
    if permutations:
        _add_permutations(table, vectors, scores, matched_rows, values, permutations, seed)
    if story_bootstrap:
        if stories is None:
            raise EmovecError("a bootstrap over stories needs the activations directory (--activations)")
        _add_story_bootstrap(table, vectors, scores, matched_rows, values, stories, story_bootstrap, seed, level)
    table = table[_column_order(table.columns)]
    return Geometry(
        table=table,
        matched=list(match.matched),
        unmatched=list(match.unmatched),
        norms={
            "name": norms.name,
            "version": norms.version,
            "citation": norms.citation,
            "source": norms.source,
            "original_scale": list(norms.original_scale),
            "dimensions": dims,
        },  # fmt: skip
        summary=_summary(table),
        settings={
            "components": components,
            "bootstrap": bootstrap,
            "permutations": permutations,
            "seed": seed,
            "readout_folds": readout_folds,
            "n_clusters": n_clusters,
            "ci_level": level,
            "vectors": vectors.metadata,
        },  # fmt: skip
        clusters=clusters,
        similarity=similarity,
        emotions=list(vectors.emotions),
    )


_FLAGS = {"n_clusters": "--clusters", "story_bootstrap": "--bootstrap-stories"}


def _check_settings(**values) -> None:
    """One line naming the setting (and its flag) for a value :func:`analyze` cannot use."""
    rules = {
        "components": (lambda v: v >= 2, "needs at least 2 components"),
        "bootstrap": (lambda v: v >= 0, "cannot be negative (0 = no bootstrap)"),
        "permutations": (lambda v: v >= 0, "cannot be negative (0 = no permutations)"),
        "readout_folds": (lambda v: v == 0 or v >= 2, "needs 0 (leave-one-out) or at least 2 folds"),
        "n_clusters": (lambda v: v >= 1, "needs at least 1 cluster"),
        "level": (lambda v: 0 < v < 1, "needs a confidence level between 0 and 1"),
        "story_bootstrap": (lambda v: v >= 0, "cannot be negative (0 = no bootstrap)"),
    }
    for name, value in values.items():
        ok, reason = rules[name]
        if not ok(value):
            raise SettingError(name, f"{value}: {reason}", flag=_FLAGS.get(name))


def _matched_targets(n: int, matched_rows: np.ndarray, values: dict) -> tuple[np.ndarray, tuple]:
    """A mask of emotions with norms, and valence and arousal spread over all ``n`` emotions (0 where unmatched)."""
    matched = np.zeros(n, dtype=bool)
    matched[matched_rows] = True
    targets = []
    for d in ("valence", "arousal"):
        full = np.zeros(n)
        full[matched_rows] = values[d]
        targets.append(full)
    return matched, tuple(targets)


def _add_bootstrap(table, vectors, scores, predictions, matched_rows, values, n_boot, seed, level) -> None:
    n = len(vectors.emotions)
    matched, targets = _matched_targets(n, matched_rows, values)
    grams = [vectors.vectors[:, slot].astype(np.float64) @ vectors.vectors[:, slot].astype(np.float64).T
             for slot in range(len(vectors.layers))]  # fmt: skip
    reference = [s[:, :2] for s in scores]
    best_of = scores[0].shape[1]
    samples = bootstrap_pc_correlations(grams, bootstrap_indices(n, n_boot, seed), matched, targets, reference,
                                        best_of=best_of, predictions=predictions)  # fmt: skip
    for j, (name, _, _) in enumerate(HEADLINE):
        low, high = abs_r_ci(samples[:, :, j], table[f"{name}_signed"].to_numpy(), level)
        table[f"{name}_ci_low"], table[f"{name}_ci_high"] = low, high
        low, high = percentile_ci(samples[:, :, j], level)
        table[f"{name}_signed_ci_low"], table[f"{name}_signed_ci_high"] = low, high
    # best |r| over the top PCs, refitted in each resample; readout r over resampled out-of-fold predictions
    for j, name in enumerate(("best_r_valence", "best_r_arousal", "readout_r_valence", "readout_r_arousal"), 2):
        low, high = percentile_ci(samples[:, :, j], level)
        table[f"{name}_ci_low"], table[f"{name}_ci_high"] = low, high


def _add_story_bootstrap(table, vectors, scores, matched_rows, values, stories, n_boot, seed, level) -> None:
    from emovec.analysis.stats import abs_r_ci, bootstrap_story_correlations
    from emovec.extraction.activations import load_activations
    from emovec.vectors.denoising import neutral_components, project_out

    _check_same_source(vectors, stories)
    acts = load_activations(stories, layers=vectors.layers)
    labels = np.asarray(acts.emotions)
    usable = acts.counted > 0
    groups = [np.flatnonzero((labels == e) & usable) for e in vectors.emotions]
    if any(len(g) == 0 for g in groups):
        missing = [e for e, g in zip(vectors.emotions, groups) if len(g) == 0]
        raise EmovecError(f"{stories}: no usable stories for {', '.join(missing[:8])}; not the vectors' activations?")
    denoising = vectors.metadata.get("denoising", {})
    components = None
    if denoising.get("applied"):
        components = neutral_components(denoising["neutral"], vectors.layers, denoising["variance_threshold"])
    grams = []
    for slot in range(len(vectors.layers)):
        m = acts.means[:, slot].astype(np.float64)
        m = np.where(usable[:, None], m, 0.0)
        if components is not None:
            m = project_out(m, components[slot][0])
        grams.append(m @ m.T)
    n = len(vectors.emotions)
    matched, targets = _matched_targets(n, matched_rows, values)
    weighting = vectors.metadata.get("weighting", "token")
    samples = bootstrap_story_correlations(grams, groups, acts.counted, matched, targets,
                                           [s[:, :2] for s in scores], n_boot, seed, weighting)  # fmt: skip
    for j, (name, _, _) in enumerate(HEADLINE):
        low, high = abs_r_ci(samples[:, :, j], table[f"{name}_signed"].to_numpy(), level)
        table[f"{name}_story_ci_low"], table[f"{name}_story_ci_high"] = low, high


def _add_permutations(table, vectors, scores, matched_rows, values, n_perm, seed) -> None:
    for name, pc, d in HEADLINE:
        fixed = np.stack([s[matched_rows, pc - 1] for s in scores])  # [L, n_matched]
        null = permutation_null(fixed, values[d], n_perm, seed)
        observed = table[name].to_numpy()
        table[f"{name}_p"] = p_value(null, observed)
        table[f"{name}_p_max"] = p_value(null.max(axis=1)[:, None], observed)
    for d in ("valence", "arousal"):
        nulls = [random_direction_null(vectors.vectors[matched_rows, slot], values[d], n_perm, seed + slot)
                 for slot in range(len(vectors.layers))]  # fmt: skip
        table[f"readout_r_{d}_p_random"] = [p_value(null, r)[()] for null, r in zip(nulls, table[f"readout_r_{d}"])]


REQUIRED = [
    "layer", "relative_depth", "n_emotions", "n_matched", "evr_pc1", "evr_pc2",
    "r_pc1_valence", "r_pc2_arousal", "r_pc1_valence_signed", "r_pc2_arousal_signed",
    "best_pc_valence", "best_r_valence", "best_pc_arousal", "best_r_arousal",
    "readout_r_valence", "readout_r_arousal",
    "r_pc1_valence_ci_low", "r_pc1_valence_ci_high", "r_pc1_valence_p",
    "r_pc2_arousal_ci_low", "r_pc2_arousal_ci_high", "r_pc2_arousal_p",
]  # fmt: skip


def _column_order(columns) -> list[str]:
    front = [c for c in REQUIRED if c in columns]
    return front + [c for c in columns if c not in front]


def _summary(table: pd.DataFrame) -> dict:
    summary = {}
    for metric in ("r_pc1_valence", "r_pc2_arousal", "readout_r_valence", "readout_r_arousal"):
        best = int(table[metric].to_numpy().argmax())
        row = table.iloc[best]
        entry = {"value": float(row[metric]), "layer": int(row["layer"]), "relative_depth": row["relative_depth"]}
        for suffix in ("ci_low", "ci_high", "p", "p_max", "p_random"):
            column = f"{metric}_{suffix}"
            if column in table:
                entry[suffix] = float(row[column])
        summary[f"peak_{metric}"] = entry
    return summary


def _records(table: pd.DataFrame) -> list[dict]:
    return json.loads(table.to_json(orient="records"))


def _check_same_source(vectors, stories) -> None:
    """The story bootstrap needs the very activations the vectors were built from."""
    from emovec.extraction.activations import read_manifest

    manifest = read_manifest(stories)
    meta = vectors.metadata
    model, d = manifest["model"], vectors.vectors.shape[2]
    if model.get("hidden_size") != d:
        raise EmovecError(f"{stories}: activations of d = {model.get('hidden_size')}, the vectors have d = {d}; "
                          "pass the activations the vectors were built from")  # fmt: skip
    if meta.get("model") is not None and model.get("name") != meta.get("model"):
        raise EmovecError(f"{stories}: activations of {model.get('name')}, the vectors come from {meta.get('model')}")
    if meta.get("corpus_sha256") is not None and manifest["corpus"]["sha256"] != meta["corpus_sha256"]:
        raise EmovecError(f"{stories}: activations of another corpus than the one the vectors were built from")
