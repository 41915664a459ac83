"""Matching emotion words to norm terms: exact lower-case matches, optionally through an alias file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from emovec.analysis.emotion_sets import normalize_word
from emovec.analysis.norms.loading import Norms
from emovec.analysis.norms.parsers import check_width, csv_records
from emovec.errors import EmovecError


@dataclass(frozen=True, eq=False)
class Matched:
    """Emotions found in a norm set (input order), those not found, and their rescaled ratings."""

    matched: list[str]
    unmatched: list[str]
    values: pd.DataFrame  # index: matched emotions; columns: dimensions
    terms: dict[str, str] = field(default_factory=dict)  # emotion -> norm term used (differs through aliases)


def load_aliases(path: Path | str) -> dict[str, str]:
    """A two-column CSV ``emotion,term`` (with that header) mapping emotions to norm terms."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EmovecError(f"alias file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise EmovecError(f"{path}: cannot read alias file: {err}") from None
    records = csv_records(path, text, comments=True)
    first = next(records, None)
    if first is None or [value.strip().lower() for value in first[1]] != ["emotion", "term"]:
        where = f"line {first[0]}" if first else "line 1"
        raise EmovecError(f"{path}: {where}: expected the header 'emotion,term'")
    aliases: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, record in records:
        check_width(path, number, record, 2, "comma-separated", " (emotion, term)")
        emotion, term = (normalize_word(value) for value in record)
        for name, value in (("emotion", emotion), ("term", term)):
            if not value:
                raise EmovecError(f"{path}: line {number}, field {name!r}: empty value")
        if emotion in aliases:
            first = lines[emotion]
            raise EmovecError(f"{path}: line {number}, field 'emotion': {emotion!r} already mapped on line {first}")
        aliases[emotion], lines[emotion] = term, number
    return aliases


def match_emotions(emotions: list[str], norms: Norms, aliases: Mapping[str, str] | None = None) -> Matched:
    """Exact lower-case lookup of each emotion (through ``aliases`` first) in ``norms.table``."""
    aliases = {normalize_word(key): normalize_word(value) for key, value in (aliases or {}).items()}
    seen: set[str] = set()
    matched: list[str] = []
    unmatched: list[str] = []
    terms: dict[str, str] = {}
    for emotion in emotions:
        key = normalize_word(emotion)
        if key in seen:
            raise EmovecError(f"duplicate emotion {emotion!r} in the emotion list")
        seen.add(key)
        term = aliases.get(key, key)
        if term in norms.table.index:
            matched.append(emotion)
            terms[emotion] = term
        else:
            unmatched.append(emotion)
    values = norms.table.loc[[terms[emotion] for emotion in matched]].copy()
    values.index = pd.Index(matched, name="emotion")
    return Matched(matched, unmatched, values, terms)
