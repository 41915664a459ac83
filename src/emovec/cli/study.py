"""``emovec run``, ``report`` and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emovec.cli.display import print_results
from emovec.cli.options import GpusPerWorker, RayAddress, RayFlag, Workers, ray_settings
from emovec.progress import stderr_console, table_console


def demo(
    out: Annotated[Path, typer.Option(help="Study directory to write.")] = Path("emovec-demo"),
    bootstrap: Annotated[int | None, typer.Option(help="Bootstrap resamples over emotions (study: 1000).")] = None,
    permutations: Annotated[int | None, typer.Option(help="Permutations for p-values (study: 1000).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Run the embedded default study offline: SmolLM2-135M and Gemma-3-270M on the demo corpus vs Russell."""
    import time

    from emovec.study.demo import REAL_STUDY, demo_study_file, run_demo

    started = time.perf_counter()
    result = run_demo(out, bootstrap=bootstrap, permutations=permutations, progress=progress)
    print_results(result["out"] / "results.csv")
    counts = result["counts"]
    stderr_console.print(f"demo finished in {time.perf_counter() - started:.0f} s ({counts['run']} stages run, "
                         f"{counts['cached']} reused); study file: {demo_study_file()}", highlight=False)  # fmt: skip
    typer.echo(f"\nreport: {result['report'].resolve()}")
    typer.echo(f"results: {(result['out'] / 'results.csv').resolve()}")
    typer.echo(f"\nThe real study on chat models (GPU recommended):\n{REAL_STUDY}")


def run(
    study: Annotated[Path, typer.Argument(help="Study file (TOML), e.g. examples/minilm_two_corpora.toml.")],
    out: Annotated[Path | None, typer.Option(help="Study directory (default: the study's 'out' or its name).")] = None,
    dry_run: Annotated[bool, typer.Option(help="List the stages and which are cached; run nothing.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    ray: RayFlag = False,
    ray_address: RayAddress = None,
    workers: Workers = None,
    gpus_per_worker: GpusPerWorker = None,
) -> None:
    """Run a models x corpora study: extract, vectors, analyze, comparisons, figures and report."""
    from rich.table import Table

    from emovec.study.runner import run_study

    on_ray = ray_settings(ray, ray_address, workers, gpus_per_worker)
    settings = {"ray": on_ray} if on_ray is not None else None
    result = run_study(study, out, dry_run=dry_run, progress=progress, settings=settings)
    table = Table(title=f"stages of {study}")
    for column in ("kind", "label", "status", "directory"):
        table.add_column(column)
    for stage in result["stages"]:
        status = stage["status"] if dry_run else ("reused" if stage["status"] == "cached" else stage["status"])
        table.add_row(stage["kind"], stage["label"], status, stage["directory"])
    if dry_run:

        table_console(160).print(table)
        return
    counts = result["counts"]
    stderr_console.print(f"{counts['run']} stages run, {counts['cached']} reused from {result['out']}")
    results = (result["out"] / "results.csv").resolve()
    typer.echo(f"results: {results}\nreport: {result['report'].resolve()}")


def report(
    study: Annotated[Path, typer.Argument(help="A study directory written by 'emovec run', its name, or its .toml.")],
) -> None:
    """Write one self-contained report.html for a study directory."""
    from emovec.study.report import find_study_directory, write_study_report

    typer.echo(f"wrote {write_study_report(find_study_directory(study)).resolve()}")
