"""Sweeps: a planted emotion direction read back monotonically, the text statistics, conditions, and outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import emovec
from emovec.errors import EmovecError
from emovec.steering.sweep import CONTROL, plan_conditions, run_sweep
from emovec.steering.text_stats import distinct_n, repetition_rate


@pytest.fixture(scope="module")
def planted(tiny_model_dir):
    """A tiny llama whose blocks add nothing and whose LM head is its embedding matrix, so the residual stream
    at every layer is the token embedding and the next token is the one whose embedding best matches it; the
    "joy" vector is the mean embedding of a few tokens minus the mean of all: steering along it makes those
    tokens win, and reading a text back measures how many of them it holds."""
    loaded = emovec.load_model(tiny_model_dir("llama"))
    with torch.no_grad():
        for block in loaded.blocks:
            block.self_attn.o_proj.weight.zero_()
            block.mlp.down_proj.weight.zero_()
        loaded.model.lm_head.weight.copy_(loaded.model.get_input_embeddings().weight)
    table = loaded.model.get_input_embeddings().weight.detach().double().numpy()
    rng = np.random.default_rng(0)
    chosen = rng.choice(np.arange(10, table.shape[0]), size=5, replace=False)
    grand = table.mean(axis=0)
    joy = table[chosen].mean(axis=0) - grand
    other = rng.normal(size=table.shape[1])
    n = loaded.n_blocks
    norm = float(np.linalg.norm(table, axis=1).mean())
    vectors = emovec.EmotionVectors(np.stack([np.tile(joy, (n + 1, 1)), np.tile(other, (n + 1, 1))]).astype(np.float32),
                                    ["joy", "fear"], list(range(n + 1)),
                                    grand_mean=np.tile(grand, (n + 1, 1)).astype(np.float32),
                                    residual_norm=np.full(n + 1, norm, np.float32),
                                    metadata={"model": loaded.name, "n_blocks": n})  # fmt: skip
    return loaded, vectors


def test_steering_along_a_planted_direction_raises_the_read_back_monotonically(planted):
    loaded, vectors = planted
    strengths = [0.0, 0.5, 1.0, 2.0, 4.0]
    conditions = plan_conditions(["joy"], [",".join(map(str, strengths))])
    table, settings = run_sweep(loaded, vectors, ["hello there", "tell me a story"], conditions, layers=[2],
                                phase="all", chat=False, max_new_tokens=8, progress=False)  # fmt: skip
    mine = table[table["condition"] == "joy"].groupby("strength")["readback"].mean()
    assert list(mine.index) == strengths
    assert np.all(np.diff(mine.to_numpy()) >= -1e-6), mine
    assert mine.iloc[-1] > mine.iloc[0] + 0.3, mine
    control = table[table["condition"] == CONTROL].groupby("strength")["score_joy"].mean()
    assert control.max() < mine.iloc[-1] - 0.2  # a random direction of the same norm does not do it
    assert settings["layers"] == [2] and settings["generations"] == len(strengths) * 2 + 4 * 2


def test_conditions_for_mixes_sweeps_and_controls():
    mix = plan_conditions(["joy", "calm"], ["0.1", "-0.05"])
    assert len(mix) == 1 and mix[0].strengths == {"joy": 0.1, "calm": -0.05}
    sweep = plan_conditions(["joy", "calm"], ["-0.1:0.1:0.1"])
    assert [(c.label, c.strength) for c in sweep if not c.control] == [
        ("joy", -0.1), ("joy", 0.0), ("joy", 0.1), ("calm", -0.1), ("calm", 0.0), ("calm", 0.1)]
    assert [c.strength for c in sweep if c.control] == [-0.1, 0.1]
    assert not any(c.control for c in plan_conditions(["joy"], ["0,0.1"], control=False))
    with pytest.raises(EmovecError, match="3 strengths for 2 emotions"):
        plan_conditions(["joy", "calm"], ["0.1", "0.2", "0.3"])


def test_text_statistics_against_hand_counts():
    assert distinct_n("a b a b", 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert repetition_rate("the cat sat the cat sat", 3) == pytest.approx(1 / 4)  # 4 trigrams, 1 repeat
    assert repetition_rate("one two three four", 3) == 0.0
    assert np.isnan(distinct_n("word", 2))


def test_coherence_flags_and_onsets_on_a_planted_table():
    from emovec.steering.sweep import coherent, incoherence_onsets

    table = pd.DataFrame({"prompt_id": [1] * 5, "condition": ["joy"] * 5, "control": [False] * 5,
                          "strength": [-0.2, -0.1, 0.0, 0.1, 0.2],
                          "perplexity": [30.0, 5.0, 2.0, 15.0, 17.0],
                          "repetition": [0.0, 0.5, 0.0, 0.1, 0.0]})  # fmt: skip
    table["coherent"] = coherent(table)
    assert list(table["coherent"]) == [False, False, True, True, False]  # 8x 2.0 = 16; repetition 0.5 > 0.3
    assert incoherence_onsets(table) == {"joy": {"positive": 0.2, "negative": -0.1}}
