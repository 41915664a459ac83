"""The embedded demo corpus meets its contract, and ``emovec demo`` runs end to end offline."""

from __future__ import annotations

import pandas as pd
import pytest

from emovec.analysis.emotion_sets import load_emotion_set
from emovec.corpus.quality import corpus_report
from emovec.corpus.reader import read_corpus
from emovec.study.demo import demo_files


def test_demo_stories_cover_russell28_without_leakage_or_duplicates():
    stories, _ = demo_files()
    corpus = read_corpus(stories)
    counts = corpus.table["emotion"].value_counts()
    assert set(counts.index) == set(load_emotion_set("russell28")) and counts.min() >= 10
    report = corpus_report(corpus.table[["id", "emotion", "text"]], min_words=60, max_words=150)
    flags = report.flags
    assert flags["leak"].isna().all(), flags[flags["leak"].notna()][["id", "leak"]].to_string()
    assert flags["duplicate_of"].isna().all() and flags["near_duplicate_of"].isna().all()
    assert not (flags["too_short"] | flags["too_long"]).any()
    narration = corpus.table.groupby("emotion")["narration"].agg(lambda s: set(s))
    assert all(n == {"first", "third"} for n in narration)  # mixed narration for every emotion
    topics = corpus.table.groupby("emotion")["topic"].nunique()
    assert (topics == counts.loc[topics.index]).all()  # a different premise for each story of an emotion


def test_demo_neutral_passages():
    _, neutral = demo_files()
    table = read_corpus(neutral).table
    assert len(table) >= 30 and table["text"].is_unique
    words = table["text"].str.split().str.len()
    assert words.between(60, 150).all()
    for emotion in load_emotion_set("russell28"):
        from emovec.corpus.quality import leak

        assert not any(leak(text, emotion) for text in table["text"]), emotion


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, minilm_dir):
    from emovec.study.demo import run_demo

    result = run_demo(tmp_path, bootstrap=100, permutations=100, progress=False)
    table = pd.read_csv(tmp_path / "geometry" / "geometry.csv")
    assert len(table) == 7 and table["n_matched"].iloc[0] == 28  # MiniLM: embeddings + 6 blocks
    assert {"r_pc1_valence_ci_low", "r_pc1_valence_p"} <= set(table.columns)
    for name in ("layer_curves.png", "layer_curves.svg", "emotion_plane.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 10_000
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "<table" in html
    assert result["timings"]["total_s"] > 0
