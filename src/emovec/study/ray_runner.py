"""``emovec run --ray``: a study's stages as Ray tasks, each started once the stages it reads are done.

Every pending stage becomes one task; the stages it needs are passed as its arguments, so Ray's own
scheduler keeps the stage graph (corpus -> extract -> vectors -> analyze / detect / steer) and runs
independent stages (models x corpora, generation too) at the same time. Stages that load a model ask for
the workers' GPUs (or CPUs); a task whose process dies is retried by Ray, and an interrupted extraction or
generation resumes from what it recorded. The study directory must be on a filesystem every node sees.
"""

from __future__ import annotations

from emovec.errors import EmovecError
from emovec.extraction.config import RaySettings
from emovec.progress import stderr_console
from emovec.study.execution import StageClock, duration, pending_stages, run_stage
from emovec.study.plan import Plan


def _run_one(plan: Plan, kind: str, label: str, *needed: object) -> dict:
    """The task body: run one stage of the (unpickled) plan in this worker; returns what it recorded."""
    stage = plan.find(kind, label)
    run_stage(plan, stage, {}, progress=False)
    return stage.result


def run_plan_on_ray(plan: Plan, settings: RaySettings) -> dict:
    """Run every pending stage on the Ray cluster, concurrently where the stage graph allows."""
    from emovec.extraction.distributed import connect, worker_error, worker_layout

    pending = pending_stages(plan)
    counts = {"run": 0, "cached": len(plan.stages) - len(pending)}
    if not plan.stages:
        raise EmovecError("the study has no stages")
    if not pending:
        return counts
    ray, started = connect(settings)
    try:
        with_model = [s for s in pending if s.model is not None]
        workers, options = worker_layout(settings, ray.cluster_resources(), max(1, len(with_model)))
        stderr_console.print(f"{len(pending)} stages on Ray: up to {workers} model stages at a time "
                             f"({options['num_cpus']} CPU, {options['num_gpus']:g} GPU each)")  # fmt: skip
        task = ray.remote(_run_one)
        shared = ray.put(plan)
        refs: dict[int, object] = {}
        stages: dict[object, object] = {}
        for stage in pending:  # plan order lists every stage after the stages it needs
            needed = [refs[id(n)] for n in stage.needs if id(n) in refs]
            resources = options if stage.model is not None else {"num_cpus": 1, "num_gpus": 0}
            ref = task.options(name=f"{stage.kind}:{stage.label}", **resources).remote(
                shared, stage.kind, stage.label, *needed
            )
            refs[id(stage)] = ref
            stages[ref] = stage
        clock = StageClock()
        waiting = list(stages)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            stage = stages[ready[0]]
            try:
                stage.result = ray.get(ready[0])
            except ray.exceptions.RayError as err:
                for ref in waiting:
                    ray.cancel(ref)
                raise EmovecError(f"stage {stage.kind} {stage.label}: {worker_error(err)}") from None
            counts["run"] += 1
            stderr_console.print(f"stage {counts['run']}/{len(pending)} done: {stage.kind} {stage.label} "
                                 f"(elapsed {duration(clock.elapsed)})", highlight=False)  # fmt: skip
        stderr_console.print(f"all {len(pending)} stages done in {duration(clock.elapsed)}")
    finally:
        if started:
            ray.shutdown()
    return counts
