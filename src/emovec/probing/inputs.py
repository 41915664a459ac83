"""Texts to probe from a file: JSONL or CSV with a text column (and optional id and label columns), or .txt.

A ``.txt`` file is one text. Errors name the file, the row and the field.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emovec.corpus.reader import jsonl_rows
from emovec.errors import EmovecError

SUFFIXES = (".jsonl", ".csv", ".txt")


def read_table(path: str | Path, text_column: str = "text", flag: str = "--text-column") -> pd.DataFrame:
    """A table with ``id`` and ``text`` (plus every other column of the file), in file order."""
    path = Path(path)
    if not path.exists():
        raise EmovecError(f"{path}: no such file")
    if not path.is_file():
        raise EmovecError(f"{path}: not a regular file")
    if path.suffix not in SUFFIXES:
        raise EmovecError(f"{path}: unsupported file type {path.suffix!r} (use {', '.join(SUFFIXES)})")
    data = path.read_bytes()
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise EmovecError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if path.suffix == ".txt":
        if not raw.strip():
            raise EmovecError(f"{path}: the file is empty")
        return pd.DataFrame({"id": [path.stem], "text": [raw.strip()]})
    if path.suffix == ".jsonl":
        rows = list(jsonl_rows(data, path))
    else:
        rows = [(f"row {i}", row) for i, row in enumerate(_csv_rows(path), start=1)]
    if not rows:
        raise EmovecError(f"{path}: the file holds no rows")
    for where, row in rows:
        if text_column not in row:
            fields = ", ".join(map(str, row)) or "none"
            raise EmovecError(f"{path}: {where}: field {text_column!r} is missing (fields: {fields}; "
                              f"choose one with {flag})")  # fmt: skip
        value = row[text_column]
        if not isinstance(value, str) or not value.strip():
            raise EmovecError(f"{path}: {where}: field {text_column!r} must be non-empty text")
    table = pd.DataFrame([row for _, row in rows])
    table["text"] = table[text_column]
    if "id" not in table:
        table["id"] = [str(i) for i in range(1, len(table) + 1)]
    table["id"] = table["id"].astype(str)
    duplicated = table["id"][table["id"].duplicated()]
    if len(duplicated):
        raise EmovecError(f"{path}: id {duplicated.iloc[0]!r} appears more than once")
    return table


def _csv_rows(path: Path) -> list[dict]:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise EmovecError(f"{path}: not a readable CSV file ({' '.join(str(err).split())})") from None
    return table.to_dict(orient="records")
