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

import csv
import io
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from .emotion_sets import normalize_word
from .errors import EmovecError

DIMENSIONS = ("valence", "arousal", "dominance")
NRC_PAGE = "https://saifmohammad.com/WebPages/nrc-vad.html"
NRC_TERMS = "Free for non-commercial research and education; no redistribution (terms at the bottom of the page)."
V21_HEADER = ("term", "valence", "arousal", "dominance")

Scale = tuple[float, float]


@dataclass(frozen=True)
class Parsed:
    """Rows of a norms file before conversion: (line number, term as written, raw value per field)."""

    dims: tuple[str, ...]
    fields: tuple[str, ...]  # column names as in the file, one per dimension (for messages)
    term_field: str
    rows: list[tuple[int, str, list[str]]]


Parser = Callable[[Path, str], Parsed]


@dataclass(frozen=True)
class NormSet:
    """A registry entry: how to read a norm set and where it comes from."""

    name: str
    title: str
    parser: Parser
    scale: Scale | None  # None: the user states it
    dimensions: tuple[str, ...]
    citation: str
    version: str | None
    licence: str
    bundled: bool = False
    url: str | None = None  # official download address
    terms_url: str | None = None
    archive_glob: str | None = None  # the lexicon file inside a zip download
    filename: str | None = None  # the cached file's name

    @property
    def licensed(self) -> bool:
        """Downloaded by the user after accepting the terms; never bundled."""
        return self.url is not None


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


@dataclass(frozen=True, eq=False)
class Matched:
    """Emotions found in a norm set (input order), those not found, and their rescaled ratings."""

    matched: list[str]
    unmatched: list[str]
    values: pd.DataFrame  # index: matched emotions; columns: dimensions
    terms: dict[str, str] = field(default_factory=dict)  # emotion -> norm term used (differs through aliases)


# ---------------------------------------------------------------- reading files


def _tsv_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank lines split on tabs, with 1-based line numbers."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line.split("\t")


def _csv_records(
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


def _check_width(path: Path, number: int, record: list[str], width: int, what: str, names: str = "") -> None:
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
        _check_width(path, number, fields, 4, "tab-separated", " (word, valence, arousal, dominance)")
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
        _check_width(path, number, fields, len(header), "tab-separated")
        rows.append((number, fields[0], fields[1:4]))
    return Parsed(DIMENSIONS, DIMENSIONS, "term", rows)


WARRINER_COLUMNS = {"V.Mean.Sum": "valence", "A.Mean.Sum": "arousal", "D.Mean.Sum": "dominance"}


def parse_warriner(path: Path, text: str) -> Parsed:
    """Warriner, Kuperman & Brysbaert (2013) CSV: ``,Word,V.Mean.Sum,...,A.Mean.Sum,...,D.Mean.Sum,...``, 1..9."""
    records = _csv_records(path, text)
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
        _check_width(path, number, record, len(header), "comma-separated", " (as in the header)")
        rows.append((number, record[word_at], [record[i] for i in value_at]))
    return Parsed(DIMENSIONS, tuple(WARRINER_COLUMNS), "Word", rows)


def parse_table_csv(path: Path, text: str) -> Parsed:
    """A CSV (or TSV) with a header naming ``word`` (or ``term``), ``valence``, ``arousal`` [, ``dominance``].

    Other columns are ignored; ``#`` lines are comments; tab-separated when the header has tabs and no commas.
    """
    head = next((line for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")), "")
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") or ("\t" in head and "," not in head) else ","
    records = _csv_records(path, text, delimiter, comments=True)
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
        _check_width(path, number, record, len(header), "tab-separated" if delimiter == "\t" else "comma-separated")
        rows.append((number, record[term_at], [record[i] for i in value_at]))
    return Parsed(dims, tuple(header[i].strip() for i in value_at), header[term_at].strip(), rows)


# ---------------------------------------------------------------- registry

NORM_SETS: dict[str, NormSet] = {
    entry.name: entry
    for entry in (
        NormSet(
            name="russell1980",
            title="Russell's circumplex: 28 affect words placed on the valence/arousal circle",
            parser=parse_table_csv,
            scale=(-1.0, 1.0),
            dimensions=("valence", "arousal"),
            citation=(
                "Russell, J. A. (1980). A circumplex model of affect. Journal of Personality and Social "
                "Psychology, 39(6), 1161-1178."
            ),
            version="1980",
            licence="Published coordinates (facts), bundled with emovec.",
            bundled=True,
            filename="russell1980.csv",
        ),
        NormSet(
            name="warriner2013",
            title="Warriner et al.: valence, arousal and dominance for 13,915 English lemmas",
            parser=parse_warriner,
            scale=(1.0, 9.0),
            dimensions=DIMENSIONS,
            citation=(
                "Warriner, A. B., Kuperman, V., & Brysbaert, M. (2013). Norms of valence, arousal, and dominance "
                "for 13,915 English lemmas. Behavior Research Methods, 45(4), 1191-1207."
            ),
            version="2013",
            licence="CC BY-NC-ND 3.0: unchanged copies only, credit the authors, non-commercial use.",
            url="https://raw.githubusercontent.com/JULIELab/XANEW/master/Ratings_Warriner_et_al.csv",
            terms_url="https://creativecommons.org/licenses/by-nc-nd/3.0/",
            filename="Ratings_Warriner_et_al.csv",
        ),
        NormSet(
            name="nrc-vad-v1",
            title="NRC VAD Lexicon v1 (2018): 20,000 English words",
            parser=parse_nrc_v1,
            scale=(0.0, 1.0),
            dimensions=DIMENSIONS,
            citation=(
                "Mohammad, S. M. (2018). Obtaining Reliable Human Ratings of Valence, Arousal, and Dominance for "
                "20,000 English Words. Proceedings of ACL 2018, 174-184."
            ),
            version="1.0 (2018)",
            licence=NRC_TERMS,
            url="https://saifmohammad.com/WebDocs/Lexicons/NRC-VAD-Lexicon.zip",
            terms_url=NRC_PAGE,
            archive_glob="NRC-VAD-Lexicon.txt",
            filename="NRC-VAD-Lexicon.txt",
        ),
        NormSet(
            name="nrc-vad-v2.1",
            title="NRC VAD Lexicon v2.1 (2025): 55k English words and multi-word terms",
            parser=parse_nrc_v21,
            scale=(-1.0, 1.0),
            dimensions=DIMENSIONS,
            citation=(
                "Mohammad, S. M. (2025). NRC VAD Lexicon v2: Norms for Valence, Arousal, and Dominance for over "
                "55k English Terms. arXiv preprint."
            ),
            version="2.1 (2025)",
            licence=NRC_TERMS,
            url="https://saifmohammad.com/WebDocs/Lexicons/NRC-VAD-Lexicon-v2.1.zip",
            terms_url=NRC_PAGE,
            archive_glob="NRC-VAD-Lexicon-v2.1.txt",
            filename="NRC-VAD-Lexicon-v2.1.txt",
        ),
        NormSet(
            name="csv",
            title="Your own CSV: word (or term), valence, arousal [, dominance], with the scale you state",
            parser=parse_table_csv,
            scale=None,
            dimensions=("valence", "arousal"),
            citation="User-supplied norms.",
            version=None,
            licence="Yours.",
        ),
    )
}


def get_norm_set(name: str) -> NormSet:
    """The registry entry called ``name``."""
    try:
        return NORM_SETS[name]
    except KeyError:
        raise EmovecError(f"unknown norm set {name!r} (known: {', '.join(NORM_SETS)})") from None


def cache_root(cache_dir: Path | None = None) -> Path:
    """``cache_dir``, else ``$EMOVEC_CACHE``, else ``~/.cache/emovec``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("EMOVEC_CACHE") or Path.home() / ".cache" / "emovec").expanduser()


def norms_cache_dir(name: str, cache_dir: Path | None = None) -> Path:
    """Where a fetched norm set lives: ``<cache>/norms/NAME/``."""
    return cache_root(cache_dir) / "norms" / name


def cached_file(entry: NormSet, cache_dir: Path | None = None) -> Path | None:
    """The cached lexicon file of a licensed set, when it has been fetched."""
    if not entry.licensed or entry.filename is None:
        return None
    path = norms_cache_dir(entry.name, cache_dir) / entry.filename
    return path if path.is_file() else None


# ---------------------------------------------------------------- loading


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
        if first_spelled == spelled and first_values != values:
            raise EmovecError(
                f"{path}: line {number}, field {parsed.term_field!r}: {term!r} repeats line {first_number} "
                "with different ratings"
            )
        if spelled == term and first_spelled != term:
            entries[term] = (number, spelled, values)
    if not entries:
        raise EmovecError(f"{path}: no rows")
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
        raise EmovecError(f"a scale needs finite lo < hi, got {lo:g}..{hi:g}")
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
            raise EmovecError(f"norm set {entry.name!r} needs the scale of its ratings (lo, hi), e.g. 1,9")
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


# ---------------------------------------------------------------- matching


def load_aliases(path: Path | str) -> dict[str, str]:
    """A two-column CSV ``emotion,term`` (with that header) mapping emotions to norm terms."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EmovecError(f"alias file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise EmovecError(f"{path}: cannot read alias file: {err}") from None
    records = _csv_records(path, text, comments=True)
    first = next(records, None)
    if first is None or [value.strip().lower() for value in first[1]] != ["emotion", "term"]:
        where = f"line {first[0]}" if first else "line 1"
        raise EmovecError(f"{path}: {where}: expected the header 'emotion,term'")
    aliases: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, record in records:
        _check_width(path, number, record, 2, "comma-separated", " (emotion, term)")
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
