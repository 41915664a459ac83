"""``emovec report``: one self-contained report.html for a study directory."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from emovec.errors import EmovecError
from emovec.report.html import table_html, write_report

RESULT_COLUMNS = ["model", "corpus", "n_emotions", "n_matched", "peak_r_pc1_valence", "peak_r_pc1_valence_layer",
                  "peak_r_pc1_valence_depth", "peak_r_pc1_valence_ci_low", "peak_r_pc1_valence_ci_high",
                  "peak_r_pc1_valence_p_max", "peak_r_pc2_arousal", "peak_r_pc2_arousal_layer",
                  "peak_r_pc2_arousal_ci_low", "peak_r_pc2_arousal_ci_high", "peak_r_pc2_arousal_p_max",
                  "peak_best_r_valence", "peak_readout_r_valence", "peak_readout_r_arousal"]  # fmt: skip
LAYER_COLUMNS = ["layer", "relative_depth", "evr_pc1", "r_pc1_valence", "r_pc1_valence_ci_low",
                 "r_pc1_valence_ci_high", "r_pc1_valence_p", "r_pc2_arousal", "r_pc2_arousal_ci_low",
                 "r_pc2_arousal_ci_high", "best_pc_valence", "best_r_valence", "readout_r_valence",
                 "readout_r_arousal"]  # fmt: skip


def write_study_report(directory: str | Path, figures: list[tuple[Path, str]] | None = None) -> Path:
    """Build ``report.html`` from a finished study directory (results, tables, figures, study file, provenance)."""
    directory = Path(directory)
    results_path = directory / "results.csv"
    if not results_path.exists():
        raise EmovecError(f"{directory}: no results.csv; run the study first (emovec run STUDY.toml)")
    results = pd.read_csv(results_path)
    if figures is None:
        captions = json.loads((directory / "figures" / "captions.json").read_text())
        figures = [(directory / "figures" / name, caption) for name, caption in captions.items()]
    tables = [("Results: peaks per model and corpus", table_html(results, RESULT_COLUMNS))]
    for path in sorted((directory / "tables").glob("*.csv")):
        model, _, corpus = path.stem.partition("__")
        tables.append((f"By layer: {model} on {corpus}", table_html(pd.read_csv(path), LAYER_COLUMNS)))
    comparisons = sorted(p for p in (directory / "comparisons").glob("*.csv") if not p.stem.endswith("__cka"))
    for path in comparisons:
        tables.append((f"Comparison {path.stem.replace('__', ': ').replace('_vs_', ' vs ')}",
                       table_html(pd.read_csv(path))))  # fmt: skip
    study_text = (directory / "study.toml").read_text() if (directory / "study.toml").exists() else ""
    tables.append(("Study file", f"<pre>{html.escape(study_text)}</pre>"))
    provenance = json.loads((directory / "provenance.json").read_text())
    name = provenance.get("study", directory.name)
    n_models, n_corpora = results["model"].nunique(), results["corpus"].nunique()
    intro = (f"Study <b>{html.escape(name)}</b>: {n_models} {'model' if n_models == 1 else 'models'} x "
             f"{n_corpora} {'corpus' if n_corpora == 1 else 'corpora'}, emotion vectors at every layer against human "
             "valence and arousal ratings, with bootstrap CIs and permutation p-values.")  # fmt: skip
    return write_report(directory / "report.html", title=f"emovec study: {name}", intro=intro, figures=figures,
                        tables=tables, provenance=provenance)  # fmt: skip
