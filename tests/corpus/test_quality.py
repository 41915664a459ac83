"""Quality control: leakage, lengths, exact and near duplicates, and the corpus report."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SHARED_DATA

from emovec.corpus.quality import corpus_report, emotion_stem, leak, near_duplicates, quality_flags
from emovec.corpus.reader import read_corpus


@pytest.mark.parametrize(
    "text,emotion,found",
    [("Happiness filled the room.", "happy", "Happiness"), ("She smiled happily.", "happy", "happily"),
     ("He was delighted.", "delighted", "delighted"), ("The delight of it", "delighted", "delight"),
     ("She felt at ease.", "at ease", "at ease"), ("It was an intense day.", "tense", None),
     ("The tension rose.", "tense", "tension"), ("She was wearing a coat.", "weary", None),
     ("He walked wearily.", "weary", "wearily"), ("Weariness.", "weary", "Weariness"),
     ("It could happen.", "happy", None), ("A grief-stricken man.", "grief-stricken", "grief-stricken"),
     ("Nothing here.", "sad", None), ("SAD!", "sad", "SAD")],
)  # fmt: skip
def test_leak(text, emotion, found):
    assert leak(text, emotion) == found


def test_stems():
    assert [emotion_stem(w) for w in ("happy", "satisfied", "annoyed", "bored", "calm")] == [
        "happi", "satisf", "annoy", "bored", "calm"]  # fmt: skip


def test_flags_lengths_and_duplicates():
    base = " ".join(f"word{i}" for i in range(60))
    near = base.replace("word30", "other")  # one word changed: Jaccard of 5-shingles ~0.84
    table = pd.DataFrame({
        "id": ["a", "b", "c", "d", "e"],
        "emotion": ["sad", "sad", "calm", "calm", "sad"],
        "text": [base, base.upper() + "!", near, "too short", "I felt so sad " + " ".join(["x"] * 50)],
    })  # fmt: skip
    flags = quality_flags(table, min_words=10, max_words=100).set_index("id")
    assert flags.loc["b", "duplicate_of"] == "a"  # case and punctuation do not hide a copy
    assert flags.loc["c", "near_duplicate_of"] == "a" and pd.isna(flags.loc["c", "duplicate_of"])
    assert bool(flags.loc["d", "too_short"]) and flags.loc["e", "leak"] == "sad"
    assert pd.isna(flags.loc["a", "leak"]) and pd.isna(flags.loc["a", "near_duplicate_of"])


def test_near_duplicates_against_exact_jaccard():
    texts = [" ".join(f"w{j}" for j in range(i, i + 80)) for i in (0, 5, 40, 200)]
    found = near_duplicates(texts, threshold=0.6)
    assert found == [None, 0, None, None]  # shift 5 of 80: Jaccard 0.88; shift 40: 0.33; disjoint: 0


def test_report_per_emotion():
    table = pd.DataFrame({"id": list("abcd"), "emotion": ["sad", "sad", "calm", "calm"],
                          "text": ["one two three", "so sad", "calm water here", "four five six"]})  # fmt: skip
    report = corpus_report(table, min_words=1, max_words=10)
    assert report.per_emotion.loc["sad", "leakage_rate"] == 0.5 and report.per_emotion.loc["calm", "stories"] == 2
    assert report.totals["leakage_rate"] == 0.5


def test_shared_sonnet_corpus_check():
    corpus_dir = SHARED_DATA / "corpora" / "sonnet45-20emotions"
    if not corpus_dir.exists():
        pytest.skip(f"shared data not found at {corpus_dir}")
    corpus = read_corpus(corpus_dir)
    report = corpus_report(corpus.table[["id", "emotion", "text"]])
    assert report.totals["stories"] == 3000 and report.totals["emotions"] == 20
    assert (report.per_emotion["stories"] == 150).all()
    assert report.totals["leakage_rate"] < 0.01 and report.totals["duplicate_rate"] == 0.0
