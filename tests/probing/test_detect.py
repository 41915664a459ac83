"""Detection batteries on planted answers: vectors built from the model's own activations at the read position."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import emovec
from emovec.models.loading import load_model
from emovec.probing.battery import bundled_scenarios, bundled_templates, fill_template, topk_hits
from emovec.probing.detect import detect_intensity, detect_scenarios
from emovec.probing.probe import probe

TEXTS = pd.DataFrame({
    "id": ["a", "b", "c", "d", "e", "f"],
    "target": ["calm", "sad", "angry", "afraid", "happy", "bored"],
    "text": ["The lake was still this morning.", "My grandmother's house was sold today.",
             "He scratched my car and drove off laughing.", "Something is moving in the dark hallway.",
             "We won the final in the last minute!", "The meeting is in its fourth hour of slides."],
})  # fmt: skip


def activations_at_reply_start(loaded, texts, layers):
    """Centred reply-start activations [n, L, d], read through probe with identity-like unit vectors."""
    d = loaded.hidden_size
    basis = np.tile(np.eye(d, dtype=np.float32)[:, None, :], (1, len(layers), 1))
    zero = emovec.EmotionVectors(vectors=basis, emotions=[f"axis{i}" for i in range(d)], layers=layers,
                                 grand_mean=np.zeros((len(layers), d), np.float32),
                                 metadata={"model": loaded.name, "n_blocks": loaded.n_blocks})  # fmt: skip
    result = probe(loaded, zero, texts, layers=layers, positions="reply-start", text_format="chat",
                   score="projection", progress=False)  # fmt: skip
    return np.stack([result.scores[k] for k in layers], axis=1).astype(np.float64)


def test_planted_vectors_give_the_diagonal_and_beat_both_nulls(tiny_model_dir):
    loaded = load_model(tiny_model_dir("qwen2"))
    layers = [1, 2, 3]
    h = activations_at_reply_start(loaded, TEXTS["text"].tolist(), layers)
    mu = h.mean(axis=0)
    vectors = emovec.EmotionVectors(vectors=(h - mu).astype(np.float32), emotions=TEXTS["target"].tolist(),
                                    layers=layers, grand_mean=mu.astype(np.float32),
                                    metadata={"model": loaded.name, "n_blocks": loaded.n_blocks})  # fmt: skip
    battery = detect_scenarios(loaded, vectors, TEXTS, layers=layers, permutations=500, random_sets=50,
                               progress=False)  # fmt: skip
    table = battery.table.set_index("layer")
    assert (table["top1"] == 1.0).all() and (table["top3"] == 1.0).all()
    assert (table["top1_p_perm"] < 0.01).all() and (table["top1_p_random"] < 0.05).all()
    assert (table["top1_random_mean"] < 0.5).all()
    for layer in layers:  # the diagonal is each text's own cosine of 1
        np.testing.assert_allclose(np.diag(battery.matrices[layer]), 1.0, atol=1e-5)
    shuffled = vectors.select(emotions=list(np.roll(TEXTS["target"].tolist(), 1)))
    shuffled.emotions = TEXTS["target"].tolist()  # each name now points at another text's direction
    wrong = detect_scenarios(loaded, shuffled, TEXTS, layers=layers, permutations=100, random_sets=0, progress=False)
    assert (wrong.table["top1"] == 0.0).all()


def test_planted_intensity_ordering(tiny_model_dir):
    loaded = load_model(tiny_model_dir("qwen2"))
    template = {"id": "t", "template": "I just took {X} mg of the pills.", "values": [1, 2, 5, 10, 20, 50, 100],
                "rises": ["afraid"], "falls": ["calm"]}  # fmt: skip
    sentences = fill_template(template)
    assert sentences[2] == "I just took 5 mg of the pills."
    layers = [2]
    h = activations_at_reply_start(loaded, sentences, layers)[:, 0]
    mu = h.mean(axis=0)
    rank = np.arange(len(sentences), dtype=np.float64) - 3
    direction = np.linalg.lstsq(h - mu, rank, rcond=None)[0]  # (h_i - mu) . v = rank_i exactly
    other = np.random.default_rng(0).normal(size=h.shape[1])
    vectors = emovec.EmotionVectors(vectors=np.stack([direction, -direction, other])[:, None].astype(np.float32),
                                    emotions=["afraid", "calm", "sad"], layers=layers,
                                    grand_mean=mu[None].astype(np.float32),
                                    metadata={"model": loaded.name, "n_blocks": loaded.n_blocks})  # fmt: skip
    table, per_template, emotions = detect_intensity(loaded, vectors, [template], layers=layers, score="projection",
                                                     progress=False)  # fmt: skip
    assert set(table["emotion"]) == {"afraid", "calm"}
    np.testing.assert_allclose(table["signed_spearman"], 1.0)
    scores = per_template["t"][2][:, emotions.index("afraid")]
    np.testing.assert_allclose(scores, rank / np.linalg.norm(direction), rtol=1e-4, atol=1e-4)  # projection
    assert stats.spearmanr(template["values"], scores).statistic == pytest.approx(1.0)


def test_topk_hits_against_a_direct_ranking():
    rng = np.random.default_rng(1)
    scores, targets = rng.normal(size=(40, 7)), rng.integers(0, 7, size=40)
    for k in (1, 3):
        ranks = (-scores).argsort(axis=1).argsort(axis=1)[np.arange(40), targets]
        np.testing.assert_array_equal(topk_hits(scores, targets, k), ranks < k)
    tied = np.zeros((5, 7))  # e.g. identical reads centred on their own mean: no emotion is read at all
    assert not topk_hits(tied, np.arange(5), 3).any()


def test_bundled_texts_are_well_formed():
    scenarios = bundled_scenarios()
    assert len(scenarios) >= 24 and scenarios["id"].is_unique
    words = emovec.load_emotion_set("anthropic171")
    assert scenarios["target"].isin(words).all()
    demo = emovec.load_emotion_set("russell28")
    assert scenarios["target"].isin(demo).sum() >= 24  # the demo's vectors can run the battery
    for template in bundled_templates():
        assert len(fill_template(template)) == len(template["values"]) >= 6
        assert set(template["rises"]) | set(template["falls"]) <= set(demo)
    from emovec.corpus.quality import corpus_report  # leakage: no scenario names its target

    table = scenarios.rename(columns={"target": "emotion"})
    flags = corpus_report(table[["id", "emotion", "text"]], min_words=10, max_words=100).flags
    assert flags["leak"].isna().all(), flags[flags["leak"].notna()]
