"""The ``emovec`` command line: parses arguments and calls the library, nothing more.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer
from rich.text import Text

from emovec.cli import corpus, extract, generate, models, norms, probe, steer, study, vectors
from emovec.errors import EmovecError, SettingError
from emovec.progress import stderr_console

# typer carries its own copy of click: take its exception classes from the ones typer exports.
_CLICK = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
ClickException, UsageError = _CLICK["ClickException"], _CLICK["UsageError"]

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
app.command()(probe.probe)
app.command()(probe.detect)
app.command()(steer.steer)
app.command("next-word")(steer.next_word)
app.command()(steer.preferences)
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


def main(argv: list[str] | None = None) -> None:
    """Entry point: expected failures become one line on stderr and exit code 2; bugs keep a traceback.

    Expected failures are :class:`EmovecError` (bad input, damaged artifacts, a busy output directory) and
    ``OSError`` (an output that is a file, a full disk, no permission). ``EMOVEC_DEBUG=1`` shows the full
    traceback of everything. ``argv`` defaults to ``sys.argv[1:]``.
    """
    debug = os.environ.get("EMOVEC_DEBUG", "").lower() in ("1", "true", "yes")
    try:
        code = app(args=argv, prog_name="emovec", standalone_mode=False)
    except UsageError as err:  # a bad or missing option: one line, like every other error
        if type(err).__name__ == "NoArgsIsHelpError" and err.ctx is not None:
            typer.echo(err.ctx.get_help())
            sys.exit(0)
        command = err.ctx.command_path if err.ctx else "emovec"
        stderr_console.print(Text("error: ", style="red") + Text(f"{one_line(err)} (see {command} --help)"))
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        stderr_console.print("interrupted; re-run the same command to resume")
        sys.exit(130)
    except (EmovecError, OSError) as err:
        if debug:
            raise
        stderr_console.print(Text("error: ", style="red") + Text(one_line(err)), soft_wrap=True)
        sys.exit(2)
    except Exception:
        if debug:
            raise
        traceback.print_exc(limit=-4)
        stderr_console.print("this is a bug in emovec (the last frames are above); EMOVEC_DEBUG=1 shows the whole "
                             "traceback. Please report it with the command that caused it.")  # fmt: skip
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def one_line(err: BaseException) -> str:
    """The message of an expected failure on one line; OSErrors name their file."""
    if isinstance(err, SettingError):
        text = f"{err.flag}: {err.reason}"
    elif isinstance(err, ClickException):
        text = err.format_message()
    elif isinstance(err, OSError) and not isinstance(err, EmovecError):
        where = err.filename if err.filename is not None else ""
        reason = err.strerror or str(err) or type(err).__name__
        text = f"{where}: {reason}" if where else reason
    else:
        text = str(err)
    return " ".join(text.split()) or type(err).__name__
