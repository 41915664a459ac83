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
def test_demo_runs_the_bundled_study_with_both_language_models(tmp_path, bundled_llm):
    from emovec.study.demo import demo_study_file, run_demo
    from emovec.study.spec import load_study

    for name in ("smollm2-135m-instruct", "gemma-3-270m"):
        bundled_llm(name)  # skips when a model package is missing; converts the GGUF once per session
    study, _ = load_study(demo_study_file())
    assert [m.model for m in study.models] == ["smollm2-135m-instruct", "gemma-3-270m"]
    result = run_demo(tmp_path, bootstrap=30, permutations=30, progress=False)
    assert result["counts"]["run"] == len(result["stages"]) == 12  # the study runner, not a separate code path
    results = pd.read_csv(tmp_path / "results.csv")
    assert list(results["model"]) == ["smollm2-135m", "gemma3-270m"] and (results["n_matched"] == 28).all()
    smollm = pd.read_csv(tmp_path / "tables" / "smollm2-135m__demo.csv")
    gemma = pd.read_csv(tmp_path / "tables" / "gemma3-270m__demo.csv")
    assert len(smollm) == 31 and len(gemma) == 19  # embeddings + every block
    assert smollm["best_r_valence"].max() > 0.5 and gemma["best_r_valence"].max() > 0.5  # a real valence axis
    cka = pd.read_csv(tmp_path / "comparisons" / "demo__smollm2-135m_vs_gemma3-270m__cka.csv", index_col=0)
    assert cka.shape == (31, 19) and cka.to_numpy().max() <= 1 + 1e-9
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 9  # + battery x2, sweep, CKA, RSA
    assert "Scenario battery: smollm2-135m on demo" in html and "Token heatmap: smollm2-135m on demo" in html
    assert "What the numbers show" in html and "What they do not show" in html
    assert "Gemma Terms of Use" in html and "<details><summary>Settings and provenance" in html
    for name in ("layer_curves", "pca_scatter", "cka_matrix"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 10_000
    again = run_demo(tmp_path, bootstrap=30, permutations=30, progress=False)
    assert again["counts"] == {"run": 0, "cached": 12}
