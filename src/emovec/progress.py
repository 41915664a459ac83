"""Rich progress bars for long steps: items/s, tokens/s and ETA, on stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

# No markup: messages carry user text (file names such as stories[v2].jsonl) that rich would otherwise eat.
stderr_console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


class _RateColumn(ProgressColumn):
    """Items per second and tokens per second since the task started."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        elapsed = task.elapsed or 0.0
        if elapsed <= 0:
            return Text("")
        items = task.completed / elapsed
        tokens = task.fields.get("tokens", 0) / elapsed
        return Text(f"{items:,.1f} {self.unit}/s  {tokens:,.0f} tok/s", style="progress.data.speed")


@contextmanager
def progress_bar(
    description: str, total: int, unit: str = "stories", enabled: bool = True, completed: int = 0
) -> Iterator[Callable[[int, int], None]]:
    """Yield ``advance(items, tokens)``; shows a bar with rates and ETA when enabled."""
    if not enabled:
        yield lambda items, tokens=0: None
        return
    columns = (
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr_console, transient=False) as bar:
        task = bar.add_task(description, total=total, completed=completed, tokens=0)
        state = {"tokens": 0}

        def advance(items: int, tokens: int = 0) -> None:
            state["tokens"] += tokens
            bar.update(task, advance=items, tokens=state["tokens"])

        yield advance


def table_console(width: int = 160) -> Console:
    """A stdout console for tables: no markup (cells hold user text), ``width`` columns when not a terminal."""
    console = Console(markup=False, highlight=False)
    return console if console.is_terminal else Console(markup=False, highlight=False, width=width)
