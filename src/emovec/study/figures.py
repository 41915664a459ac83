"""Figures of a study: per-layer curves by condition, PCA scatter, cosine heatmaps, EVR, RSA by layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emovec.analysis.geometry import pca
from emovec.report.figures import _pyplot, save_figure
from emovec.study.plan import Plan
from emovec.study.results import condition_table
from emovec.vectors.emotion_vectors import load_vectors

COLOURS = ["#c0392b", "#2471a3", "#229954", "#d68910", "#7d3c98", "#17a589", "#566573", "#a04000"]


def _condition_grid(plan: Plan, width: float, height: float):
    """A figure with one panel per condition (at most 3 per row); unused panels are hidden."""
    n = len(plan.conditions)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = _pyplot().subplots(rows, cols, figsize=(width * cols, height * rows), dpi=110, squeeze=False)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def curves(plan: Plan, out: Path) -> Path:
    """|r| PC1~valence and PC2~arousal against relative depth, one line per condition, CI bands, references."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), dpi=120, sharey=True)
    for ax, metric, title in zip(axes, ("r_pc1_valence", "r_pc2_arousal"), ("|r| PC1 ~ valence", "|r| PC2 ~ arousal")):
        for i, (model, corpus) in enumerate(plan.conditions):
            table = condition_table(plan, model, corpus)
            colour = COLOURS[i % len(COLOURS)]
            x = table["relative_depth"]
            ax.plot(x, table[metric], marker="o", ms=3, color=colour, label=f"{model} on {corpus}")
            if f"{metric}_ci_low" in table:
                ax.fill_between(x, table[f"{metric}_ci_low"], table[f"{metric}_ci_high"], color=colour, alpha=0.12,
                                linewidth=0)  # fmt: skip
        for ref in plan.study.references:
            if ref.metric == metric:
                ax.axhline(ref.value, color="#555", linestyle="--", linewidth=0.8)
                ax.annotate(ref.label, (0.01, ref.value), xycoords=("axes fraction", "data"), fontsize=7,
                            xytext=(0, 2), textcoords="offset points")  # fmt: skip
                if ref.relative_depth is not None:
                    ax.plot([ref.relative_depth], [ref.value], marker="*", color="#555", ms=9)
        ax.set_title(title)
        ax.set_xlabel("relative depth")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("|Pearson r| with human ratings (95% CI)")
    axes[1].legend(fontsize=7, loc="upper left")
    return save_figure(fig, out)


def _scatter_layer(plan: Plan, table: pd.DataFrame) -> int:
    depth = plan.study.settings.scatter_layer
    if depth is None:
        return int(table.loc[table["best_r_valence"].idxmax(), "layer"])
    return int(table.loc[(table["relative_depth"] - depth).abs().idxmin(), "layer"])


def scatter(plan: Plan, out: Path, valence: dict[str, float]) -> Path:
    """Each condition's emotions on its PC1 x PC2 at the chosen layer, coloured by valence."""
    fig, axes = _condition_grid(plan, 5.2, 4.6)
    for ax, (model, corpus) in zip(axes, plan.conditions):
        vectors = load_vectors(plan.find("vectors", f"{model}__{corpus}").directory)
        layer = _scatter_layer(plan, condition_table(plan, model, corpus))
        scores = pca(vectors.layer(layer), 2).scores
        colours = np.array([valence.get(e, np.nan) for e in vectors.emotions])
        ax.scatter(scores[:, 0], scores[:, 1], c=np.nan_to_num(colours), cmap="coolwarm_r", vmin=-1, vmax=1, s=18,
                   edgecolor="#333", linewidth=0.3)  # fmt: skip
        if len(vectors.emotions) <= 40:
            for (px, py), emotion in zip(scores, vectors.emotions):
                ax.annotate(emotion, (px, py), fontsize=6, xytext=(2, 2), textcoords="offset points")
        ax.set_title(f"{model} on {corpus}, layer {layer}", fontsize=9)
        ax.set_xlabel("PC1")
        ax.set_ylabel("PC2")
    return save_figure(fig, out)


def heatmaps(plan: Plan, out: Path, valence: dict[str, float]) -> Path:
    """Cosine similarity of the emotion vectors at each condition's chosen layer, ordered by valence."""
    fig, axes = _condition_grid(plan, 5.0, 4.6)
    for ax, (model, corpus) in zip(axes, plan.conditions):
        vectors = load_vectors(plan.find("vectors", f"{model}__{corpus}").directory)
        layer = _scatter_layer(plan, condition_table(plan, model, corpus))
        order = sorted(range(len(vectors.emotions)), key=lambda i: valence.get(vectors.emotions[i], 0.0))
        matrix = vectors.cosine_similarity(layer)[np.ix_(order, order)]
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
        if len(order) <= 40:
            labels = [vectors.emotions[i] for i in order]
            ax.set_xticks(range(len(order)), labels, rotation=90, fontsize=5)
            ax.set_yticks(range(len(order)), labels, fontsize=5)
        ax.set_title(f"{model} on {corpus}, layer {layer} (by valence)", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    return save_figure(fig, out)


def explained_variance(plan: Plan, out: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for i, (model, corpus) in enumerate(plan.conditions):
        table = condition_table(plan, model, corpus)
        colour = COLOURS[i % len(COLOURS)]
        ax.plot(table["relative_depth"], table["evr_pc1"], color=colour, label=f"{model} on {corpus}: PC1")
        ax.plot(table["relative_depth"], table["evr_pc2"], color=colour, linestyle="--", label="PC2")
    ax.set_xlabel("relative depth")
    ax.set_ylabel("explained variance ratio")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out)


def rsa_curves(plan: Plan, out: Path) -> Path | None:
    plt = _pyplot()
    files = sorted((plan.out / "comparisons").glob("*.csv"))
    files = [f for f in files if not f.stem.endswith("__cka")]
    if not files:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for i, path in enumerate(files):
        table = pd.read_csv(path)
        ax.plot(table["relative_depth_a"], table["rsa"], marker="o", ms=3, color=COLOURS[i % len(COLOURS)],
                label=path.stem.replace("__", ": ").replace("_vs_", " vs "))  # fmt: skip
    ax.set_xlabel("relative depth")
    ax.set_ylabel("RSA (Spearman of cosine matrices)")
    ax.set_ylim(-0.2, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out)


def study_figures(plan: Plan) -> list[tuple[Path, str]]:
    """Write every figure under <out>/figures; returns (png, caption) pairs."""
    from emovec.analysis.norms.loading import load_norms

    folder = plan.out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    s = plan.study.settings
    valence = load_norms(s.norms, scale=s.norms_scale).table["valence"].to_dict()
    figures = [
        (curves(plan, folder / "layer_curves"), "|r| of PC1 with valence and of PC2 with arousal against relative "
         "depth, one line per model x corpus, with 95% bootstrap CIs and reference values (dashed)."),
        (scatter(plan, folder / "pca_scatter", valence), "Emotion vectors on PC1 x PC2 at each condition's chosen "
         "layer (the layer where valence is best represented unless the study sets scatter_layer); colour: valence."),
        (heatmaps(plan, folder / "cosine_heatmaps", valence), "Cosine similarity between emotion vectors, emotions "
         "ordered by human valence."),
        (explained_variance(plan, folder / "explained_variance"), "Explained variance of PC1 and PC2 by depth."),
    ]  # fmt: skip
    rsa = rsa_curves(plan, folder / "rsa_by_layer")
    if rsa is not None:
        figures.append((rsa, "Representational similarity between conditions at each depth (corpus vs corpus "
                             "within a model; model vs model by relative depth)."))  # fmt: skip
    return figures
