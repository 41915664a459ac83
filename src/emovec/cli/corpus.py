"""``emovec corpus``: quality reports on a story corpus (file or directory of JSONL files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emovec.errors import EmovecError
from emovec.progress import table_console

corpus_app = typer.Typer(help="Inspect a story corpus: counts, lengths, leakage and duplicates.", no_args_is_help=True)

MinWords = Annotated[int, typer.Option(help="Stories with fewer words are flagged.", min=0)]
MaxWords = Annotated[int, typer.Option(help="Stories with more words are flagged.", min=1)]


def _report(path: Path, min_words: int, max_words: int):
    if max_words < min_words:
        raise EmovecError(f"--max-words {max_words} is below --min-words {min_words}")
    from emovec.corpus.quality import corpus_report
    from emovec.corpus.reader import read_corpus

    corpus = read_corpus(path)
    return corpus_report(corpus.table[["id", "emotion", "text"]], min_words=min_words, max_words=max_words)


def _print_table(report, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for label in (
        "emotion",
        "stories",
        "words mean",
        "min",
        "max",
        "leakage",
        "duplicates",
        "near dup.",
        "out of bounds",
    ):
        table.add_column(label, justify="left" if label == "emotion" else "right")
    for emotion, row in report.per_emotion.iterrows():
        table.add_row(emotion, f"{row['stories']:.0f}", f"{row['words_mean']:.0f}", f"{row['words_min']:.0f}",
                      f"{row['words_max']:.0f}", f"{row['leakage_rate']:.1%}", f"{row['duplicate_rate']:.1%}",
                      f"{row['near_duplicate_rate']:.1%}", f"{row['out_of_bounds']:.0f}")  # fmt: skip
    table_console(140).print(table)


@corpus_app.command()
def check(
    path: Annotated[Path, typer.Argument(help="Corpus file (.jsonl/.parquet) or a directory of .jsonl files.")],
    min_words: MinWords = 40,
    max_words: MaxWords = 400,
    show: Annotated[int, typer.Option(help="List up to this many flagged stories.", min=0)] = 10,
) -> None:
    """Summarise a corpus and list flagged stories (leaked emotion words, lengths, duplicates)."""
    report = _report(path, min_words, max_words)
    totals = report.totals
    counts = report.per_emotion["stories"]
    typer.echo(
        f"{path}: {totals['stories']} stories, {totals['emotions']} emotions "
        f"({counts.min()}-{counts.max()} stories each)"
    )
    typer.echo(
        f"leakage {totals['leakage_rate']:.1%}, exact duplicates {totals['duplicate_rate']:.1%}, "
        f"near duplicates {totals['near_duplicate_rate']:.1%}, outside {min_words}-{max_words} words "
        f"{totals['out_of_bounds_rate']:.1%}"
    )
    flags = report.flags
    flagged = flags[flags["leak"].notna() | flags["duplicate_of"].notna() | flags["near_duplicate_of"].notna()
                    | flags["too_short"] | flags["too_long"]]  # fmt: skip
    for _, row in flagged.head(show).iterrows():
        reasons = []
        if row["leak"]:
            reasons.append(f"names the emotion ({row['leak']!r})")
        if row["duplicate_of"]:
            reasons.append(f"duplicate of {row['duplicate_of']}")
        if row["near_duplicate_of"]:
            reasons.append(f"near duplicate of {row['near_duplicate_of']}")
        if row["too_short"] or row["too_long"]:
            reasons.append(f"{row['n_words']} words")
        typer.echo(f"  {row['id']} ({row['emotion']}): {'; '.join(reasons)}")
    if len(flagged) > show:
        typer.echo(f"  ... and {len(flagged) - show} more (--show N)")


@corpus_app.command()
def stats(
    path: Annotated[Path, typer.Argument(help="Corpus file (.jsonl/.parquet) or a directory of .jsonl files.")],
    min_words: MinWords = 40,
    max_words: MaxWords = 400,
    csv: Annotated[Path | None, typer.Option(help="Also write the table to this CSV file.")] = None,
) -> None:
    """Per-emotion counts, lengths, leakage and duplicate rates as a table."""
    report = _report(path, min_words, max_words)
    _print_table(report, f"{path}")
    if csv:
        report.per_emotion.to_csv(csv, float_format="%.4g")
