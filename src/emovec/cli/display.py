"""Printing results as rich tables."""

from __future__ import annotations

from emovec.progress import table_console


def print_geometry(geometry) -> None:
    from rich.table import Table

    data = geometry.table

    def headline(row, name: str) -> str:
        text = f"{row[name]:.3f}"
        if f"{name}_ci_low" in data:
            text += f" [{row[name + '_ci_low']:.2f}, {row[name + '_ci_high']:.2f}]"
        if f"{name}_p" in data:
            text += f" p={row[name + '_p']:.3g}"
        return text

    table = Table(title="Emotion-vector geometry by layer")
    for label in ("layer", "depth", "|r| PC1~valence", "|r| PC2~arousal", "best PC val", "readout val",
                  "readout aro", "EVR PC1"):  # fmt: skip
        table.add_column(label, justify="right")
    for _, row in data.iterrows():
        depth = (
            "-"
            if row["relative_depth"] is None or row["relative_depth"] != row["relative_depth"]
            else (f"{row['relative_depth']:.2f}")
        )
        table.add_row(
            f"{row['layer']:.0f}",
            depth,
            headline(row, "r_pc1_valence"),
            headline(row, "r_pc2_arousal"),
            f"PC{row['best_pc_valence']:.0f} ({row['best_r_valence']:.2f})",
            f"{row['readout_r_valence']:.3f}",
            f"{row['readout_r_arousal']:.3f}",
            f"{row['evr_pc1']:.3f}",
        )
    console = table_console(160)
    console.print(table)


def print_results(path) -> None:
    """One row per model x corpus: the peaks of a study's results.csv, with CIs and max-over-layers p."""
    import pandas as pd
    from rich.table import Table

    results = pd.read_csv(path)

    def peak(row, name: str) -> str:
        text = f"{row[f'peak_{name}']:.2f} @ {row[f'peak_{name}_depth']:.2f}"
        if f"peak_{name}_ci_low" in results:
            text += f" [{row[f'peak_{name}_ci_low']:.2f}, {row[f'peak_{name}_ci_high']:.2f}]"
        if f"peak_{name}_p_max" in results:
            text += f" p_max={row[f'peak_{name}_p_max']:.3g}"
        return text

    table = Table(title="Peaks per model and corpus (value @ relative depth [95% CI], max-over-layers p)")
    for label in ("model", "corpus", "emotions", "|r| PC1~valence", "|r| PC2~arousal", "best PC~valence",
                  "readout valence", "readout arousal"):  # fmt: skip
        table.add_column(label, justify="right")
    for _, row in results.iterrows():
        table.add_row(str(row["model"]), str(row["corpus"]), f"{row['n_matched']}/{row['n_emotions']}",
                      peak(row, "r_pc1_valence"), peak(row, "r_pc2_arousal"), peak(row, "best_r_valence"),
                      peak(row, "readout_r_valence"), peak(row, "readout_r_arousal"))  # fmt: skip
    console = table_console(200)
    console.print(table)
