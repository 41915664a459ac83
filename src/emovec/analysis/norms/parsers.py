"""Strict readers for each norm file format: rows of (line, term, raw values), validated line by line."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from emovec.errors import EmovecError

DIMENSIONS = ("valence", "arousal", "dominance")
V21_HEADER = ("term", "valence", "arousal", "dominance")


@dataclass(frozen=True)
class Parsed:
    """Rows of a norms file before conversion: (line number, term as written, raw value per field)."""

    dims: tuple[str, ...]
    fields: tuple[str, ...]  # column names as in the file, one per dimension (for messages)
    term_field: str
    rows: list[tuple[int, str, list[str]]]


Parser = Callable[[Path, str], Parsed]


def _tsv_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank lines split on tabs, with 1-based line numbers."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line.split("\t")


def csv_records(
    path: Path, text: str, delimiter: str = ",", comments: bool = False
) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records with the line they end on; ``#`` lines skipped when ``comments``."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for record in reader:
            if not any(value.strip() for value in record):
                continue
            if comments and record[0].lstrip().startswith("#"):
                continue
            yield reader.line_num, record
    except csv.Error as err:
        raise EmovecError(f"{path}: line {reader.line_num}: malformed CSV: {err}") from None


def check_width(path: Path, number: int, record: list[str], width: int, what: str, names: str = "") -> None:
    if len(record) != width:
        raise EmovecError(f"{path}: line {number}: expected {width} {what} fields{names}, found {len(record)}")


def _looks_numeric(values: list[str]) -> bool:
    try:
        [float(value) for value in values]
    except ValueError:
        return False
    return True


def parse_nrc_v1(path: Path, text: str) -> Parsed:
    """NRC VAD v1 (2018): no header, ``word<TAB>valence<TAB>arousal<TAB>dominance``, 0..1.

    A first line ``Word<TAB>Valence<TAB>Arousal<TAB>Dominance`` (found in some copies) is skipped.
    """
    rows: list[tuple[int, str, list[str]]] = []
    for number, fields in _tsv_lines(text):
        names = [value.strip().lower() for value in fields]
        if not rows and names == ["word", *DIMENSIONS]:
            continue
        if not rows and names[:4] == list(V21_HEADER):
            raise EmovecError(
                f"{path}: line {number}: this is the NRC VAD v2.1 layout (header 'term ...'); use nrc-vad-v2.1:PATH"
            )
        check_width(path, number, fields, 4, "tab-separated", " (word, valence, arousal, dominance)")
        rows.append((number, fields[0], fields[1:]))
    return Parsed(DIMENSIONS, DIMENSIONS, "word", rows)


def parse_nrc_v21(path: Path, text: str) -> Parsed:
    """NRC VAD v2.1 (2025): header ``term<TAB>valence<TAB>arousal<TAB>dominance``, -1..1, multi-word terms."""
    lines = _tsv_lines(text)
    first = next(lines, None)
    if first is None:
        raise EmovecError(f"{path}: empty file")
    number, header = first
    names = [value.strip().lower() for value in header[:4]] + [""] * (4 - len(header))
    if names != list(V21_HEADER):
        at = next(i for i, (name, want) in enumerate(zip(names, V21_HEADER)) if name != want)
        numeric = len(header) > 1 and _looks_numeric(header[1:])
        hint = "; a file without a header is NRC VAD v1: use nrc-vad-v1:PATH" if numeric else ""
        raise EmovecError(
            f"{path}: line {number}, field {at + 1}: expected column {V21_HEADER[at]!r}, found {names[at]!r} "
            f"(the NRC VAD v2.1 header is term<TAB>valence<TAB>arousal<TAB>dominance){hint}"
        )
    rows = []
    for number, fields in lines:
        check_width(path, number, fields, len(header), "tab-separated")
        rows.append((number, fields[0], fields[1:4]))
    return Parsed(DIMENSIONS, DIMENSIONS, "term", rows)


WARRINER_COLUMNS = {"V.Mean.Sum": "valence", "A.Mean.Sum": "arousal", "D.Mean.Sum": "dominance"}


def parse_warriner(path: Path, text: str) -> Parsed:
    """Warriner, Kuperman & Brysbaert (2013) CSV: ``,Word,V.Mean.Sum,...,A.Mean.Sum,...,D.Mean.Sum,...``, 1..9."""
    records = csv_records(path, text)
    first = next(records, None)
    if first is None:
        raise EmovecError(f"{path}: empty file")
    number, header = first
    names = [value.strip() for value in header]
    missing = [name for name in ("Word", *WARRINER_COLUMNS) if name not in names]
    if missing:
        raise EmovecError(
            f"{path}: line {number}: not the Warriner et al. (2013) layout: missing column(s) "
            f"{', '.join(missing)} (needs Word, V.Mean.Sum, A.Mean.Sum, D.Mean.Sum)"
        )
    word_at = names.index("Word")
    value_at = [names.index(name) for name in WARRINER_COLUMNS]
    rows = []
    for number, record in records:
        check_width(path, number, record, len(header), "comma-separated", " (as in the header)")
        rows.append((number, record[word_at], [record[i] for i in value_at]))
    return Parsed(DIMENSIONS, tuple(WARRINER_COLUMNS), "Word", rows)


def parse_table_csv(path: Path, text: str) -> Parsed:
    """A CSV (or TSV) with a header naming ``word`` (or ``term``), ``valence``, ``arousal`` [, ``dominance``].

    Other columns are ignored; ``#`` lines are comments; tab-separated when the header has tabs and no commas.
    """
    head = next((line for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")), "")
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") or ("\t" in head and "," not in head) else ","
    records = csv_records(path, text, delimiter, comments=True)
    first = next(records, None)
    if first is None:
        raise EmovecError(f"{path}: empty file")
    number, header = first
    names = [value.strip().lower() for value in header]
    term_name = "word" if "word" in names else "term" if "term" in names else None
    missing = [name for name in ("valence", "arousal") if name not in names]
    if term_name is None or missing:
        missing = (["word (or term)"] if term_name is None else []) + missing
        raise EmovecError(
            f"{path}: line {number}: missing column(s) {', '.join(missing)} "
            "(a norms CSV has a header with word, valence, arousal and optionally dominance)"
        )
    dims = tuple(name for name in DIMENSIONS if name in names)
    term_at = names.index(term_name)
    value_at = [names.index(name) for name in dims]
    rows = []
    for number, record in records:
        check_width(path, number, record, len(header), "tab-separated" if delimiter == "\t" else "comma-separated")
        rows.append((number, record[term_at], [record[i] for i in value_at]))
    return Parsed(dims, tuple(header[i].strip() for i in value_at), header[term_at].strip(), rows)
