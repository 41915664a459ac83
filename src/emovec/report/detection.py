"""Write a detection run: ``detection.csv`` / ``.json``, ``intensity.csv`` and figures (``.json`` last)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emovec.cache import write_json_atomic
from emovec.locks import exclusive_lock
from emovec.probing.battery import BatteryResult
from emovec.report.probing_figures import plot_detection_accuracy, plot_detection_matrix, plot_intensity


def best_layer(table: pd.DataFrame) -> int:
    """The layer with the highest top-1 accuracy (the deepest of ties is not preferred: the first)."""
    return int(table.loc[table["top1"].idxmax(), "layer"])


def write_detection(out: str | Path, battery: BatteryResult | None, intensity: pd.DataFrame | None = None,
                    per_template: dict | None = None, templates: list[dict] | None = None,
                    emotions: list[str] | None = None, tables: dict[str, pd.DataFrame] | None = None,
                    notes: dict | None = None) -> Path:  # fmt: skip
    out = Path(out)
    with exclusive_lock(out):
        (out / "detection.json").unlink(missing_ok=True)
        (out / "figures").mkdir(parents=True, exist_ok=True)
        document: dict = {}
        if battery is not None:
            layer = best_layer(battery.table)
            _csv(battery.table, out / "detection.csv")
            matrix = pd.DataFrame(battery.matrices[layer], columns=battery.emotions)
            matrix.insert(0, "target", battery.texts["target"].to_numpy())
            matrix.insert(0, "id", battery.texts["id"].to_numpy())
            _csv(matrix, out / f"scenario_scores_layer{layer}.csv")
            plot_detection_matrix(battery.matrices[layer], battery.texts, battery.emotions, layer,
                                  out / "figures" / "detection_matrix.png")  # fmt: skip
            plot_detection_accuracy(battery.table, out / "figures" / "detection_accuracy.png")
            document["scenarios"] = {"best_layer": layer, "layers": battery.table.to_dict(orient="records"),
                                     "settings": battery.settings, "unused_targets": sorted(set(
                                         battery.texts["target"][~battery.texts["used"]]))}  # fmt: skip
        if intensity is not None and len(intensity):
            _csv(intensity, out / "intensity.csv")
            mean = intensity.groupby("layer")["signed_spearman"].mean()
            layer = int(mean.idxmax())
            plot_intensity(per_template, templates, emotions, layer, out / "figures" / "intensity.png")
            document["intensity"] = {"best_layer": layer, "mean_signed_spearman": {int(k): float(v) for k, v in
                                                                                   mean.items()}}  # fmt: skip
        for name, table in (tables or {}).items():  # labels.csv, ratings.csv
            _csv(table, out / f"{name}.csv")
            document[name] = table.to_dict(orient="records")
        document.update(notes or {})
        write_json_atomic(out / "detection.json", document)
    return out


def _csv(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    table.to_csv(partial, index=False, float_format="%.6g")
    partial.replace(path)
