"""Figures of layer-wise geometry (matplotlib, headless): curves against depth and the emotion plane."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emovec.analysis.geometry import pca


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out: str | Path) -> Path:
    """Save ``fig`` as PNG (and SVG beside it when ``out`` is a .png or has no suffix); close it."""
    out = Path(out)
    png = out if out.suffix == ".png" else out.with_suffix(".png")
    fig.tight_layout()
    fig.savefig(png)
    fig.savefig(png.with_suffix(".svg"))
    _pyplot().close(fig)
    return png


def _x(table: pd.DataFrame) -> tuple[np.ndarray, str]:
    if table["relative_depth"].notna().all():
        return table["relative_depth"].to_numpy(dtype=float), "relative depth (0 = embeddings, 1 = last block)"
    return table["layer"].to_numpy(dtype=float), "layer"


def plot_layer_curves(table: pd.DataFrame, out: str | Path, title: str = "") -> Path:
    """|r| of PC1 with valence and PC2 with arousal against depth, with CI bands and readouts."""
    plt = _pyplot()
    x, label = _x(table)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=130)
    for metric, name, color in (("r_pc1_valence", "|r| PC1 ~ valence", "#c0392b"),
                                ("r_pc2_arousal", "|r| PC2 ~ arousal", "#2471a3")):  # fmt: skip
        ax.plot(x, table[metric], marker="o", ms=3.5, color=color, label=name)
        if f"{metric}_ci_low" in table:
            ax.fill_between(x, table[f"{metric}_ci_low"], table[f"{metric}_ci_high"], color=color, alpha=0.10,
                            linewidth=0, label=f"95% bootstrap CI ({name.split()[1]})")  # fmt: skip
    for metric, name, color in (("readout_r_valence", "readout r (valence, CV)", "#c0392b"),
                                ("readout_r_arousal", "readout r (arousal, CV)", "#2471a3")):  # fmt: skip
        ax.plot(x, table[metric], linestyle="--", linewidth=1, color=color, alpha=0.7, label=name)
    if "best_r_valence" in table:
        ax.plot(x, table["best_r_valence"], linestyle=":", linewidth=1.4, color="#7d3c98",
                label="|r| best PC ~ valence")  # fmt: skip
    ax.set_xlabel(label)
    ax.set_ylabel("correlation with human ratings")
    ax.set_ylim(min(0.0, float(np.nanmin(table[["readout_r_valence", "readout_r_arousal"]].to_numpy())) - 0.05), 1.0)
    ax.axhline(0, color="#888", linewidth=0.6)
    ax.grid(alpha=0.3)
    ax.set_title(title or "Emotion-vector geometry by depth")
    ax.legend(fontsize=7, loc="best", ncol=2)
    return save_figure(fig, out)


def plot_emotion_plane(
    vectors: np.ndarray,
    emotions: list[str],
    valence: dict[str, float],
    out: str | Path,
    title: str = "",
    pcs: tuple[int, int] = (1, 2),
) -> Path:
    """The emotions on two principal components (1-based ``pcs``) of one layer's vectors, coloured by valence."""
    plt = _pyplot()
    result = pca(vectors, max(pcs))
    scores = result.scores[:, [pcs[0] - 1, pcs[1] - 1]]
    colours = np.array([valence.get(e, np.nan) for e in emotions])
    fig, ax = plt.subplots(figsize=(7, 6), dpi=130)
    known = ~np.isnan(colours)
    points = ax.scatter(scores[known, 0], scores[known, 1], c=colours[known], cmap="coolwarm_r", vmin=-1, vmax=1,
                        s=36, edgecolor="#333", linewidth=0.4)  # fmt: skip
    if (~known).any():
        ax.scatter(scores[~known, 0], scores[~known, 1], c="#bbb", s=30, edgecolor="#333", linewidth=0.4)
    for (px, py), emotion in zip(scores, emotions):
        ax.annotate(emotion, (px, py), fontsize=7, xytext=(3, 3), textcoords="offset points")
    evr = result.explained_variance_ratio
    ax.set_xlabel(f"PC{pcs[0]} ({evr[pcs[0] - 1]:.0%} of variance)")
    ax.set_ylabel(f"PC{pcs[1]} ({evr[pcs[1] - 1]:.0%} of variance)")
    ax.axhline(0, color="#aaa", linewidth=0.5)
    ax.axvline(0, color="#aaa", linewidth=0.5)
    fig.colorbar(points, ax=ax, label="human valence (-1 .. 1)")
    ax.set_title(title)
    return save_figure(fig, out)
