"""``emovec report``: one self-contained report.html for a study directory."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from emovec.errors import EmovecError
from emovec.report.html import glossary_html, table_html, write_report
from emovec.study.summary import summary_html

# Key columns first: what a reader compares across conditions, then the intervals and p-values behind them.
RESULT_COLUMNS = ["model", "corpus", "n_matched", "peak_r_pc1_valence", "peak_r_pc1_valence_depth",
                  "peak_best_r_valence", "peak_readout_r_valence", "peak_r_pc2_arousal", "peak_r_pc2_arousal_depth",
                  "peak_readout_r_arousal", "peak_r_pc1_valence_ci_low", "peak_r_pc1_valence_ci_high",
                  "peak_r_pc1_valence_p_max", "peak_r_pc2_arousal_ci_low", "peak_r_pc2_arousal_ci_high",
                  "peak_r_pc2_arousal_p_max", "peak_r_pc1_valence_layer", "peak_r_pc2_arousal_layer",
                  "n_emotions"]  # fmt: skip
LAYER_COLUMNS = ["layer", "relative_depth", "r_pc1_valence", "best_pc_valence", "best_r_valence",
                 "readout_r_valence", "r_pc2_arousal", "readout_r_arousal", "r_pc1_valence_ci_low",
                 "r_pc1_valence_ci_high", "r_pc1_valence_p", "r_pc2_arousal_ci_low", "r_pc2_arousal_ci_high",
                 "evr_pc1"]  # fmt: skip
GLOSSARY = {
    "model": "the study's name for the model",
    "corpus": "the study's name for the corpus the model read",
    "n_matched": "emotions of the set that have stories and human ratings (correlations use these)",
    "n_emotions": "emotions with stories (PCA uses all of them)",
    "layer": "0 = embedding output, k = output of block k",
    "relative_depth": "layer / number of blocks",
    "r_pc1_valence": "|Pearson r| between the emotions' scores on PC1 and human valence",
    "r_pc2_arousal": "|Pearson r| between PC2 scores and human arousal",
    "best_pc_valence": "the top-10 PC whose scores correlate best with valence",
    "best_r_valence": "|r| of that best PC with valence (PC1 alone can miss valence)",
    "readout_r_valence": "Pearson r of a cross-validated ridge readout of valence from the full vectors",
    "readout_r_arousal": "the same readout for arousal",
    "evr_pc1": "share of the vectors' variance on PC1",
    "peak_r_pc1_valence": "the largest r_pc1_valence over layers",
    "peak_r_pc1_valence_depth": "relative depth of that peak",
    "peak_best_r_valence": "the largest best_r_valence over layers",
    "peak_readout_r_valence": "the largest readout_r_valence over layers",
    "peak_r_pc2_arousal": "the largest r_pc2_arousal over layers",
    "peak_r_pc2_arousal_depth": "relative depth of that peak",
    "peak_readout_r_arousal": "the largest readout_r_arousal over layers",
    "peak_r_pc1_valence_ci_low": "95% bootstrap CI (over emotions, PCA refitted) of the peak, lower end",
    "peak_r_pc1_valence_ci_high": "upper end of that CI",
    "peak_r_pc1_valence_p_max": "permutation p of the peak against the maximum over layers of shuffled ratings",
    "r_pc1_valence_ci_low": "95% bootstrap CI of r_pc1_valence, lower end (upper: _ci_high)",
    "r_pc1_valence_p": "permutation p-value at this layer",
}


def find_study_directory(study: str | Path) -> Path:
    """The directory of a study given as its directory, its name (in the current directory) or its .toml file."""
    study = Path(study)
    if study.suffix == ".toml" and study.is_file():
        from emovec.study.spec import load_study

        spec, _ = load_study(study)
        study = Path(spec.out or spec.name)
    if not (study / "results.csv").exists():
        raise EmovecError(f"{study}: no finished study there (looked for {study.resolve() / 'results.csv'}); "
                          "run it first with emovec run STUDY.toml")  # fmt: skip
    return study


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
    layer_tables = {path.stem: pd.read_csv(path) for path in sorted((directory / "tables").glob("*.csv"))}
    tables = [("Results: peaks per model and corpus",
               table_html(results, RESULT_COLUMNS) + glossary_html(GLOSSARY, RESULT_COLUMNS))]  # fmt: skip
    for stem, table in layer_tables.items():
        model, _, corpus = stem.partition("__")
        tables.append((f"By layer: {model} on {corpus}", table_html(table, LAYER_COLUMNS)))
    if layer_tables:
        tables[-1] = (tables[-1][0], tables[-1][1] + glossary_html(GLOSSARY, LAYER_COLUMNS))
    comparisons = sorted(p for p in (directory / "comparisons").glob("*.csv") if not p.stem.endswith("__cka"))
    for path in comparisons:
        tables.append((f"Comparison {path.stem.replace('__', ': ').replace('_vs_', ' vs ')}",
                       table_html(pd.read_csv(path))))  # fmt: skip
    tables.extend(_probing_sections(directory))
    tables.extend(_steering_sections(directory))
    study_text = (directory / "study.toml").read_text() if (directory / "study.toml").exists() else ""
    provenance = json.loads((directory / "provenance.json").read_text())
    folded = [("Study file", f"<pre>{html.escape(study_text)}</pre>")]
    name = provenance.get("study", directory.name)
    n_models, n_corpora = results["model"].nunique(), results["corpus"].nunique()
    intro = (f"Study <b>{html.escape(name)}</b>: {n_models} {'model' if n_models == 1 else 'models'} x "
             f"{n_corpora} {'corpus' if n_corpora == 1 else 'corpora'}, emotion vectors at every layer against human "
             "valence and arousal ratings, with bootstrap CIs and permutation p-values.")  # fmt: skip
    notices = [c.get("notice") for c in provenance.get("conditions", []) if c.get("notice")]
    if notices:
        intro += "".join(f"<p class='note'>{html.escape(n)}</p>" for n in dict.fromkeys(notices))
    return write_report(directory / "report.html", title=f"emovec study: {name}", intro=intro, figures=figures,
                        tables=tables, provenance=provenance, summary=summary_html(results, layer_tables, directory),
                        folded=folded)  # fmt: skip


def _probing_sections(directory: Path) -> list[tuple[str, str]]:
    """Per detect stage: the battery's accuracy by layer and a token heatmap of the study's passages."""
    from emovec.probing.page import token_heatmap_html
    from emovec.probing.probe import load_probe

    sections = []
    for stage in sorted((directory / "stages" / "detect").glob("*")):
        label = stage.name.rsplit("-", 1)[0]
        if (stage / "detection.csv").exists():
            table = pd.read_csv(stage / "detection.csv")
            columns = [c for c in ("layer", "n", "top1", "chance_top1", "top1_random_mean", "top1_p_perm",
                                   "top1_p_random", "top3", "chance_top3") if c in table]  # fmt: skip
            sections.append((f"Scenario battery: {label.replace('__', ' on ')}", table_html(table[columns])))
        if (stage / "probe" / "probe.json").exists():
            result = load_probe(stage / "probe")
            layer = result.layers[0]
            flat = np.concatenate(result.scores[layer]).mean(axis=0)
            emotion = result.emotions[int(np.argmax(flat))]
            heatmap = token_heatmap_html(result, layer, emotion)
            sections.append((f"Token heatmap: {label.replace('__', ' on ')}", heatmap))
    return sections


def _steering_sections(directory: Path) -> list[tuple[str, str]]:
    """Per steer stage: example replies of the first prompt at each emotion's strengths, with their read-back."""
    sections = []
    for stage in sorted((directory / "stages" / "steer").glob("*")):
        if not (stage / "steer.json").exists():
            continue
        table = pd.read_csv(stage / "steer.csv", keep_default_na=False, na_values=[""])
        first = table[(table["prompt_id"] == 1) & ~table["control"].astype(bool)]
        shown = first[["condition", "strength", "readback", "perplexity", "distinct_2", "text"]].copy()
        shown = shown.sort_values(["condition", "strength"])
        label = stage.name.rsplit("-", 1)[0].replace("__", " on ")
        prompt = html.escape(str(table["prompt"].iloc[0]))
        sections.append((f"Steering examples: {label}", f"<p>Prompt: <i>{prompt}</i></p>" + table_html(shown)))
    return sections
