"""Texts to probe from a file: JSONL or CSV with a text column (and optional id and label columns), or .txt.

A ``.txt`` file is one text. Errors name the file, the row and the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from emovec.errors import EmovecError

SUFFIXES = (".jsonl", ".csv", ".txt")


def read_table(path: str | Path, text_column: str = "text") -> pd.DataFrame:
    """A table with ``id`` and ``text`` (plus every other column of the file), in file order."""
    path = Path(path)
    if not path.exists():
        raise EmovecError(f"{path}: no such file")
    if not path.is_file():
        raise EmovecError(f"{path}: not a regular file")
    if path.suffix not in SUFFIXES:
        raise EmovecError(f"{path}: unsupported file type {path.suffix!r} (use {', '.join(SUFFIXES)})")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise EmovecError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if path.suffix == ".txt":
        if not raw.strip():
            raise EmovecError(f"{path}: the file is empty")
        return pd.DataFrame({"id": [path.stem], "text": [raw.strip()]})
    rows = _jsonl_rows(path, raw) if path.suffix == ".jsonl" else _csv_rows(path)
    if not rows:
        raise EmovecError(f"{path}: the file holds no rows")
    where = "line" if path.suffix == ".jsonl" else "row"
    for number, row in enumerate(rows, start=1):
        if text_column not in row:
            fields = ", ".join(map(str, row)) or "none"
            raise EmovecError(f"{path}: {where} {number}: field {text_column!r} is missing (fields: {fields}; "
                              "choose one with --text-column)")  # fmt: skip
        value = row[text_column]
        if not isinstance(value, str) or not value.strip():
            raise EmovecError(f"{path}: {where} {number}: field {text_column!r} must be non-empty text")
    table = pd.DataFrame(rows)
    table["text"] = table[text_column]
    if "id" not in table:
        table["id"] = [str(i) for i in range(1, len(table) + 1)]
    table["id"] = table["id"].astype(str)
    duplicated = table["id"][table["id"].duplicated()]
    if len(duplicated):
        raise EmovecError(f"{path}: id {duplicated.iloc[0]!r} appears more than once")
    return table


def _jsonl_rows(path: Path, raw: str) -> list[dict]:
    rows = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise EmovecError(f"{path}: line {number}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise EmovecError(f"{path}: line {number}: expected a JSON object")
        rows.append(row)
    return rows


def _csv_rows(path: Path) -> list[dict]:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise EmovecError(f"{path}: not a readable CSV file ({' '.join(str(err).split())})") from None
    return table.to_dict(orient="records")
