"""``emovec norms``: list the known norm sets and fetch licensed ones into the user cache."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from emovec.errors import EmovecError
from emovec.progress import table_console

norms_app = typer.Typer(
    help="Human valence/arousal norms: list the known sets, fetch licensed ones (after accepting their terms).",
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
