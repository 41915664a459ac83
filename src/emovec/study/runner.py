"""``emovec run``: every model on every corpus through extract -> vectors -> analyze, plus comparisons.

Stages are planned by :mod:`emovec.study.plan` and run here in order, each model loaded once for the
stages that need it; an interrupted extraction or generation resumes.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from emovec.errors import EmovecError
from emovec.progress import stderr_console
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
        stderr_console.print(f"all {len(pending)} stages done in {_duration(clock.elapsed)}")
    if not plan.stages:
        raise EmovecError("the study has no stages")
    return counts


def run_stage(plan: Plan, stage, loaded: dict, progress: bool) -> None:
    """Run one stage, loading its model into ``loaded`` (one model kept at a time) when it needs one."""
    from emovec.models.loading import load_model

    stage.started = time.time()  # recorded in stage.json with the finish time
    if stage.model is not None:
        if stage.model not in loaded:
            loaded.clear()  # one model in memory at a time
            spec = plan.study.model(stage.model)
            loaded[stage.model] = load_model(spec.model, dtype=spec.dtype, device=spec.device,
                                             device_map=spec.device_map, revision=spec.revision,
                                             layers_path=spec.layers_path,
                                             trust_remote_code=spec.trust_remote_code)  # fmt: skip
        stage.loaded_model = loaded[stage.model]
    stage.progress = progress
    if stage.kind in ("vectors", "analyze", "detect", "steer") and stage.directory.exists():
        shutil.rmtree(stage.directory)  # cheap stages restart clean
    stage.directory.mkdir(parents=True, exist_ok=True)
    stage.action(stage)


def pending_stages(plan: Plan) -> list:
    """Stages to run: not finished, or finished but damaged."""
    return [s for s in plan.stages if not s.done or _damaged(s)]


def _damaged(stage) -> bool:
    """Whether a finished stage's files no longer match what it recorded (then the stage runs again)."""
    from emovec.extraction.activations import check_files, read_manifest
    from emovec.vectors.emotion_vectors import load_vectors

    try:
        if stage.kind == "extract":
            folder = stage.directory / "activations"
            check_files(folder, read_manifest(folder))
        elif stage.kind == "vectors":
            load_vectors(stage.directory)
    except EmovecError as err:
        stderr_console.print(f"note: stage {stage.kind} {stage.label} is damaged ({err}); running it again")
        return True
    return False


class StageClock:
    """An overall ETA: seconds per unit (story, or stage) measured on finished stages of each kind."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.rates: dict[str, list[float]] = {}  # kind -> [seconds, units]

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def record(self, stage, seconds: float) -> None:
        spent = self.rates.setdefault(stage.kind, [0.0, 0.0])
        spent[0] += seconds
        spent[1] += stage.units

    def remaining(self, stages: list) -> float | None:
        """Seconds the ``stages`` should take, or None while a kind among them has not been timed yet."""
        total = 0.0
        for stage in stages:
            if stage.kind not in self.rates:
                return None
            seconds, units = self.rates[stage.kind]
            total += seconds / max(units, 1e-9) * stage.units
        return total

    def status(self, stages: list) -> str:
        if not self.rates:
            return ""
        left = self.remaining(stages)
        eta = "ETA unknown until each kind of stage has run once" if left is None else f"about {_duration(left)} left"
        return f"  (elapsed {_duration(self.elapsed)}, {eta})"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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
