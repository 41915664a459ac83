"""Quality control of story corpora: leakage, length bounds, exact and near duplicates, per-emotion stats.

Leakage: the emotion word or its stem at the start of a word, case-insensitive (``happy`` -> ``happi``
catches happiness and happily, ``delighted`` -> ``delight``; multi-word terms such as ``at ease`` match
as a phrase). Near duplicates:
Jaccard similarity of word 5-gram shingles, estimated with MinHash and found with LSH (datasketch).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

SUFFIXES = ("ied", "ed", "ing", "ness", "ly", "able", "e")
MIN_STEM = 4
DEFAULT_MIN_WORDS, DEFAULT_MAX_WORDS = 40, 400
NEAR_DUPLICATE_JACCARD = 0.6
SHINGLE = 5


def emotion_stem(emotion: str) -> str:
    """The stem matched for leakage: the word minus a common suffix, kept at least 4 letters long."""
    word = emotion.lower().strip()
    if " " in word or "-" in word:
        return word
    if word.endswith("y") and len(word) >= 5:  # happy -> happi(ness|ly); "weary" must not become "wear"
        return word[:-1] + "i"
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            return word[: -len(suffix)]
    return word


def leak(text: str, emotion: str) -> str | None:
    """The first word in ``text`` that names ``emotion`` (the word or its stem), or None."""
    word, stem = emotion.lower().strip(), emotion_stem(emotion)
    if stem.endswith("i") and word.endswith("y"):  # y-words: only derived forms, so "weary" misses "wearing"
        pattern = rf"\b{re.escape(word)}[\w-]*|\b{re.escape(stem)}(?:ness|ly|er|est|ed|es)\b"
    else:
        pattern = r"\b(?:" + "|".join(sorted({re.escape(word), re.escape(stem)}, key=len, reverse=True)) + r")[\w-]*"
    match = re.search(pattern, text, flags=re.IGNORECASE)
    return match.group(0) if match else None


def word_count(text: str) -> int:
    return len(text.split())


def _normalised(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def near_duplicates(texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD, seed: int = 1) -> list[int | None]:
    """For each text, the index of an earlier near-duplicate (shingle Jaccard >= threshold), else None."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    sketches: dict[int, MinHash] = {}
    shingles: dict[int, set[str]] = {}
    found: list[int | None] = []
    for i, text in enumerate(texts):
        words = _normalised(text).split()
        grams = {" ".join(words[j : j + SHINGLE]) for j in range(max(1, len(words) - SHINGLE + 1))}
        sketch = MinHash(num_perm=128, seed=seed)
        sketch.update_batch([g.encode() for g in grams])
        candidates = sorted(lsh.query(sketch))
        match = None
        for candidate in candidates:  # confirm with the exact Jaccard, so LSH false positives do not count
            other = shingles[candidate]
            if len(grams & other) / max(1, len(grams | other)) >= threshold:
                match = candidate
                break
        found.append(match)
        lsh.insert(i, sketch)
        sketches[i], shingles[i] = sketch, grams
    return found


def quality_flags(
    table: pd.DataFrame,
    min_words: int = DEFAULT_MIN_WORDS,
    max_words: int = DEFAULT_MAX_WORDS,
    near_threshold: float = NEAR_DUPLICATE_JACCARD,
) -> pd.DataFrame:
    """Per-row flags: ``leak`` (the leaked word), ``n_words``, ``too_short``, ``too_long``,
    ``duplicate_of`` (exact, after normalising case and punctuation) and ``near_duplicate_of`` (ids)."""
    texts, emotions, ids = table["text"].tolist(), table["emotion"].tolist(), table["id"].tolist()
    n_words = np.array([word_count(t) for t in texts])
    first_seen: dict[str, int] = {}
    exact: list[str | None] = []
    for i, text in enumerate(texts):
        key = hashlib.sha1(_normalised(text).encode()).hexdigest()
        exact.append(ids[first_seen[key]] if key in first_seen else None)
        first_seen.setdefault(key, i)
    near = near_duplicates(texts, near_threshold)
    return pd.DataFrame(
        {
            "id": ids,
            "emotion": emotions,
            "leak": [leak(t, e) for t, e in zip(texts, emotions)],
            "n_words": n_words,
            "too_short": n_words < min_words,
            "too_long": n_words > max_words,
            "duplicate_of": exact,
            "near_duplicate_of": [None if j is None or exact[i] else ids[j] for i, j in enumerate(near)],
        }
    )


@dataclass(frozen=True)
class CorpusReport:
    """Per-emotion statistics of a corpus and the flags behind them."""

    per_emotion: pd.DataFrame
    flags: pd.DataFrame

    @property
    def totals(self) -> dict:
        f = self.flags
        return {
            "stories": len(f),
            "emotions": f["emotion"].nunique(),
            "leakage_rate": float(f["leak"].notna().mean()),
            "duplicate_rate": float(f["duplicate_of"].notna().mean()),
            "near_duplicate_rate": float(f["near_duplicate_of"].notna().mean()),
            "out_of_bounds_rate": float((f["too_short"] | f["too_long"]).mean()),
        }


def corpus_report(table: pd.DataFrame, **bounds) -> CorpusReport:
    """Counts, lengths, leakage and duplicate rates per emotion."""
    flags = quality_flags(table, **bounds)
    grouped = flags.groupby("emotion", sort=True)
    per_emotion = pd.DataFrame(
        {
            "stories": grouped.size(),
            "words_mean": grouped["n_words"].mean(),
            "words_min": grouped["n_words"].min(),
            "words_max": grouped["n_words"].max(),
            "leakage_rate": grouped["leak"].apply(lambda s: s.notna().mean()),
            "duplicate_rate": grouped["duplicate_of"].apply(lambda s: s.notna().mean()),
            "near_duplicate_rate": grouped["near_duplicate_of"].apply(lambda s: s.notna().mean()),
            "out_of_bounds": grouped.apply(lambda g: int((g["too_short"] | g["too_long"]).sum()), include_groups=False),
        }
    )
    return CorpusReport(per_emotion=per_emotion, flags=flags)
