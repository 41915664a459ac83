"""Running one stage: its model loaded, its folder prepared, and whether a finished stage is damaged."""

from __future__ import annotations

import shutil
import time

from emovec.errors import EmovecError
from emovec.progress import stderr_console
from emovec.study.plan import Plan


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
        eta = "ETA unknown until each kind of stage has run once" if left is None else f"about {duration(left)} left"
        return f"  (elapsed {duration(self.elapsed)}, {eta})"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
