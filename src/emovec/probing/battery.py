"""Detection batteries: scenarios that imply an emotion (top-k accuracy with nulls) and intensity templates.

Scenario battery: each text's score vector (read at ``reply-start`` in the chat format by default) ranks the
emotions; top-1 / top-3 accuracy counts texts whose target is first / in the first three, among texts whose
target has a vector. Two nulls: the targets permuted over the texts (permutation p, one-sided, ``(1 + #{null
>= observed}) / (1 + n)``), and random directions of the same norms as the vectors scored on the same
activations (chance for this geometry; p the same way).

Intensity templates: one sentence with a numeric slot ``{X}``, filled with increasing values; per layer, the
Spearman rho of each expected emotion's score with the value, signed so that a positive number means the
expected direction.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from emovec.errors import EmovecError
from emovec.vectors.emotion_vectors import EmotionVectors

RANDOM_PREFIX = "__random"


def bundled_scenarios() -> pd.DataFrame:
    """The bundled scenarios (id, target, text), written for emovec."""
    text = resources.files("emovec.data").joinpath("probing/scenarios.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return pd.DataFrame({"id": [r["id"] for r in rows], "target": [r["emotion"] for r in rows],
                         "text": [r["text"] for r in rows]})  # fmt: skip


def bundled_templates() -> list[dict]:
    """The bundled intensity templates, written for emovec."""
    return json.loads(resources.files("emovec.data").joinpath("probing/templates.json").read_text(encoding="utf-8"))


def with_random_directions(vectors: EmotionVectors, n_sets: int, seed: int) -> EmotionVectors:
    """``vectors`` plus ``n_sets`` sets of random directions, each vector's norm matched at every layer."""
    if n_sets == 0:
        return vectors
    rng = np.random.default_rng(seed)
    e, n_layers, d = vectors.vectors.shape
    noise = rng.normal(size=(n_sets, e, n_layers, d))
    noise *= (np.linalg.norm(vectors.vectors, axis=-1, keepdims=True) / np.linalg.norm(noise, axis=-1, keepdims=True))
    names = [f"{RANDOM_PREFIX}{r}:{name}" for r in range(n_sets) for name in vectors.emotions]
    return EmotionVectors(
        vectors=np.concatenate([vectors.vectors, noise.reshape(n_sets * e, n_layers, d).astype(np.float32)]),
        emotions=[*vectors.emotions, *names], layers=list(vectors.layers), relative_depths=vectors.relative_depths,
        grand_mean=vectors.grand_mean, residual_norm=vectors.residual_norm, metadata=dict(vectors.metadata),
    )  # fmt: skip


def topk_hits(scores: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """[n] bool: is column ``targets[i]`` among the ``k`` largest of row ``i`` (ties count against)."""
    target_scores = scores[np.arange(len(scores)), targets]
    others_at_least = (scores >= target_scores[:, None]).sum(axis=1) - 1  # a tie is not a hit
    return others_at_least < k


@dataclass
class BatteryResult:
    """Per-layer accuracy with nulls, and the score matrix [texts, emotions] per layer."""

    table: pd.DataFrame
    matrices: dict[int, np.ndarray]
    texts: pd.DataFrame  # id, target, text, used (target has a vector)
    emotions: list[str]
    settings: dict

    def __repr__(self) -> str:
        best = self.table.loc[self.table["top1"].idxmax()]
        return (f"BatteryResult({int(best['n'])} texts, {len(self.emotions)} emotions; best top-1 "
                f"{best['top1']:.2f} at layer {int(best['layer'])}, p {best['top1_p_perm']:.3g})")  # fmt: skip


def score_battery(
    scores: dict[int, np.ndarray], emotions: list[str], texts: pd.DataFrame, *, permutations: int = 1000,
    seed: int = 0,
) -> BatteryResult:  # fmt: skip
    """Accuracy and nulls from pooled scores [n, E (+ random sets)] per layer."""
    real = [e for e in emotions if not e.startswith(RANDOM_PREFIX)]
    n_sets = (len(emotions) - len(real)) // max(1, len(real))
    used = texts["target"].isin(real).to_numpy()
    if used.sum() < 2:
        raise EmovecError(f"only {int(used.sum())} texts have a target among the vectors' emotions (need 2); "
                          f"targets: {', '.join(sorted(set(texts['target']))[:10])}")  # fmt: skip
    targets = np.array([real.index(t) for t in texts["target"][used]])
    rng = np.random.default_rng(seed)
    shuffles = np.array([rng.permutation(targets) for _ in range(permutations)])
    rows, matrices = [], {}
    for layer, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        matrix = values[:, : len(real)]
        matrices[layer] = matrix
        kept = matrix[used]
        row = {"layer": layer, "n": int(used.sum()), "n_emotions": len(real), "chance_top1": 1 / len(real),
               "chance_top3": min(3, len(real)) / len(real)}  # fmt: skip
        for k in (1, 3):
            observed = topk_hits(kept, targets, k).mean()
            row[f"top{k}"] = observed
            if permutations:
                null = np.array([topk_hits(kept, s, k).mean() for s in shuffles])
                row[f"top{k}_p_perm"] = (1 + (null >= observed).sum()) / (1 + permutations)
            if n_sets:
                sets = [values[used][:, len(real) * (r + 1): len(real) * (r + 2)] for r in range(n_sets)]
                null = np.array([topk_hits(s, targets, k).mean() for s in sets])
                row[f"top{k}_random_mean"] = null.mean()
                row[f"top{k}_p_random"] = (1 + (null >= observed).sum()) / (1 + n_sets)
        row["target_score_mean"] = kept[np.arange(len(kept)), targets].mean()
        rows.append(row)
    table = pd.DataFrame(rows)
    return BatteryResult(table=table, matrices=matrices, texts=texts.assign(used=used), emotions=real,
                         settings={"permutations": permutations, "random_sets": n_sets, "seed": seed})  # fmt: skip


def fill_template(template: dict) -> list[str]:
    """The template's sentence with each value in the slot (integers without a decimal point)."""
    slot = template["template"]
    if slot.count("{X}") != 1:
        raise EmovecError(f"template {template.get('id')!r}: needs exactly one {{X}} slot")
    return [slot.replace("{X}", f"{v:g}" if isinstance(v, float) else str(v)) for v in template["values"]]


def intensity_table(template: dict, scores: dict[int, np.ndarray], emotions: list[str]) -> pd.DataFrame:
    """Per layer and expected emotion: Spearman rho with the value, and rho signed by the expected direction."""
    values = np.asarray(template["values"], dtype=np.float64)
    rows = []
    for direction, sign in (("rises", 1), ("falls", -1)):
        for emotion in template.get(direction, []):
            if emotion not in emotions:
                continue
            j = emotions.index(emotion)
            for layer, matrix in scores.items():
                with warnings.catch_warnings():  # a constant score (e.g. a tiny model) has no rho: NaN
                    warnings.simplefilter("ignore", stats.ConstantInputWarning)
                    rho = stats.spearmanr(values, np.asarray(matrix)[:, j]).statistic
                rows.append({"template": template["id"], "emotion": emotion, "expected": direction, "layer": layer,
                             "spearman": rho, "signed_spearman": sign * rho})  # fmt: skip
    return pd.DataFrame(rows)


def read_templates(path: str | Path) -> list[dict]:
    """Intensity templates from a JSON list (see the bundled ``templates.json``), checked."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise EmovecError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(data, list) or not data:
        raise EmovecError(f"{path}: expected a non-empty JSON list of templates")
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise EmovecError(f"{path}: template {i}: expected an object")
        for key in ("id", "template", "values"):
            if key not in item:
                raise EmovecError(f"{path}: template {i}: field {key!r} is missing")
        if len(item["values"]) < 3 or not all(isinstance(v, (int, float)) for v in item["values"]):
            raise EmovecError(f"{path}: template {i}: 'values' needs at least 3 numbers")
        fill_template(item)
    return data
