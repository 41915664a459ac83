"""Figures of detection batteries: the scenario x emotion matrix, accuracy by layer, intensity curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emovec.report.figures import _pyplot, save_figure


def plot_detection_matrix(matrix: np.ndarray, texts: pd.DataFrame, emotions: list[str], layer: int,
                          out: str | Path) -> Path:  # fmt: skip
    """Scores [texts, emotions] with rows ordered by target and the targets' columns first, in that order."""
    plt = _pyplot()
    used = texts["used"].to_numpy()
    order = np.argsort(texts["target"].to_numpy()[used], kind="stable")
    rows = np.flatnonzero(used)[order]
    targets = list(dict.fromkeys(texts["target"].to_numpy()[rows]))
    columns = [emotions.index(t) for t in targets] + [j for j, e in enumerate(emotions) if e not in targets]
    shown = matrix[np.ix_(rows, columns)]
    limit = np.nanpercentile(np.abs(shown), 98) or 1.0
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(columns) + 2), max(4, 0.2 * len(rows) + 1.5)))
    image = ax.imshow(shown, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(columns)), [emotions[j] for j in columns], rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), [f"{texts['id'].iloc[r]} ({texts['target'].iloc[r]})" for r in rows], fontsize=6)
    for i, r in enumerate(rows):  # the target's cell
        ax.add_patch(plt.Rectangle((columns.index(emotions.index(texts["target"].iloc[r])) - 0.5, i - 0.5), 1, 1,
                                   fill=False, edgecolor="black", linewidth=0.8))  # fmt: skip
    fig.colorbar(image, ax=ax, shrink=0.6, label="score")
    ax.set_title(f"Scenario battery at layer {layer}: rows by target, boxed cell = target", fontsize=9)
    return save_figure(fig, out)


def plot_detection_accuracy(table: pd.DataFrame, out: str | Path) -> Path:
    """Top-1 and top-3 accuracy by layer, with chance and the random-direction null's mean."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for k, color in ((1, "tab:red"), (3, "tab:blue")):
        ax.plot(table["layer"], table[f"top{k}"], color=color, marker="o", markersize=3, label=f"top-{k}")
        ax.axhline(table[f"chance_top{k}"].iloc[0], color=color, linestyle=":", linewidth=1)
        if f"top{k}_random_mean" in table:
            ax.plot(table["layer"], table[f"top{k}_random_mean"], color=color, linestyle="--", linewidth=1,
                    label=f"top-{k}, random directions")  # fmt: skip
    ax.set_xlabel("layer")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title("Scenario battery: accuracy by layer (dotted: chance)", fontsize=9)
    return save_figure(fig, out)


def plot_intensity(per_template: dict, templates: list[dict], emotions: list[str], layer: int,
                   out: str | Path) -> Path:  # fmt: skip
    """Score of each expected emotion against the slot's value, one panel per template."""
    plt = _pyplot()
    shown = [t for t in templates if t["id"] in per_template]
    cols = min(4, len(shown))
    rows = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, template in zip(axes.flat, shown):
        scores = per_template[template["id"]][layer]
        for direction, style in (("rises", "-"), ("falls", "--")):
            for emotion in template.get(direction, []):
                if emotion in emotions:
                    ax.plot(template["values"], scores[:, emotions.index(emotion)], style, marker="o", markersize=3,
                            label=f"{emotion} ({direction})")  # fmt: skip
        ax.set_xscale("log" if min(template["values"]) > 0 else "linear")
        ax.set_title(template["id"], fontsize=8)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.suptitle(f"Intensity templates at layer {layer} (solid: expected to rise, dashed: to fall)", fontsize=9)
    return save_figure(fig, out)
