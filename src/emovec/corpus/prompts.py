"""Prompt templates for corpus generation: bundled (written for emovec) or the user's own files.

A template is plain text with the placeholders ``{n_stories}``, ``{topic}`` and (for stories)
``{emotion}``. Its content hash is recorded with every generated story.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from emovec.errors import EmovecError

BUNDLED = {"stories": "stories.txt", "neutral": "neutral.txt"}
REQUIRED = {"stories": {"n_stories", "topic", "emotion"}, "neutral": {"n_stories", "topic"}}


@dataclass(frozen=True)
class PromptTemplate:
    kind: str  # "stories" or "neutral"
    text: str
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def render(self, *, topic: str, n_stories: int, emotion: str | None = None) -> str:
        return self.text.format(topic=topic, n_stories=n_stories, emotion=emotion or "")


def load_template(kind: str, path: str | Path | None = None) -> PromptTemplate:
    """The bundled template of ``kind`` or the user's file, checked for its placeholders."""
    if kind not in BUNDLED:
        raise EmovecError(f"unknown template kind {kind!r}; use one of {', '.join(BUNDLED)}")
    text, source = _read_text("prompts", BUNDLED[kind], path, "prompt template")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as err:
        raise EmovecError(f"{source}: not a valid template ({err}); write literal braces as {{{{ and }}}}") from None
    missing, unknown = REQUIRED[kind] - fields, fields - REQUIRED[kind]
    if missing:
        raise EmovecError(
            f"{source}: template lacks placeholder(s) {', '.join('{' + m + '}' for m in sorted(missing))}"
        )
    if unknown:
        raise EmovecError(f"{source}: unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))}")
    return PromptTemplate(kind=kind, text=text.strip() + "\n", source=source)


def load_topics(path: str | Path | None = None, kind: str = "default") -> list[str]:
    """Topics, one per line (``#`` comments and blank lines ignored): bundled ``default``/``neutral`` or a file."""
    text, source = _read_text("topics", f"{kind}.txt", path, "topics file")
    topics = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not topics:
        raise EmovecError(f"{source}: the topics file is empty")
    seen: set[str] = set()
    for number, topic in enumerate(topics, start=1):
        if topic in seen:
            raise EmovecError(f"{source}: topic {number} is a duplicate: {topic!r}")
        seen.add(topic)
    return topics


def _read_text(folder: str, bundled: str, path: str | Path | None, what: str) -> tuple[str, str]:
    """The user's file at ``path``, or the bundled ``data/<folder>/<bundled>``; returns (text, source)."""
    if path is None:
        text = resources.files("emovec").joinpath("data", folder, bundled).read_text(encoding="utf-8")
        return text, f"bundled:{bundled.removesuffix('.txt') if folder == 'topics' else bundled}"
    path = Path(path)
    if not path.exists():
        raise EmovecError(f"{path}: {what} not found")
    return path.read_text(encoding="utf-8"), str(path)
