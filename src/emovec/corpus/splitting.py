"""Splitting a model's answer into its stories, robust to the formats models actually produce.

Handles numbered markers (``1.``, ``2)``, ``Story 3:``, ``**Story 1: Title**``, ``### 2.``), titles on
their own line, ``---`` separators, plain blank-line paragraphs, and a preamble ("Here are three
stories:") or closing remark. Returns ``None`` when the answer cannot be read as the requested number.
"""

from __future__ import annotations

import re

_MARKER = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:[*_]{1,3})?[ \t]*(?:(?:story|dialogue|passage|text|part)[ \t]*#?[ \t]*)?"
    r"\(?(\d{1,2})[ \t]*(?:[.):\]]|[*_]{2}|[ \t]*[-\u2013\u2014:]|(?=\n))",
    re.IGNORECASE | re.MULTILINE,
)
_SEPARATOR = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|={3,})\s*$", re.MULTILINE)
_PREAMBLE = re.compile(r"^(?:sure|certainly|of course|okay|here (?:are|is)|below (?:are|is))\b", re.IGNORECASE)
_CLOSING = re.compile(r"^(?:i hope|let me know|these stories|each story|feel free|enjoy)\b", re.IGNORECASE)
TITLE_MAX_WORDS = 10


def split_stories(answer: str, expected: int) -> list[str] | None:
    """The ``expected`` stories in ``answer``, cleaned, or ``None`` when it cannot be split that way."""
    text = answer.replace("\r\n", "\n").strip()
    if not text:
        return None
    for attempt in (_by_markers, _by_separators, _by_paragraphs):
        stories = attempt(text, expected)
        if stories is not None and len(stories) == expected and all(stories):
            return stories
    return None


def _by_markers(text: str, expected: int) -> list[str] | None:
    matches = [m for m in _MARKER.finditer(text)]
    sequence, number = [], 1
    for match in matches:  # keep the first run 1, 2, 3, ... and ignore numbers inside stories
        if int(match.group(1)) == number:
            sequence.append(match)
            number += 1
    if len(sequence) < 2 and expected > 1:
        return None
    stories = []
    for i, match in enumerate(sequence):
        end = sequence[i + 1].start() if i + 1 < len(sequence) else len(text)
        block = text[match.end() : end]
        if i == len(sequence) - 1:
            block = _drop_closing(block)
        stories.append(_clean_block(block, marker_line=True))
    return stories


def _by_separators(text: str, expected: int) -> list[str] | None:
    parts = [p for p in _SEPARATOR.split(text) if p.strip()]
    if len(parts) < 2:
        return None
    parts = _drop_preamble(parts)
    return [_clean_block(p) for p in parts]


def _by_paragraphs(text: str, expected: int) -> list[str] | None:
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    paragraphs = _drop_preamble(paragraphs)
    if paragraphs and _CLOSING.match(_strip_markup(paragraphs[-1])):
        paragraphs = paragraphs[:-1]
    merged: list[str] = []
    for paragraph in paragraphs:  # a title alone in its paragraph belongs to the next one
        if merged and _is_title(merged[-1]):
            merged[-1] = paragraph
        else:
            merged.append(paragraph)
    return [_clean_block(p) for p in merged]


def _drop_preamble(parts: list[str]) -> list[str]:
    first = _strip_markup(parts[0]) if parts else ""
    if parts and (_PREAMBLE.match(first) or (first.endswith(":") and len(first.split()) < 25)):
        return parts[1:]
    return parts


def _drop_closing(block: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", block) if p.strip()]
    if len(paragraphs) > 1 and _CLOSING.match(_strip_markup(paragraphs[-1])):
        paragraphs = paragraphs[:-1]
    return "\n\n".join(paragraphs)


def _clean_block(block: str, marker_line: bool = False) -> str:
    lines = [line.strip() for line in block.strip().split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    # "**Story 1: The Letter**" leaves "The Letter**" on the marker line; a short first line before more text
    # is a title.
    if len(lines) > 1 and _is_title(lines[0], allow_plain=marker_line):
        lines = lines[1:]
    text = " ".join(line for line in lines if line)
    return _strip_markup(text)


def _is_title(line: str, allow_plain: bool = True) -> bool:
    stripped = _strip_markup(line)
    if not stripped or len(stripped.split()) > TITLE_MAX_WORDS:
        return False
    marked = line.strip().startswith(("#", "*", "_")) or line.strip().endswith(("*", "_", ":"))
    return marked or (allow_plain and not stripped.endswith((".", "!", "?", '"', "\u201d")))


def _strip_markup(text: str) -> str:
    text = re.sub(r"^[#\s]+", "", text.strip())
    text = re.sub(r"(\*\*|__|\*|_)(.+?)\1", r"\2", text)
    return text.strip().strip("*_ ").strip()
