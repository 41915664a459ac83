"""A study's results: one row per (model, corpus), per-layer tables, cross-condition comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from emovec.analysis.compare import cka_matrix, compare_by_layer
from emovec.models.bundled import bundled_model
from emovec.study.plan import Plan
from emovec.vectors.emotion_vectors import load_vectors

PEAKS = ("r_pc1_valence", "r_pc2_arousal", "best_r_valence", "best_r_arousal", "readout_r_valence", "readout_r_arousal")


def condition_table(plan: Plan, model: str, corpus: str) -> pd.DataFrame:
    return pd.read_csv(plan.find("analyze", f"{model}__{corpus}").directory / "geometry.csv")


def results_table(plan: Plan) -> pd.DataFrame:
    """Peaks per condition: value, layer, relative depth, CI and max-over-layers p where available."""
    rows = []
    for model, corpus in plan.conditions:
        table = condition_table(plan, model, corpus)
        row = {"model": model, "corpus": corpus, "n_emotions": int(table["n_emotions"].iloc[0]),
               "n_matched": int(table["n_matched"].iloc[0])}  # fmt: skip
        for metric in PEAKS:
            peak = table.loc[table[metric].idxmax()]
            row[f"peak_{metric}"] = peak[metric]
            row[f"peak_{metric}_layer"] = int(peak["layer"])
            row[f"peak_{metric}_depth"] = peak["relative_depth"]
            for suffix in ("ci_low", "ci_high", "p_max"):
                if f"{metric}_{suffix}" in table:
                    row[f"peak_{metric}_{suffix}"] = peak[f"{metric}_{suffix}"]
        rows.append(row)
    return pd.DataFrame(rows)


def comparisons(plan: Plan) -> dict[str, pd.DataFrame]:
    """Corpus vs corpus for each model; model vs model (by relative depth) for each corpus."""
    study = plan.study
    vectors = {(m, c): load_vectors(plan.find("vectors", f"{m}__{c}").directory) for m, c in plan.conditions}
    out: dict[str, pd.DataFrame] = {}
    corpora, models = [c.name for c in study.corpora], [m.name for m in study.models]
    for m in models:
        for i, a in enumerate(corpora):
            for b in corpora[i + 1 :]:
                out[f"{m}__{a}_vs_{b}"] = _safe_compare(vectors[(m, a)], vectors[(m, b)])
    for c in corpora:
        for i, a in enumerate(models):
            for b in models[i + 1 :]:
                out[f"{c}__{a}_vs_{b}"] = _safe_compare(vectors[(a, c)], vectors[(b, c)])
                out[f"{c}__{a}_vs_{b}__cka"] = cka_matrix(vectors[(a, c)], vectors[(b, c)])
    return {k: v for k, v in out.items() if v is not None}


def _safe_compare(a, b) -> pd.DataFrame | None:
    from emovec.errors import EmovecError

    try:
        return compare_by_layer(a, b)
    except EmovecError:  # fewer than 3 shared emotions: nothing to compare
        return None


def write_results(plan: Plan) -> dict[str, Path]:
    """Write results.csv, tables/<model>__<corpus>.csv and comparisons/*.csv under the study directory."""
    out = plan.out
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "comparisons").mkdir(parents=True, exist_ok=True)
    results = results_table(plan)
    results.to_csv(out / "results.csv", index=False, float_format="%.6g")
    for model, corpus in plan.conditions:
        condition_table(plan, model, corpus).to_csv(out / "tables" / f"{model}__{corpus}.csv", index=False,
                                                    float_format="%.6g")  # fmt: skip
    for name, table in comparisons(plan).items():
        table.to_csv(out / "comparisons" / f"{name}.csv", index=name.endswith("__cka"), float_format="%.6g")
    provenance = {"study": plan.study.name, "conditions": [], "stages": {}}
    for model, corpus in plan.conditions:
        acts = plan.find("extract", f"{model}__{corpus}").directory / "activations" / "manifest.json"
        manifest = json.loads(acts.read_text())
        source = manifest["model"].get("source") or {}
        entry = bundled_model(source["bundled"]) if source.get("bundled") else None
        vectors = json.loads((plan.find("vectors", f"{model}__{corpus}").directory / "metadata.json").read_text())
        provenance["conditions"].append({"model": model, "corpus": corpus, "model_id": manifest["model"]["name"],
                                         "revision": manifest["model"]["revision"], "source": source,
                                         "notice": entry.notice if entry else None,
                                         "corpus_sha256": manifest["corpus"]["sha256"],
                                         "stories_per_emotion": vectors.get("n_stories"),
                                         "versions": manifest["versions"]})  # fmt: skip
    provenance["stages"] = {f"{s.kind}:{s.label}": s.digest for s in plan.stages}
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    return {"results": out / "results.csv"}
