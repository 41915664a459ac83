"""Human valence / arousal (/ dominance) norms: a registry of known sets, strict loaders and exact matching.

Every set is read into a table indexed by lower-case term (inner whitespace collapsed, multi-word terms kept)
with its dimensions rescaled from the set's original scale ``(lo, hi)`` to [-1, 1] by
``2 * (x - lo) / (hi - lo) - 1``. Files are validated row by row; a problem is one line naming the file, line
and field. Licensed sets (NRC VAD, Warriner) are never bundled: pass their file as ``NAME:PATH`` or fetch them
into the user cache with ``emovec norms fetch NAME --accept-terms``.

Case variants of one term (Warriner lists both ``aids`` and ``AIDS``) resolve to the lower-case spelling, else
to the first; a term repeated with different ratings is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from emovec.analysis.emotion_sets import normalize_word
from emovec.analysis.norms.parsers import Parsed
from emovec.analysis.norms.registry import NORM_SETS, NormSet, Scale, cached_file, norms_cache_dir
from emovec.errors import EmovecError, SettingError
from emovec.progress import stderr_console


@dataclass(frozen=True, eq=False)
class Norms:
    """A loaded norm set; ``table`` is indexed by lower-case term, values in [-1, 1]."""

    name: str
    version: str | None
    citation: str
    source: str
    original_scale: Scale
    table: pd.DataFrame

    @property
    def dimensions(self) -> list[str]:
        return list(self.table.columns)


def _value(path: Path, number: int, field_name: str, text: str, scale: Scale) -> float:
    lo, hi = scale
    if not text.strip():
        raise EmovecError(f"{path}: line {number}, field {field_name!r}: empty value")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise EmovecError(f"{path}: line {number}, field {field_name!r}: {text.strip()!r} is not a number")
    if not lo <= value <= hi:
        raise EmovecError(f"{path}: line {number}, field {field_name!r}: {value:g} is outside the scale {lo:g}..{hi:g}")
    return value


def raw_table(path: Path, parsed: Parsed, scale: Scale) -> pd.DataFrame:
    """Validated values on the original scale, indexed by lower-case term."""
    entries: dict[str, tuple[int, str, tuple[float, ...]]] = {}
    collisions: dict[str, set[str]] = {}
    for number, written, raw in parsed.rows:
        term = normalize_word(written)
        if not term:
            raise EmovecError(f"{path}: line {number}, field {parsed.term_field!r}: empty term")
        values = tuple(_value(path, number, name, text, scale) for name, text in zip(parsed.fields, raw))
        spelled = " ".join(written.split())
        previous = entries.get(term)
        if previous is None:
            entries[term] = (number, spelled, values)
            continue
        first_number, first_spelled, first_values = previous
        if first_spelled != spelled:
            collisions.setdefault(term, {first_spelled}).add(spelled)
        if first_spelled == spelled and first_values != values:
            raise EmovecError(
                f"{path}: line {number}, field {parsed.term_field!r}: {term!r} repeats line {first_number} "
                "with different ratings"
            )
        if spelled == term and first_spelled != term:
            entries[term] = (number, spelled, values)
    if not entries:
        raise EmovecError(f"{path}: no rows")
    if collisions:
        shown = "; ".join(f"{', '.join(sorted(v))} -> {entries[t][1]!r}" for t, v in sorted(collisions.items())[:8])
        stderr_console.print(f"note: {path}: {len(collisions)} terms differ only in case; kept the lower-case (else "
                             f"first) spelling's ratings: {shown}")  # fmt: skip
    frame = pd.DataFrame.from_dict({term: values for term, (_, _, values) in entries.items()}, orient="index")
    frame.columns = list(parsed.dims)
    frame.index.name = "term"
    return frame


def rescale(table: pd.DataFrame, scale: Scale) -> pd.DataFrame:
    """Map ``[lo, hi]`` linearly onto [-1, 1] (exactly the identity when the scale is already -1..1)."""
    lo, hi = scale
    if (lo, hi) == (-1.0, 1.0):
        return table.astype(float)
    return 2.0 * (table - lo) / (hi - lo) - 1.0


def _check_scale(scale: Scale) -> Scale:
    try:
        lo, hi = (float(value) for value in scale)
    except (TypeError, ValueError):
        raise EmovecError(f"a scale is two numbers (lo, hi), got {scale!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise SettingError("norms_scale", f"a scale needs finite LO < HI, got {lo:g},{hi:g}")
    return lo, hi


def parse_spec(spec: str) -> tuple[NormSet, Path | None]:
    """``NAME`` or ``NAME:PATH``."""
    if spec in NORM_SETS:
        return NORM_SETS[spec], None
    name, sep, path = spec.partition(":")
    if not sep or name not in NORM_SETS:
        raise EmovecError(
            f"unknown norm set {spec!r}: use NAME or NAME:PATH with NAME one of {', '.join(NORM_SETS)} "
            "(your own file: csv:PATH with its scale)"
        )
    if not path:
        raise EmovecError(f"norm set spec {spec!r} has an empty path")
    return NORM_SETS[name], Path(path).expanduser()


def _resolve_path(entry: NormSet, path: Path | None, cache_dir: Path | None) -> tuple[str, str]:
    """(text, source) of the file to read."""
    if entry.bundled:
        if path is not None:
            raise EmovecError(f"norm set {entry.name!r} is bundled with emovec and takes no path")
        data = resources.files("emovec").joinpath("data").joinpath("norms").joinpath(entry.filename or "")
        return data.read_text(encoding="utf-8"), "bundled"
    if path is None:
        if not entry.licensed:
            raise EmovecError(f"norm set {entry.name!r} needs a file: {entry.name}:PATH")
        path = cached_file(entry, cache_dir)
        if path is None:
            raise EmovecError(
                f"norm set {entry.name!r} is licensed and not in the cache ({norms_cache_dir(entry.name, cache_dir)}): "
                f"pass its file as {entry.name}:PATH or run `emovec norms fetch {entry.name} --accept-terms` "
                f"(terms: {entry.terms_url})"
            )
    if not path.is_file():
        raise EmovecError(f"norms file not found: {path}")
    try:
        return path.read_text(encoding="utf-8-sig"), str(path)
    except UnicodeDecodeError as err:
        raise EmovecError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise EmovecError(f"{path}: cannot read: {err.strerror}") from None


def load_norms(spec: str, scale: Scale | None = None, cache_dir: Path | None = None) -> Norms:
    """Load ``NAME`` (bundled or cached) or ``NAME:PATH``; ``scale`` is required for ``csv`` only."""
    entry, path = parse_spec(spec)
    if entry.scale is None:
        if scale is None:
            raise SettingError("norms_scale", f"norm set {entry.name!r} needs the scale of its ratings, "
                               "e.g. 1,9 (scale=(1, 9) in Python, norms_scale = [1, 9] in a study)")
        scale = _check_scale(scale)
    else:
        if scale is not None and _check_scale(scale) != entry.scale:
            lo, hi = entry.scale
            raise EmovecError(f"norm set {entry.name!r} has the fixed scale {lo:g}..{hi:g}; a scale is for csv only")
        scale = entry.scale
    text, source = _resolve_path(entry, path, cache_dir)
    shown = Path(source) if source != "bundled" else Path(f"bundled {entry.filename}")
    table = raw_table(shown, entry.parser(shown, text), scale)
    return Norms(entry.name, entry.version, entry.citation, source, scale, rescale(table, scale))
