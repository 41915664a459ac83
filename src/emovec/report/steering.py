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
