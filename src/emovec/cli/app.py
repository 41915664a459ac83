"""The ``emovec`` command line: parses arguments and calls the library, nothing more.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

import sys

import typer

from emovec.cli import corpus, extract, generate, models, norms, study, vectors
from emovec.errors import EmovecError
from emovec.progress import stderr_console

app = typer.Typer(
    name="emovec",
    help="Find, measure and use emotion vectors inside open-weight language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


app.command()(extract.extract)
app.command()(extract.layers)
app.command()(vectors.vectors)
app.command()(vectors.analyze)
app.command()(vectors.export)
app.command()(vectors.compare)
app.command()(generate.generate)
app.command()(study.demo)
app.command()(study.run)
app.command()(study.report)
app.add_typer(norms.norms_app, name="norms")
app.add_typer(corpus.corpus_app, name="corpus")
app.add_typer(models.models_app, name="models")


@app.command()
def version() -> None:
    """Print the emovec version."""
    from emovec import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point: run the app, turning input errors into one line and exit code 2."""
    try:
        app()
    except EmovecError as err:
        stderr_console.print(f"[red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        stderr_console.print("interrupted; re-run the same command to resume")
        sys.exit(130)
