"""Figures of a study: per-layer curves by condition, PCA scatter, cosine heatmaps, EVR, RSA by layer."""

from __future__ import annotations

import json
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


CURVES = (
    ("valence", "r_pc1_valence", "|r| PC1", "best_r_valence", "readout_r_valence"),
    ("arousal", "r_pc2_arousal", "|r| PC2", "best_r_arousal", "readout_r_arousal"),
)


def curves(plan: Plan, out: Path) -> Path:
    """Per dimension: |r| of PC1 (PC2) with its CI band, the best PC and the CV readout, one colour per condition."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), dpi=120, sharey=True)
    lowest = 0.0
    for ax, (dimension, metric, label, best, readout) in zip(axes, CURVES):
        for i, (model, corpus) in enumerate(plan.conditions):
            table = condition_table(plan, model, corpus)
            colour = COLOURS[i % len(COLOURS)]
            x = table["relative_depth"]
            ax.plot(x, table[metric], marker="o", ms=3, color=colour, linewidth=1.6)
            if f"{metric}_ci_low" in table:
                low, high = table[f"{metric}_ci_low"], table[f"{metric}_ci_high"]
                ax.fill_between(x, low, high, color=colour, alpha=0.10, linewidth=0)
                for edge in (low, high):  # band edges keep overlapping bands apart
                    ax.plot(x, edge, color=colour, linewidth=0.6, linestyle=(0, (1, 2)), alpha=0.8)
            if best in table:
                ax.plot(x, table[best], color=colour, linewidth=1.2, linestyle=":", marker="^", ms=2.5)
            ax.plot(x, table[readout], color=colour, linewidth=1.1, linestyle="--")
            lowest = min(lowest, float(table[readout].min()))
        for ref in plan.study.references:
            if ref.metric in (metric, readout):
                ax.axhline(ref.value, color="#555", linestyle="-.", linewidth=0.8)
                ax.annotate(ref.label, (0.01, ref.value), xycoords=("axes fraction", "data"), fontsize=7,
                            xytext=(0, 2), textcoords="offset points")  # fmt: skip
                if ref.relative_depth is not None:
                    ax.plot([ref.relative_depth], [ref.value], marker="*", color="#555", ms=9)
        ax.set_title(f"{dimension}: {label}, best PC, cross-validated readout")
        ax.set_xlabel("relative depth (0 = embeddings, 1 = last block)")
        ax.axhline(0, color="#888", linewidth=0.6)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(min(-0.05, lowest - 0.05), 1)
    axes[0].set_ylabel("correlation with human ratings")
    conditions = [Line2D([], [], color=COLOURS[i % len(COLOURS)], linewidth=2, label=f"{m} on {c}")
                  for i, (m, c) in enumerate(plan.conditions)]  # fmt: skip
    styles = [Line2D([], [], color="#333", marker="o", ms=3, label="|r| PC1 / PC2 (band: 95% CI)"),
              Line2D([], [], color="#333", linestyle=":", marker="^", ms=3, label="|r| best PC"),
              Line2D([], [], color="#333", linestyle="--", label="readout r (CV ridge)")]  # fmt: skip
    axes[0].legend(handles=conditions, fontsize=7, loc="upper left")
    axes[1].legend(handles=styles, fontsize=7, loc="upper left")
    return save_figure(fig, out)


def _scatter_layer(plan: Plan, table: pd.DataFrame) -> int:
    depth = plan.study.settings.scatter_layer
    if depth is None:
        return int(table.loc[table["best_r_valence"].idxmax(), "layer"])
    return int(table.loc[(table["relative_depth"] - depth).abs().idxmin(), "layer"])


def plane_axes(table: pd.DataFrame, layer: int) -> tuple[int, int]:
    """The PCs (1-based) that best track valence (x) and arousal (y) at ``layer``; two different ones."""
    row = table.loc[table["layer"] == layer].iloc[0]
    pc_v, pc_a = int(row["best_pc_valence"]), int(row.get("best_pc_arousal", 2))
    if pc_a == pc_v:
        pc_a = 2 if pc_v == 1 else 1
    return pc_v, pc_a


def scatter(plan: Plan, out: Path, valence: dict[str, float]) -> Path:
    """Each condition's emotion plane: the PCs that best track valence and arousal at its chosen layer."""
    from adjustText import adjust_text

    fig, axes = _condition_grid(plan, 5.6, 4.8)
    for ax, (model, corpus) in zip(axes, plan.conditions):
        vectors = load_vectors(plan.find("vectors", f"{model}__{corpus}").directory)
        table = condition_table(plan, model, corpus)
        layer = _scatter_layer(plan, table)
        pc_v, pc_a = plane_axes(table, layer)
        result = pca(vectors.layer(layer), max(pc_v, pc_a))
        x, y = result.scores[:, pc_v - 1], result.scores[:, pc_a - 1]
        colours = np.array([valence.get(e, np.nan) for e in vectors.emotions])
        known = ~np.isnan(colours)
        points = ax.scatter(x[known], y[known], c=colours[known], cmap="coolwarm_r", vmin=-1, vmax=1, s=22,
                            edgecolor="#333", linewidth=0.3)  # fmt: skip
        if (~known).any():
            ax.scatter(x[~known], y[~known], c="#bbb", s=18, edgecolor="#333", linewidth=0.3)
        fig.colorbar(points, ax=ax, fraction=0.046, label="human valence")
        if len(vectors.emotions) <= 60:
            labels = [ax.text(px, py, emotion, fontsize=6) for px, py, emotion in zip(x, y, vectors.emotions)]
            adjust_text(labels, x=x, y=y, ax=ax, arrowprops={"arrowstyle": "-", "color": "#999", "lw": 0.4})
        evr = result.explained_variance_ratio
        r_v = abs(table.loc[table["layer"] == layer, f"pearson_pc{pc_v}_valence"].iloc[0])
        ax.set_title(f"{model} on {corpus}, layer {layer}", fontsize=9)
        ax.set_xlabel(f"PC{pc_v} ({evr[pc_v - 1]:.0%} var., |r| valence {r_v:.2f})", fontsize=8)
        ax.set_ylabel(f"PC{pc_a} ({evr[pc_a - 1]:.0%} var.)", fontsize=8)
        ax.axhline(0, color="#ccc", linewidth=0.5)
        ax.axvline(0, color="#ccc", linewidth=0.5)
    return save_figure(fig, out)


def cka_matrices(plan: Plan, out: Path) -> Path | None:
    """Linear CKA between every layer of one model and every layer of another, per corpus."""
    files = sorted((plan.out / "comparisons").glob("*__cka.csv"))
    if not files:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(files), figsize=(5.6 * len(files), 4.8), dpi=120, squeeze=False)
    for ax, path in zip(axes[0], files):
        matrix = pd.read_csv(path, index_col=0)
        corpus, _, pair = path.stem.removesuffix("__cka").partition("__")
        first, _, second = pair.partition("_vs_")
        image = ax.imshow(matrix.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis", vmin=0,
                          vmax=1)  # fmt: skip
        ax.set_xticks(range(len(matrix.columns))[::max(1, len(matrix.columns) // 8)],
                      list(matrix.columns)[::max(1, len(matrix.columns) // 8)], fontsize=7)  # fmt: skip
        ax.set_yticks(range(len(matrix.index))[::max(1, len(matrix.index) // 8)],
                      list(matrix.index)[::max(1, len(matrix.index) // 8)], fontsize=7)  # fmt: skip
        ax.set_xlabel(f"{second}: layer")
        ax.set_ylabel(f"{first}: layer")
        ax.set_title(f"linear CKA on {corpus}", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046, label="CKA")
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
        (curves(plan, folder / "layer_curves"), "Against relative depth, one colour per model x corpus: |r| of PC1 "
         "with valence (left) and of PC2 with arousal (right), with 95% bootstrap CIs (bands, dotted edges); the "
         "best of the top 10 PCs (dotted, triangles); and the cross-validated ridge readout (dashed). Where the "
         "dotted line is far above the solid one, PC1 (PC2) misses what another axis carries."),
        (scatter(plan, folder / "pca_scatter", valence), "Emotion planes: each condition's emotion vectors on the PC "
         "that best tracks valence (x) and the one that best tracks arousal (y), at the layer where valence is best "
         "represented (unless the study sets scatter_layer); colour: human valence."),
        (heatmaps(plan, folder / "cosine_heatmaps", valence), "Cosine similarity between emotion vectors, emotions "
         "ordered by human valence."),
        (explained_variance(plan, folder / "explained_variance"), "Explained variance of PC1 and PC2 by depth."),
    ]  # fmt: skip
    cka = cka_matrices(plan, folder / "cka_matrix")
    if cka is not None:
        figures.append((cka, "Linear CKA between the emotion-vector geometry of every layer of one model and every "
                             "layer of the other (1 = the same geometry up to rotation and scale)."))  # fmt: skip
    figures.extend(detection_figures(plan, folder))
    figures.extend(steering_figures(plan, folder))
    rsa = rsa_curves(plan, folder / "rsa_by_layer")
    if rsa is not None:
        figures.append((rsa, "Representational similarity between conditions at each depth (corpus vs corpus "
                             "within a model; model vs model by relative depth)."))  # fmt: skip
    return figures


def detection_figures(plan: Plan, folder: Path) -> list[tuple[Path, str]]:
    """The detect stages' figures, copied under ``figures/`` with captions that state the accuracy and its nulls."""
    import shutil

    out = []
    for stage in (st for st in plan.stages if st.kind == "detect"):
        source = stage.directory / "figures"
        result = json.loads((stage.directory / "detection.json").read_text()).get("scenarios")
        name = stage.label.replace("__", " on ")
        if result and (source / "detection_matrix.png").exists():
            row = next(r for r in result["layers"] if r["layer"] == result["best_layer"])
            stats = (f"top-1 {row['top1']:.2f} (chance {row['chance_top1']:.2f}"
                     + (f", random directions {row['top1_random_mean']:.2f}" if "top1_random_mean" in row else "")
                     + (f", permutation p {row['top1_p_perm']:.3g}" if "top1_p_perm" in row else "")
                     + f"), top-3 {row['top3']:.2f}, over {row['n']} scenarios")  # fmt: skip
            for figure, caption in (
                ("detection_matrix", f"Scenario battery, {name}, layer {result['best_layer']}: each bundled "
                 f"scenario's centred cosine with every emotion vector at the reply-start token; rows by target, "
                 f"the target's cell boxed. {stats}."),
                ("detection_accuracy", f"Scenario battery, {name}: top-1 and top-3 accuracy by layer, with "
                 "chance (dotted) and random directions of the vectors' norms (dashed)."),
            ):  # fmt: skip
                target = folder / f"{figure}__{stage.label}.png"
                shutil.copyfile(source / f"{figure}.png", target)
                out.append((target, caption))
    return out


def steering_figures(plan: Plan, folder: Path) -> list[tuple[Path, str]]:
    """The steer stages' sweep figures, copied under ``figures/`` with a caption stating the convention."""
    import shutil

    out = []
    for stage in (st for st in plan.stages if st.kind == "steer"):
        source = stage.directory / "figures" / "sweep.png"
        if not source.exists():
            continue
        settings = json.loads((stage.directory / "steer.json").read_text())["settings"]
        target = folder / f"steering_sweep__{stage.label}.png"
        shutil.copyfile(source, target)
        out.append((target, f"Steering, {stage.label.replace('__', ' on ')}: each emotion's vector added at layers "
                    f"{', '.join(map(str, settings['layers']))} ({settings['phase']} phase) at strength x the "
                    "layer's mean residual norm, greedy. Left: the steered emotion's probe score on the reply, read "
                    "by the unsteered model (dashed: the same probe under a random direction of the same norm); "
                    "middle: the reply's perplexity under the unsteered model (grey: random direction); right: "
                    "distinct-2. Mean over prompts, bands +-1 standard error."))  # fmt: skip
    return out
