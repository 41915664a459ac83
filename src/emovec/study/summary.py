"""A plain-language summary of a study's results: what the numbers show, and what they do not."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

ALPHA = 0.05


def _ci(row: pd.Series, name: str) -> str:
    low, high = row.get(f"peak_{name}_ci_low"), row.get(f"peak_{name}_ci_high")
    return "" if low is None or pd.isna(low) else f" (95% CI {low:.2f}-{high:.2f})"


def _p(row: pd.Series, name: str) -> str:
    p = row.get(f"peak_{name}_p_max")
    if p is None or pd.isna(p):
        return ""
    verdict = "beats" if p < ALPHA else "does not beat"
    return f"; it {verdict} the max-over-layers permutation null (p = {p:.3g})"


def condition_sentences(row: pd.Series, table: pd.DataFrame | None) -> str:
    """One paragraph for one model x corpus."""
    who = f"<b>{html.escape(str(row['model']))}</b> on <b>{html.escape(str(row['corpus']))}</b>"
    parts = [f"{who} ({int(row['n_matched'])} rated emotions):"]
    depth = row["peak_r_pc1_valence_depth"]
    parts.append(f"PC1 tracks valence at most |r| = {row['peak_r_pc1_valence']:.2f} at depth {depth:.2f}"
                 f"{_ci(row, 'r_pc1_valence')}{_p(row, 'r_pc1_valence')}.")  # fmt: skip
    if table is not None and "best_r_valence" in table:
        best = table.loc[table["best_r_valence"].idxmax()]
        pc = int(best["best_pc_valence"])
        where = f"PC{pc} at depth {best['relative_depth']:.2f}"
        if pc != 1 and best["best_r_valence"] > row["peak_r_pc1_valence"] + 0.1:
            parts.append(f"Valence is clearer on another axis: {where} reaches |r| = {best['best_r_valence']:.2f}, "
                         "so PC1 alone understates it.")  # fmt: skip
        else:
            parts.append(f"The best valence axis is {where} (|r| = {best['best_r_valence']:.2f}).")
    parts.append(f"A cross-validated linear readout of valence from the whole vectors reaches r = "
                 f"{row['peak_readout_r_valence']:.2f}, of arousal r = {row['peak_readout_r_arousal']:.2f}; "
                 f"PC2 tracks arousal at most |r| = {row['peak_r_pc2_arousal']:.2f}{_ci(row, 'r_pc2_arousal')}"
                 f"{_p(row, 'r_pc2_arousal')}.")  # fmt: skip
    return " ".join(parts)


def comparison_sentences(directory: Path) -> list[str]:
    """One sentence per model-vs-model or corpus-vs-corpus comparison."""
    sentences = []
    for path in sorted((directory / "comparisons").glob("*.csv")):
        if path.stem.endswith("__cka"):
            continue
        table = pd.read_csv(path)
        if table.empty:
            continue
        label = html.escape(path.stem.replace("__", ": ").replace("_vs_", " vs "))
        best = table.loc[table["rsa"].idxmax()]
        sentences.append(
            f"{label}: by relative depth, RSA (rank correlation of the two cosine matrices over "
            f"{int(best['n_shared'])} shared emotions) ranges {table['rsa'].min():.2f} to {table['rsa'].max():.2f}, "
            f"highest at depth {best['relative_depth_a']:.2f}; linear CKA {table['cka'].min():.2f} to "
            f"{table['cka'].max():.2f}."
        )
    return sentences


def summary_html(results: pd.DataFrame, layer_tables: dict[str, pd.DataFrame], directory: Path) -> str:
    """The report's "What the numbers show" section."""
    shows = [condition_sentences(row, layer_tables.get(f"{row['model']}__{row['corpus']}"))
             for _, row in results.iterrows()]  # fmt: skip
    shows += comparison_sentences(directory)
    n_min, n_max = int(results["n_matched"].min()), int(results["n_matched"].max())
    counted = f"{n_max}" if n_min == n_max else f"{n_min} to {n_max}"
    caveats = [
        f"Every correlation is over {counted} rated emotions: "
        "intervals are wide, and a peak picked from many layers is judged against the max-over-layers null, "
        "not against a single-layer p-value.",
        "These are correlations between the geometry of contrast vectors and human ratings of emotion words. They "
        "say the model separates the stories along an axis that matches human valence (or arousal); they do not "
        "say what the model does with that axis. Causal tests (steering) answer that.",
        "PC signs are arbitrary (|r| is reported); PCs with nearly equal variance can swap between resamples, "
        "which widens the intervals of PC1 and PC2.",
        "One corpus is one way of evoking each emotion: numbers from another corpus, story length or prompt "
        "format can differ, which is why studies compare corpora.",
    ]
    items = "".join(f"<li>{s}</li>" for s in shows)
    notes = "".join(f"<li>{html.escape(s)}</li>" for s in caveats)
    return f"<ul>{items}</ul><p><b>What they do not show</b></p><ul>{notes}</ul>"
