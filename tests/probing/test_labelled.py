"""Labelled text: labels read back from planted vectors; ratings equal to the axis projection give rho = 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import STORY_TEXTS
from sklearn.linear_model import RidgeCV
from test_detect import TEXTS, activations_at_reply_start
from test_probe import hidden_states_alone

import emovec
from emovec.errors import EmovecError
from emovec.models.loading import load_model
from emovec.probing.labelled import evaluate_labels, evaluate_ratings, read_label_map
from emovec.probing.texts import prepare_texts


def test_planted_labels_are_read_back_and_unmapped_ones_listed(tiny_model_dir, tmp_path):
    loaded = load_model(tiny_model_dir("qwen2"))
    layers = [2, 3]
    h = activations_at_reply_start(loaded, TEXTS["text"].tolist(), layers)
    mu = h.mean(axis=0)
    vectors = emovec.EmotionVectors(vectors=(h - mu).astype(np.float32), emotions=TEXTS["target"].tolist(),
                                    layers=layers, grand_mean=mu.astype(np.float32),
                                    metadata={"model": loaded.name, "n_blocks": loaded.n_blocks})  # fmt: skip
    labels = ["Calm", "sadness", "angry", "afraid", "joy", "bored", "other"]  # two need the map, one maps nowhere
    texts = pd.concat([TEXTS, pd.DataFrame({"id": ["g"], "target": ["x"], "text": ["Unrelated."]})])
    texts = texts.assign(label=labels)
    label_map = tmp_path / "map.csv"
    label_map.write_text("label,emotion\nsadness,sad\njoy,happy\n")
    table, unmapped = evaluate_labels(loaded, vectors, texts, label_map=read_label_map(label_map, vectors.emotions),
                                      layers=layers, positions="reply-start", text_format="chat", permutations=200,
                                      progress=False)  # fmt: skip
    assert unmapped == ["other"]
    assert (table["n"] == 6).all() and (table["top1"] == 1).all() and (table["macro_f1"] == 1).all()
    assert (table["top1_p_perm"] < 0.02).all()
    label_map.write_text("label,emotion\nsadness,melancholy\n")
    with pytest.raises(EmovecError, match=r"map.csv: row 2: emotion 'melancholy'"):
        read_label_map(label_map, vectors.emotions)


def test_ratings_equal_to_the_readout_projection_give_rho_one(tiny_model_dir):
    loaded = load_model(tiny_model_dir("llama"))
    norms = emovec.load_norms("russell1980")
    words = emovec.load_emotion_set("russell28")
    rng = np.random.default_rng(3)
    layers = [1, 3]
    vectors = emovec.EmotionVectors(vectors=rng.normal(size=(len(words), 2, loaded.hidden_size)).astype(np.float32),
                                    emotions=words, layers=layers,
                                    grand_mean=rng.normal(size=(2, loaded.hidden_size)).astype(np.float32),
                                    metadata={"model": loaded.name, "n_blocks": loaded.n_blocks})  # fmt: skip
    match = emovec.match_emotions(words, norms)
    rows = [words.index(e) for e in match.matched]
    w = RidgeCV(alphas=np.logspace(-4, 6, 21)).fit(vectors.vectors[rows, 1].astype(np.float64),
                                                    match.values["valence"].to_numpy()).coef_  # fmt: skip
    texts = STORY_TEXTS[:8]
    prepared = prepare_texts(loaded.tokenizer, texts, positions="mean")
    valence = []
    for ids, special in zip(prepared.ids, prepared.special):
        h = hidden_states_alone(loaded, ids)[3][~special].mean(axis=0)
        valence.append((h - vectors.grand_mean[1]) @ w / np.linalg.norm(w))
    frame = pd.DataFrame({"id": [str(i) for i in range(8)], "text": texts, "valence": valence})
    table = evaluate_ratings(loaded, vectors, norms, frame, ["valence"], layers=[3], bootstrap=100, permutations=100,
                             progress=False)  # fmt: skip
    readout = table[(table["axis"] == "readout")].iloc[0]
    assert readout["spearman"] == pytest.approx(1.0) and readout["p_perm"] < 0.05
    assert set(table["axis"]) == {"readout", "best_pc"}
