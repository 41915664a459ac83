"""``detect``: run the scenario battery (bundled or a user file of text and target) and intensity templates.

Battery reads default to ``reference="texts"``: each battery is centred on its own mean at the read position.
The extraction corpus's grand mean is a mean over story tokens; a reply-start token sits far from it, and that
common offset, uncentred, lets a few hub emotions win every scenario (SmolLM2, sonnet45 vectors, the shared
implicit scenarios: top-1 0.00 centred on the grand mean, 0.30 on the scenarios' own mean).
``reference="grand_mean"`` (or an activations directory) gives the other centrings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emovec.errors import EmovecError, SettingError
from emovec.models.loaded import LoadedModel
from emovec.probing.battery import (
    BatteryResult,
    fill_template,
    intensity_table,
    score_battery,
    with_random_directions,
)
from emovec.probing.probe import probe
from emovec.vectors.emotion_vectors import EmotionVectors, load_vectors


def detect_scenarios(
    model: LoadedModel | str | Path, vectors: EmotionVectors | str | Path, texts: pd.DataFrame, *,
    layers: str | list[int] = "all", positions: str = "reply-start", text_format: str = "chat",
    chat_role: str = "user", score: str = "cosine", reference: str | Path | None = "texts", permutations: int = 1000,
    random_sets: int = 100, seed: int = 0,
    batch_size: int = 8, device: str | None = None, dtype: str = "float32", progress: bool = True,
) -> BatteryResult:  # fmt: skip
    """Scores of ``texts`` (columns id, target, text) and their top-k accuracy with both nulls, per layer."""
    chosen = vectors if isinstance(vectors, EmotionVectors) else load_vectors(vectors)
    if positions == "tokens":
        raise SettingError("positions", "tokens gives no single score per text; use reply-start, last or mean")
    augmented = with_random_directions(chosen, random_sets, seed)
    result = probe(model, augmented, texts["text"].tolist(), ids=texts["id"].tolist(), layers=layers,
                   text_format=text_format, chat_role=chat_role, positions=positions, score=score,
                   reference=reference, batch_size=batch_size, device=device, dtype=dtype,
                   progress=progress)  # fmt: skip
    battery = score_battery(result.scores, result.emotions, texts[["id", "target", "text"]],
                            permutations=permutations, seed=seed)  # fmt: skip
    battery.settings.update(positions=positions, text_format=text_format, chat_role=chat_role, score=score,
                            reference=str(reference) if reference else "grand_mean",
                            model=result.settings["model"], vectors_model=chosen.metadata.get("model"))  # fmt: skip
    return battery


def detect_intensity(
    model: LoadedModel | str | Path, vectors: EmotionVectors | str | Path, templates: list[dict], *,
    layers: str | list[int] = "all", positions: str = "reply-start", text_format: str = "chat",
    chat_role: str = "user", score: str = "cosine", reference: str | Path | None = "texts", batch_size: int = 8,
    device: str | None = None,
    dtype: str = "float32", progress: bool = True,
) -> tuple[pd.DataFrame, dict[str, dict[int, np.ndarray]], list[str]]:  # fmt: skip
    """Per template, layer and expected emotion: Spearman rho of its score with the slot's value."""
    chosen = vectors if isinstance(vectors, EmotionVectors) else load_vectors(vectors)
    usable = [t for t in templates if any(e in chosen.emotions for e in [*t.get("rises", []), *t.get("falls", [])])]
    if not usable:
        raise EmovecError("no template names an emotion the vectors have")
    sentences = [s for t in usable for s in fill_template(t)]
    ids = [f"{t['id']}:{v}" for t in usable for v in t["values"]]
    result = probe(model, chosen, sentences, ids=ids, layers=layers, text_format=text_format,
                   chat_role=chat_role, positions=positions, score=score, reference=reference,
                   batch_size=batch_size, device=device, dtype=dtype, progress=progress)  # fmt: skip
    tables, per_template, start = [], {}, 0
    for template in usable:
        stop = start + len(template["values"])
        scores = {layer: np.asarray(result.scores[layer])[start:stop] for layer in result.layers}
        per_template[template["id"]] = scores
        tables.append(intensity_table(template, scores, result.emotions))
        start = stop
    return pd.concat(tables, ignore_index=True), per_template, result.emotions

