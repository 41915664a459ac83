"""Emotion word lists: the bundled sets and plain text files, one word per line.

Lines starting with ``#`` and blank lines are ignored; words are stripped, lower-cased and inner whitespace
is collapsed (multi-word emotions such as ``at ease`` are kept). A repeated word is an error.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from emovec.errors import EmovecError, SettingError

EMOTION_SETS: dict[str, str] = {
    "anthropic171": (
        "Sofroniew et al. (2026), Emotion Concepts and their Function in a Large Language Model (Anthropic), "
        "appendix: 171 emotion words"
    ),
    "russell28": (
        "Russell, J. A. (1980), A circumplex model of affect, Journal of Personality and Social Psychology "
        "39(6):1161-1178: the 28 circumplex words"
    ),
}


def normalize_word(word: str) -> str:
    """Lower-case, strip and collapse inner whitespace: the form every emotion and norm term is matched in."""
    return " ".join(word.lower().split())


def parse_words(text: str, source: str) -> list[str]:
    """Words of a word-list text; ``source`` names the file in error messages."""
    words: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        word = normalize_word(line)
        if not word or word.startswith("#"):
            continue
        if word in first_line:
            raise EmovecError(f"{source}: line {number}: duplicate word {word!r} (first on line {first_line[word]})")
        first_line[word] = number
        words.append(word)
    if not words:
        raise EmovecError(f"{source}: no emotion words (one word per line, '#' starts a comment)")
    return words


def bundled_text(name: str) -> str:
    """Text of a bundled emotion set."""
    return resources.files("emovec").joinpath("data").joinpath("emotions").joinpath(f"{name}.txt").read_text("utf-8")


def load_emotion_set(name_or_path: str) -> list[str]:
    """Words of a bundled set (``anthropic171``, ``russell28``) or of a text file, one word per line."""
    if name_or_path in EMOTION_SETS:
        return parse_words(bundled_text(name_or_path), f"bundled emotion set {name_or_path}")
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise SettingError(
            "emotions",
            f"unknown emotion set {name_or_path!r}: not a bundled set ({', '.join(EMOTION_SETS)}) nor an existing file",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise EmovecError(f"{path}: cannot read emotion list: {err}") from None
    return parse_words(text, str(path))
