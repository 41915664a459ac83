"""Building contrast vectors from an activations directory: emotion mean minus the mean over emotions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emovec.errors import EmovecError
from emovec.extraction.activations import emotion_means, read_manifest, residual_norms
from emovec.vectors.denoising import neutral_components, project_out
from emovec.vectors.emotion_vectors import EmotionVectors

MIN_EMOTIONS = 3


def build_vectors(
    activations: str | Path,
    *,
    emotions: list[str] | None = None,
    weighting: str = "token",
    neutral: str | Path | None = None,
    denoise_variance: float = 0.5,
) -> EmotionVectors:
    """Contrast vectors from an activations directory, optionally restricted to an emotion set and denoised."""
    manifest = read_manifest(activations)
    means = emotion_means(activations, weighting=weighting)
    available = means.emotions
    if emotions is None:
        chosen = available
        missing: list[str] = []
    else:
        chosen = [e for e in emotions if e in available]
        missing = [e for e in emotions if e not in available]
    if len(chosen) < MIN_EMOTIONS:
        raise EmovecError(
            f"{activations}: only {len(chosen)} of the requested emotions have stories (need at least {MIN_EMOTIONS})"
        )
    rows = [available.index(e) for e in chosen]
    selected = means.means[rows]
    if np.isnan(selected).any():
        empty = [e for e, r in zip(chosen, rows) if means.n_stories[r] == 0]
        raise EmovecError(f"{activations}: no story past the skip offset for {', '.join(empty[:10])}")
    grand = selected.mean(axis=0)
    vectors = selected - grand
    denoising: dict = {"applied": False}
    if neutral is not None:
        _check_same_model(manifest, read_manifest(neutral), activations, neutral)
        components = neutral_components(neutral, means.layers, denoise_variance)
        for slot, (comps, _) in enumerate(components):
            vectors[:, slot] = project_out(vectors[:, slot], comps)
        denoising = {
            "applied": True,
            "neutral": str(neutral),
            "neutral_corpus_sha256": read_manifest(neutral)["corpus"]["sha256"],
            "variance_threshold": denoise_variance,
            "n_components": [int(len(c)) for c, _ in components],
            "variance_removed": [round(v, 6) for _, v in components],
        }
    metadata = {
        "model": manifest["model"]["name"],
        "model_revision": manifest["model"].get("revision"),
        "model_class": manifest["model"].get("class"),
        "n_blocks": manifest["model"].get("n_blocks"),
        "pooling": {"skip_tokens": manifest["config"]["skip_tokens"], "max_length": manifest["config"]["max_length"],
                    "text_format": manifest["config"]["text_format"]},
        "weighting": weighting,
        "denoising": denoising,
        "corpus_sha256": manifest["corpus"]["sha256"],
        "activations": str(activations),
        "n_stories": {e: int(means.n_stories[r]) for e, r in zip(chosen, rows)},
        "n_tokens": {e: int(means.n_tokens[r]) for e, r in zip(chosen, rows)},
        "emotions_missing_from_corpus": missing,
        "emotions_not_in_set": [e for e in available if e not in chosen],
        "stories_without_tokens_past_skip": len(means.excluded_ids),
    }  # fmt: skip
    return EmotionVectors(
        vectors=vectors.astype(np.float32),
        emotions=list(chosen),
        layers=list(means.layers),
        relative_depths=list(means.relative_depths),
        emotion_means=selected.astype(np.float32),
        grand_mean=grand.astype(np.float32),
        residual_norm=residual_norms(activations).astype(np.float32),
        metadata=metadata,
    )


def _check_same_model(manifest: dict, neutral_manifest: dict, activations, neutral) -> None:
    a, b = manifest["model"], neutral_manifest["model"]
    if (a["name"], a.get("revision"), a["hidden_size"]) != (b["name"], b.get("revision"), b["hidden_size"]):
        raise EmovecError(f"{neutral}: neutral activations come from {b['name']}, not {a['name']} like {activations}")
    missing = [k for k in manifest["layers"] if k not in neutral_manifest["layers"]]
    if missing:
        raise EmovecError(f"{neutral}: neutral activations lack layers {missing[:10]} that {activations} has")
