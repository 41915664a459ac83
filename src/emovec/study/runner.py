"""``emovec run``: every model on every corpus through extract -> vectors -> analyze, plus comparisons.

Stages are planned by :mod:`emovec.study.plan` and run here in order, each model loaded once for the
stages that need it; an interrupted extraction or generation resumes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from emovec.errors import EmovecError
from emovec.progress import stderr_console
from emovec.study.execution import StageClock, duration, pending_stages, run_stage
from emovec.study.plan import Plan, describe, plan_study


def run_plan(plan: Plan, progress: bool = True) -> dict:
    """Run every pending stage in order, loading each model once for the stages that need it."""
    counts = {"run": 0, "cached": 0}
    pending = pending_stages(plan)
    counts["cached"] = len(plan.stages) - len(pending)
    loaded: dict[str, object] = {}
    clock = StageClock()
    for index, stage in enumerate(pending, start=1):
        stderr_console.print(f"stage {index}/{len(pending)} {stage.kind} {stage.label}"
                             f"{clock.status(pending[index - 1:])}", highlight=False)  # fmt: skip
        started = time.perf_counter()
        run_stage(plan, stage, loaded, progress)
        clock.record(stage, time.perf_counter() - started)
        counts["run"] += 1
    if pending:
        stderr_console.print(f"all {len(pending)} stages done in {duration(clock.elapsed)}")
    if not plan.stages:
        raise EmovecError("the study has no stages")
    return counts


def run_study(path: str | Path, out: str | Path | None = None, dry_run: bool = False, progress: bool = True,
              settings: dict | None = None) -> dict:  # fmt: skip
    """Validate, plan and run a study file; write results, figures and report.html. Returns a summary.

    The study directory is ``out``, else the study's ``out`` key, else its name in the current directory.
    ``settings`` overrides keys of the file's ``[settings]`` (validated the same way). With ``settings.ray``
    (``ray = {...}`` in the file, or ``emovec run --ray``) the stages run on a Ray cluster.
    """
    from emovec.study.spec import load_study

    study, text = load_study(path, settings=settings)
    out = Path(out or study.out or study.name)
    plan = plan_study(study, out)
    if dry_run:
        return {"out": out, "stages": describe(plan), "dry_run": True}
    from emovec.locks import exclusive_lock
    from emovec.study.figures import study_figures
    from emovec.study.report import write_study_report
    from emovec.study.results import write_results

    with exclusive_lock(out):  # one run per study directory; its stages lock their own folders too
        (out / "study.toml").write_text(text)
        if study.settings.ray is not None:
            from emovec.study.ray_runner import run_plan_on_ray

            counts = run_plan_on_ray(plan, study.settings.ray)
        else:
            counts = run_plan(plan, progress=progress)
        write_results(plan)
        figures = study_figures(plan)
        captions = json.dumps({p.name: c for p, c in figures}, indent=1) + "\n"
        (out / "figures" / "captions.json").write_text(captions)
        report = write_study_report(out, figures)
    return {"out": out, "stages": describe(plan), "counts": counts, "report": report, "plan": plan}
