"""Figures of steering runs: read-back score, perplexity and distinct-2 against strength, with the control."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emovec.report.figures import _pyplot, save_figure


def plot_sweep(table: pd.DataFrame, out: str | Path, title: str = "") -> Path:
    """Mean over prompts and seeds (bands: +-1 standard error) per emotion; the random-direction control
    dashed (its score on each emotion's vector in that emotion's colour, its perplexity in grey)."""
    plt = _pyplot()
    emotions = sorted(set(table.loc[~table["control"], "condition"]))
    colors = {e: plt.cm.tab10(i % 10) for i, e in enumerate(emotions)}
    panels = [("readback", "read-back score (unsteered model)"), ("perplexity", "perplexity of the reply"),
              ("distinct_2", "distinct-2")]  # fmt: skip
    panels = [(c, label) for c, label in panels if c in table]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    control = table[table["control"]]
    for ax, (column, label) in zip(axes[0], panels):
        for emotion in emotions:
            mine = table[(table["condition"] == emotion) & ~table["control"]]
            _line(ax, mine, column, colors[emotion], emotion, "-")
            if len(control) and column == "readback" and f"score_{emotion}" in control:
                _line(ax, control.assign(readback=control[f"score_{emotion}"]), column, colors[emotion],
                      f"random ({emotion} probe)", "--")  # fmt: skip
        if len(control) and column != "readback":
            _line(ax, control, column, "grey", "random direction", "--")
        if column == "perplexity":
            ax.set_yscale("log")
        ax.axvline(0, color="black", linewidth=0.5)
        ax.set_xlabel("strength (fraction of the residual norm, per layer)")
        ax.set_ylabel(label)
    axes[0][0].legend(fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, out)


def _line(ax, rows: pd.DataFrame, column: str, color, label: str, style: str) -> None:
    grouped = rows.groupby("strength")[column]
    mean, sem = grouped.mean(), grouped.sem().fillna(0)
    if mean.empty:
        return
    x = mean.index.to_numpy(dtype=float)
    ax.plot(x, mean.to_numpy(), style, color=color, label=label, marker="o", markersize=3, linewidth=1.4)
    ax.fill_between(x, (mean - sem).to_numpy(), (mean + sem).to_numpy(), color=color, alpha=0.12, linewidth=0)


def plot_word_changes(matrix: np.ndarray, emotions: list[str], words: list[str], out: str | Path,
                      title: str = "") -> Path:  # fmt: skip
    """The next-word test: change in log-probability of each word (columns) when steering each emotion (rows)."""
    plt = _pyplot()
    limit = np.nanpercentile(np.abs(matrix), 98) or 1.0
    fig, ax = plt.subplots(figsize=(max(5, 0.3 * len(words) + 2), max(3.5, 0.3 * len(emotions) + 1.5)))
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(words)), words, rotation=90, fontsize=7)
    ax.set_yticks(range(len(emotions)), emotions, fontsize=7)
    ax.set_xlabel("next word")
    ax.set_ylabel("steered emotion")
    fig.colorbar(image, ax=ax, shrink=0.7, label="change in log-probability")
    ax.set_title(title or "Next-word test: the diagonal is the steered emotion's own word", fontsize=9)
    return save_figure(fig, out)


def plot_elo(activities: pd.DataFrame, out: str | Path) -> Path:
    """Each activity's rating with its bootstrap interval, sorted, coloured by category."""
    plt = _pyplot()
    shown = activities.sort_values("elo")
    categories = list(dict.fromkeys(activities.get("category", pd.Series(["all"] * len(activities)))))
    colors = {c: plt.cm.tab10(i % 10) for i, c in enumerate(categories)}
    fig, ax = plt.subplots(figsize=(7, max(3, 0.22 * len(shown) + 1)))
    y = np.arange(len(shown))
    cats = shown.get("category", pd.Series(["all"] * len(shown), index=shown.index))
    ax.barh(y, shown["elo"], color=[colors[c] for c in cats])
    if "elo_low" in shown:
        ax.errorbar(shown["elo"], y, xerr=[shown["elo"] - shown["elo_low"], shown["elo_high"] - shown["elo"]],
                    fmt="none", ecolor="black", linewidth=0.7)  # fmt: skip
    ax.set_yticks(y, shown["id"], fontsize=6)
    ax.set_xlabel("Elo (Bradley-Terry, mean 0; bars: 95% bootstrap interval)")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=colors[c], label=c) for c in categories], fontsize=6, frameon=False,
              loc="lower right")  # fmt: skip
    ax.set_title("Which activity the model prefers (both option orders)", fontsize=9)
    return save_figure(fig, out)


def plot_elo_changes(emotions: pd.DataFrame, r: float | None, out: str | Path) -> Path:
    """Per emotion: the steered activities' rating change against the probe-rating correlation."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(emotions["probe_elo_r"], emotions["elo_change_steered"], s=14)
    for _, row in emotions.iterrows():
        ax.annotate(row["emotion"], (row["probe_elo_r"], row["elo_change_steered"]), fontsize=6)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("r(probe score, Elo) over activities")
    ax.set_ylabel("Elo change of the steered activities")
    shown = "" if r is None or not np.isfinite(r) else f" (r = {r:.2f})"
    ax.set_title(f"Steering moves preferences as the probes predict?{shown}", fontsize=9)
    return save_figure(fig, out)
