"""``emovec run``: every model on every corpus through extract -> vectors -> analyze, plus comparisons.

Stages are planned by :mod:`emovec.study.plan` and run here in order, each model loaded once for the
stages that need it; an interrupted extraction or generation resumes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from emovec.errors import EmovecError
from emovec.progress import stderr_console
from emovec.study.plan import Plan, describe, plan_study


def run_plan(plan: Plan, progress: bool = True) -> dict:
    """Run every pending stage in order, loading each model once for the stages that need it."""
    from emovec.models.loading import load_model

    counts = {"run": 0, "cached": 0}
    pending = [s for s in plan.stages if not s.done]
    counts["cached"] = len(plan.stages) - len(pending)
    loaded: dict[str, object] = {}
    for index, stage in enumerate(pending, start=1):
        stderr_console.print(f"[bold]stage {index}/{len(pending)}[/] {stage.kind} {stage.label}")
        if stage.model is not None:
            if stage.model not in loaded:
                loaded.clear()  # one model in memory at a time
                spec = plan.study.model(stage.model)
                loaded[stage.model] = load_model(spec.model, dtype=spec.dtype, device=spec.device,
                                                 device_map=spec.device_map, revision=spec.revision,
                                                 layers_path=spec.layers_path,
                                                 trust_remote_code=spec.trust_remote_code)  # fmt: skip
            stage.loaded_model = loaded[stage.model]  # type: ignore[attr-defined]
        stage.progress = progress  # type: ignore[attr-defined]
        if stage.kind in ("vectors", "analyze") and stage.directory.exists():
            shutil.rmtree(stage.directory)  # cheap stages restart clean
        stage.directory.mkdir(parents=True, exist_ok=True)
        stage.action(stage)
        counts["run"] += 1
    if not plan.stages:
        raise EmovecError("the study has no stages")
    return counts


def run_study(path: str | Path, out: str | Path | None = None, dry_run: bool = False, progress: bool = True) -> dict:
    """Validate, plan and run a study file; write results, figures and report.html. Returns a summary."""
    from emovec.study.spec import load_study

    study, text = load_study(path)
    out = Path(out or study.out or Path(path).with_suffix(""))
    plan = plan_study(study, out)
    if dry_run:
        return {"out": out, "stages": describe(plan), "dry_run": True}
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.toml").write_text(text)
    counts = run_plan(plan, progress=progress)
    from emovec.study.figures import study_figures
    from emovec.study.report import write_study_report
    from emovec.study.results import write_results

    write_results(plan)
    figures = study_figures(plan)
    (out / "figures" / "captions.json").write_text(json.dumps({p.name: c for p, c in figures}, indent=1) + "\n")
    report = write_study_report(out, figures)
    return {"out": out, "stages": describe(plan), "counts": counts, "report": report, "plan": plan}
