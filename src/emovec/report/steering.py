"""Write a steering run: ``steer.csv`` (one row per generation), figures, and ``steer.json`` last."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emovec.cache import write_json_atomic
from emovec.locks import exclusive_lock
from emovec.report.detection import _csv
from emovec.report.steering_figures import plot_sweep


def write_steering(out: str | Path, table: pd.DataFrame, settings: dict) -> Path:
    """``steer.csv``, ``figures/sweep.png`` when strengths vary, and ``steer.json`` (settings, summary)."""
    out = Path(out)
    with exclusive_lock(out):
        (out / "steer.json").unlink(missing_ok=True)
        _csv(table, out / "steer.csv")
        document = {"settings": settings, "rows": len(table)}
        if table["strength"].nunique() > 1 and "readback" in table:
            (out / "figures").mkdir(parents=True, exist_ok=True)
            plot_sweep(table, out / "figures" / "sweep.png", f"{settings['model']}: steering at layers "
                       f"{','.join(map(str, settings['layers']))} ({settings['phase']})")  # fmt: skip
            document["summary"] = sweep_summary(table)
        write_json_atomic(out / "steer.json", document)
    return out


def sweep_summary(table: pd.DataFrame) -> list[dict]:
    """Per condition and strength: mean read-back score, perplexity, distinct-2 and repetition."""
    columns = [c for c in ("readback", "perplexity", "distinct_2", "repetition") if c in table]
    grouped = table.groupby(["condition", "strength"], dropna=False)[columns].mean().reset_index()
    return grouped.to_dict(orient="records")


def write_next_word(out: str | Path, result) -> Path:
    """``next_word.csv`` (the change matrix), ``next_word_base.csv``, a figure, and ``next_word.json`` last."""
    from emovec.report.steering_figures import plot_word_changes

    out = Path(out)
    with exclusive_lock(out):
        (out / "next_word.json").unlink(missing_ok=True)
        matrix = pd.DataFrame(result.change, columns=result.emotions)
        matrix.insert(0, "steered", result.emotions)
        _csv(matrix, out / "next_word.csv")
        base = pd.DataFrame(result.base, columns=result.emotions)
        base.insert(0, "stem", result.stems)
        _csv(base, out / "next_word_base.csv")
        (out / "figures").mkdir(parents=True, exist_ok=True)
        plot_word_changes(result.change, result.emotions, result.emotions, out / "figures" / "next_word.png")
        write_json_atomic(out / "next_word.json", {"settings": result.settings, "matching": result.matching,
                                                   "non_matching": result.non_matching, "p_perm": result.p_perm})
    return out


def write_preferences(out: str | Path, result) -> Path:
    """``activities.csv``, ``emotions.csv``, figures, and ``preferences.json`` last."""
    from emovec.report.steering_figures import plot_elo, plot_elo_changes

    out = Path(out)
    with exclusive_lock(out):
        (out / "preferences.json").unlink(missing_ok=True)
        _csv(result.activities, out / "activities.csv")
        _csv(result.emotions, out / "emotions.csv")
        (out / "figures").mkdir(parents=True, exist_ok=True)
        plot_elo(result.activities, out / "figures" / "elo.png")
        plot_elo_changes(result.emotions, result.summary.get("r_change_vs_probe_elo"),
                         out / "figures" / "elo_change_vs_probe.png")  # fmt: skip
        write_json_atomic(out / "preferences.json", result.summary)
    return out
