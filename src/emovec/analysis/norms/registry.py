"""The registry of known norm sets (citation, licence, scale, parser, official address) and the user cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emovec.analysis.norms.parsers import (
    DIMENSIONS,
    Parser,
    parse_nrc_v1,
    parse_nrc_v21,
    parse_table_csv,
    parse_warriner,
)
from emovec.cache import cache_root
from emovec.errors import EmovecError

NRC_PAGE = "https://saifmohammad.com/WebPages/nrc-vad.html"
NRC_TERMS = "Free for non-commercial research and education; no redistribution (terms at the bottom of the page)."

Scale = tuple[float, float]


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


def norms_cache_dir(name: str, cache_dir: Path | None = None) -> Path:
    """Where a fetched norm set lives: ``<cache>/norms/NAME/``."""
    return cache_root(cache_dir) / "norms" / name


def cached_file(entry: NormSet, cache_dir: Path | None = None) -> Path | None:
    """The cached lexicon file of a licensed set, when it has been fetched."""
    if not entry.licensed or entry.filename is None:
        return None
    path = norms_cache_dir(entry.name, cache_dir) / entry.filename
    return path if path.is_file() else None
