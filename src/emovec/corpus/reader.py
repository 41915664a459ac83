"""Reading and validating story corpora (JSONL or Parquet, one story per row).

A row has ``id`` (unique), ``emotion`` and ``text``; any other field is kept. When no row has an ``id``,
ids are assigned from the position (``line-N`` for JSONL, ``row-N`` otherwise, 1-based); a file in which
only some rows have one is rejected. Every problem is reported as one line naming the file, row and field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from emovec.errors import EmovecError
from emovec.progress import stderr_console

REQUIRED_FIELDS = ("emotion", "text")


@dataclass(frozen=True)
class Corpus:
    """A validated corpus: a table with at least ``id``, ``emotion`` and ``text`` columns."""

    table: pd.DataFrame
    sha256: str
    source: str

    @property
    def ids(self) -> list[str]:
        return self.table["id"].tolist()

    @property
    def emotions(self) -> list[str]:
        return self.table["emotion"].tolist()

    @property
    def texts(self) -> list[str]:
        return self.table["text"].tolist()

    def __len__(self) -> int:
        return len(self.table)


def read_corpus(path: str | Path) -> Corpus:
    """Read a ``.jsonl`` or ``.parquet`` corpus and validate every row.

    A directory is read as the concatenation of its ``*.jsonl`` files (those in its ``stories/`` folder
    when it has one), in name order; assigned ids are then prefixed with the file's stem.
    """
    path = Path(path)
    if not path.exists():
        raise EmovecError(f"{path}: corpus file not found")
    if path.is_dir():
        return _read_directory(path)
    if not path.is_file():  # a FIFO or device would block or never end
        raise EmovecError(f"{path}: not a regular file; a corpus is a .jsonl or .parquet file or a directory")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = list(jsonl_rows(data, path))
    elif suffix in (".parquet", ".pq"):
        rows = list(_parquet_rows(path))
    else:
        raise EmovecError(f"{path}: unknown corpus format {suffix!r}; use .jsonl or .parquet")
    return _validated(rows, source=str(path), sha256=hashlib.sha256(data).hexdigest())


def _read_directory(directory: Path) -> Corpus:
    folder = directory / "stories" if (directory / "stories").is_dir() else directory
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise EmovecError(f"{directory}: no .jsonl corpus files in this directory")
    rows: list[tuple[str, dict]] = []
    digest = hashlib.sha256()
    for file in files:
        data = file.read_bytes()
        digest.update(file.name.encode() + b"\0" + data)
        for where, row in jsonl_rows(data, file):
            if not _present(row.get("id")):
                row["id"] = f"{file.stem}/{where.replace(' ', '-')}"
            rows.append((f"{file.name} {where}", row))
    return _validated(rows, source=str(directory), sha256=digest.hexdigest())


def corpus_from_records(records: Iterable[Mapping] | pd.DataFrame, source: str = "<records>") -> Corpus:
    """Build a validated corpus from in-memory rows (dicts or a DataFrame), e.g. in a notebook."""
    if isinstance(records, pd.DataFrame):
        records = records.to_dict("records")
    rows = [(f"row {i + 1}", dict(r)) for i, r in enumerate(records)]
    canonical = json.dumps([r for _, r in rows], sort_keys=True, default=str).encode()
    return _validated(rows, source=source, sha256=hashlib.sha256(canonical).hexdigest())


def jsonl_rows(data: bytes, path: Path) -> Iterable[tuple[str, dict]]:
    """``("line N", object)`` for each non-blank line of JSONL ``data``; one-line errors name the file and line."""
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise EmovecError(
                f"{path}: line {number}: not valid UTF-8 (byte 0x{raw[err.start]:02x} at column {err.start + 1})"
            ) from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise EmovecError(f"{path}: line {number}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(row, dict):
            raise EmovecError(f"{path}: line {number}: expected a JSON object, got {type(row).__name__}")
        yield f"line {number}", row


def _parquet_rows(path: Path) -> Iterable[tuple[str, dict]]:
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises many types for corrupt files
        raise EmovecError(f"{path}: cannot read as Parquet ({type(err).__name__}: {err})") from None
    for field in REQUIRED_FIELDS:
        if field not in table.columns:
            raise EmovecError(f"{path}: column {field!r} is missing")
    for number, row in enumerate(table.to_dict("records"), start=1):
        yield f"row {number}", row


def _validated(rows: list[tuple[str, dict]], source: str, sha256: str) -> Corpus:
    if not rows:
        raise EmovecError(f"{source}: the corpus is empty (no rows)")
    has_id = [_present(row.get("id")) for _, row in rows]
    auto_ids = not any(has_id)
    seen: dict[str, str] = {}
    for (where, row), row_has_id in zip(rows, has_id):
        for field in REQUIRED_FIELDS:
            value = row.get(field)
            if not _present(value):
                state = "empty" if isinstance(value, str) else "missing"
                raise EmovecError(f"{source}: {where}: field {field!r} is {state}")
            if not isinstance(value, str):
                raise EmovecError(f"{source}: {where}: field {field!r} must be a string")
        if auto_ids:
            row["id"] = where.replace(" ", "-")
        elif not row_has_id:
            raise EmovecError(f"{source}: {where}: field 'id' is missing (other rows have one)")
        row_id = str(row["id"])
        row["id"] = row_id
        if row_id in seen:
            raise EmovecError(f"{source}: {where}: duplicate id {row_id!r} (first at {seen[row_id]})")
        seen[row_id] = where
    merged = _normalise_labels(rows)
    if merged:
        stderr_console.print(f"note: {source}: emotion labels are stripped and lower-cased; merged "
                             + "; ".join(f"{', '.join(repr(v) for v in variants)} -> {label!r}"
                                         for label, variants in sorted(merged.items())[:10]))  # fmt: skip
    table = pd.DataFrame([row for _, row in rows])
    front = ["id", "emotion", "text"]
    table = table[front + [c for c in table.columns if c not in front]]
    for column in table.columns[3:]:
        kinds = {type(v) for v in table[column] if _present(v)}
        if len(kinds) > 1:  # e.g. numbers and strings in one field: Parquet needs one type per column
            table[column] = table[column].map(lambda v: None if not _present(v) else v if isinstance(v, str)
                                              else json.dumps(v, default=str))  # fmt: skip
    return Corpus(table=table, sha256=sha256, source=source)


def _normalise_labels(rows: list[tuple[str, dict]]) -> dict[str, list[str]]:
    """Strip and lower-case every emotion label; returns label -> the distinct spellings merged into it."""
    spellings: dict[str, set[str]] = {}
    for _, row in rows:
        label = " ".join(row["emotion"].split()).lower()
        spellings.setdefault(label, set()).add(row["emotion"])
        row["emotion"] = label
    return {label: sorted(v) for label, v in spellings.items() if len(v) > 1 or next(iter(v)) != label}


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and value != value:  # NaN from Parquet nulls
        return False
    return not (isinstance(value, str) and not value.strip())
