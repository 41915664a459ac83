"""``emovec norms``: list the known norm sets, fetch licensed ones into the user cache, and have a chat model
rate the emotion words itself (``rate``)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from emovec.cli.options import DType
from emovec.errors import EmovecError
from emovec.progress import stderr_console, table_console

norms_app = typer.Typer(
    help="Valence/arousal norms: list the known sets, fetch licensed ones (after accepting their terms), or have a "
    "chat model rate the emotion words itself.",
    no_args_is_help=True,
)

CacheDir = Annotated[
    Path | None, typer.Option(help="Cache folder (default: $EMOVEC_CACHE or ~/.cache/emovec).", show_default=False)
]


def status(name: str, cache_dir: Path | None = None) -> str:
    """``bundled``, ``cached``, or what the user has to do."""
    from emovec.analysis.norms.registry import cached_file, get_norm_set

    entry = get_norm_set(name)
    if entry.bundled:
        return "bundled"
    if entry.licensed:
        return "cached" if cached_file(entry, cache_dir) else "needs path or fetch"
    return "needs path and scale"


@norms_app.command("list")
def list_sets(cache_dir: CacheDir = None) -> None:
    """Show every known norm set: scale, dimensions, where it comes from, citation."""
    from emovec.analysis.norms.registry import NORM_SETS

    table = Table(show_lines=True)
    for column in ("name", "scale", "dimensions", "status", "citation"):
        table.add_column(column, overflow="fold")
    for name, entry in NORM_SETS.items():
        scale = f"{entry.scale[0]:g}..{entry.scale[1]:g}" if entry.scale else "stated"
        dims = ", ".join(entry.dimensions) + (" [, dominance]" if entry.scale is None else "")
        table.add_row(name, scale, dims, status(name, cache_dir), entry.citation)
    console = table_console(120)
    console.print(table)
    for name, entry in NORM_SETS.items():
        if entry.licensed:
            console.print(f"{name}: {entry.licence} Terms: {entry.terms_url}", soft_wrap=True, highlight=False)
    console.print("Fetch a licensed set: emovec norms fetch NAME --accept-terms; or pass its file as NAME:PATH.")


@norms_app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help="Norm set to download, e.g. nrc-vad-v2.1.")],
    accept_terms: Annotated[
        bool, typer.Option("--accept-terms", help="Accept the set's terms of use (see `emovec norms list`).")
    ] = False,
    cache_dir: CacheDir = None,
    url: Annotated[str | None, typer.Option(help="Download from this address instead (a mirror).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a download progress bar.")] = True,
) -> None:
    """Download a licensed norm set from its official address into the user cache."""
    from emovec.analysis.norms.fetch import fetch_norms, fetchable

    entry = fetchable(name)
    if not accept_terms and sys.stdin.isatty():
        accept_terms = typer.confirm(
            f"{name}: {entry.licence} Terms: {entry.terms_url}\nDo you accept these terms?", default=False
        )
        if not accept_terms:
            raise EmovecError(f"terms of {name!r} not accepted: nothing downloaded")
    path = fetch_norms(name, accept_terms, cache_dir=cache_dir, url=url, progress=progress)
    typer.echo(str(path))


@norms_app.command("rate")
def rate(
    model: Annotated[str, typer.Option(help="Hub id, local folder, .gguf or bundled name of a chat model.")],
    out: Annotated[Path, typer.Option(help="Output CSV (word, valence, arousal on 1..7); a JSON goes beside it.")],
    emotions: Annotated[str, typer.Option(help="Emotion set: anthropic171, russell28 or a file.")] = "anthropic171",
    compare: Annotated[
        list[str] | None, typer.Option(help="Human norm set NAME or NAME:PATH to correlate with (repeat for several).")
    ] = None,
    compare_scale: Annotated[str | None, typer.Option(help="Scale LO,HI of a csv:PATH --compare set.")] = None,
    batch_size: Annotated[int, typer.Option(help="Prompts per batch.", min=1)] = 8,
    dtype: Annotated[DType, typer.Option(help="Weights dtype.")] = DType.float32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps ...")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Have a chat model rate each emotion word's valence and arousal (1..7, the expected digit under its
    next-token distribution); the CSV loads as --norms csv:PATH --norms-scale 1,7."""
    from emovec.analysis.emotion_sets import load_emotion_set
    from emovec.locks import exclusive_lock
    from emovec.probing.self_rated import output_paths, rate_norms

    out, _ = output_paths(out)
    words = load_emotion_set(emotions)
    scale = _scale(compare_scale)
    with exclusive_lock(out):  # for the whole run: a second rate into OUT is refused at once
        rated = rate_norms(model, words, compare=compare or [], compare_scale=scale, batch_size=batch_size,
                           device=device, dtype=dtype.value, progress=progress)  # fmt: skip
        csv_path, json_path = rated.save(out)
    _print_ratings(rated)
    stderr_console.print(f"wrote {csv_path} and {json_path.name} ({len(rated.table)} words, {rated.model}, "
                         f"{rated.settings['seconds']:.0f} s)")  # fmt: skip


def _scale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise EmovecError(f"--compare-scale {text!r}: expected LO,HI such as 1,9") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise EmovecError(f"--compare-scale {text!r}: needs finite LO < HI such as 1,9")
    return low, high


def _print_ratings(rated) -> None:
    table = Table(title=f"Self-rated norms of {rated.model} (1..7)")
    for column in ("dimension", "mean (sd)", "lowest", "highest", "digit mass mean (min)"):
        table.add_column(column, overflow="fold")
    data = rated.table.set_index("word")
    for dim in (d for d in ("valence", "arousal") if d in data):
        values, mass = data[dim], data[f"{dim}_digit_mass"]
        low, high = values.nsmallest(3), values.nlargest(3)
        table.add_row(
            dim,
            f"{values.mean():.2f} ({values.std():.2f})",
            ", ".join(f"{w} {v:.2f}" for w, v in low.items()),
            ", ".join(f"{w} {v:.2f}" for w, v in high.items()),
            f"{mass.mean():.3f} ({mass.min():.3f})",
        )
    table_console(120).print(table)
    for comparison in rated.comparisons:
        parts = []
        for dim in ("valence", "arousal"):
            stats = comparison.get(dim)
            if stats is None:
                continue
            if stats["pearson_r"] is None:
                parts.append(f"{dim}: n {stats['n']}, no correlation (constant ratings or too few words)")
            else:
                parts.append(
                    f"{dim}: Pearson r {stats['pearson_r']:.2f}, Spearman rho {stats['spearman_rho']:.2f} "
                    f"(n {stats['n']})"
                )
        typer.echo(f"vs {comparison['norms']}: " + "; ".join(parts))
