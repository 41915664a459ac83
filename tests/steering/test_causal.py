"""The next-word and preference tests against direct computations on a tiny model, with planted answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_vectors

import emovec
from emovec.steering.hooks import steering
from emovec.steering.next_word import next_word_test
from emovec.steering.preferences import PREFILL, QUESTION, build_questions, pair_preferences, preference_test
from emovec.steering.scoring import continuation_logprobs, next_token_logprobs
from emovec.steering.strengths import added_vectors


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    loaded = emovec.load_model(tiny_model_dir("qwen2"))
    return loaded, tiny_vectors(loaded)


def alone_logprob(loaded, prefix, continuation, vectors=None, strengths=None, layers=None) -> float:
    ids = torch.tensor([prefix + continuation])
    with torch.inference_mode():
        if strengths:
            with steering(loaded, vectors, strengths, layers=layers, phase="all"):
                logits = loaded.model(input_ids=ids).logits[0]
        else:
            logits = loaded.model(input_ids=ids).logits[0]
    logp = torch.log_softmax(logits.double(), dim=-1)
    return float(sum(logp[len(prefix) + t - 1, tok] for t, tok in enumerate(continuation)))


def test_continuation_logprobs_equal_one_row_at_a_time_with_and_without_steering(tiny):
    loaded, vectors = tiny
    tok = loaded.tokenizer
    prefixes = [tok("He feels")["input_ids"], tok("After the long day, the whole team was")["input_ids"]]
    continuations = [tok(" calm", add_special_tokens=False)["input_ids"], tok(" sad", add_special_tokens=False)[
        "input_ids"]]  # fmt: skip
    got = continuation_logprobs(loaded, prefixes, continuations, batch_size=2)
    added = added_vectors(vectors, {"joy": 0.3}, [2])
    steered = continuation_logprobs(loaded, prefixes, continuations, layers=[2], batch_size=2,
                                    additions=np.broadcast_to(added, (2, *added.shape)))  # fmt: skip
    for r in range(2):
        assert got[r] == pytest.approx(alone_logprob(loaded, prefixes[r], continuations[r]), abs=1e-4)
        assert steered[r] == pytest.approx(alone_logprob(loaded, prefixes[r], continuations[r], vectors,
                                                         {"joy": 0.3}, [2]), abs=1e-4)  # fmt: skip
    assert not np.allclose(got, steered)


def test_next_word_matrix_is_steered_minus_base_averaged_over_stems(tiny):
    loaded, vectors = tiny
    stems = ["He feels", "I am"]
    result = next_word_test(loaded, vectors, stems=stems, strength=0.3, layers=[2], permutations=50, progress=False)
    tok = loaded.tokenizer
    for e, emotion in enumerate(vectors.emotions):
        for w, word in enumerate(vectors.emotions):
            want = np.mean([alone_logprob(loaded, tok(s)["input_ids"], tok(" " + word, add_special_tokens=False)[
                "input_ids"], vectors, {emotion: 0.3}, [2]) - alone_logprob(loaded, tok(s)["input_ids"], tok(
                    " " + word, add_special_tokens=False)["input_ids"]) for s in stems])  # fmt: skip
            assert result.change[e, w] == pytest.approx(want, abs=1e-4)
    diagonal = np.eye(3, dtype=bool)
    assert result.matching == pytest.approx(result.change[diagonal].mean())
    assert 0 < result.p_perm <= 1


def test_preferences_read_the_two_letters_and_cancel_position_bias(tiny):
    loaded, _ = tiny
    texts = ["sort a list of numbers", "write a short poem about rivers", "count the words in a page"]
    questions = build_questions(loaded.tokenizer, texts)
    assert len(questions.ids) == 6
    got = next_token_logprobs(loaded, questions.ids, questions.letters, batch_size=4)
    for k, (a, b) in enumerate(questions.pairs):
        turn = [{"role": "user", "content": QUESTION.format(a=texts[a], b=texts[b])}]
        text = loaded.tokenizer.apply_chat_template(turn, tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([loaded.tokenizer(text + PREFILL, add_special_tokens=False)["input_ids"]])
        with torch.inference_mode():
            logp = torch.log_softmax(loaded.model(input_ids=ids).logits[0, -1].double(), dim=-1)
        np.testing.assert_allclose(got[k], logp[questions.letters].numpy(), atol=1e-4)
        words = loaded.tokenizer.decode([t for t, m in zip(questions.ids[k], questions.option_tokens[k][0]) if m])
        assert texts[a].split()[0] in words  # option A's tokens are activity a's
    # a model that always says "A" prefers nothing once both orders are averaged
    i, j, p, bias = pair_preferences(questions, np.log(np.tile([[0.9, 0.1]], (6, 1))), 3)
    np.testing.assert_allclose(p, 0.5) and bias == pytest.approx(0.9)


def test_preference_test_outputs_halves_centred_ratings_and_probe_scores(tiny):
    """Every other activity is steered; ratings are centred, so the halves' changes are opposite."""
    loaded, vectors = tiny
    table = pd.DataFrame({"id": list("abcdef"), "category": ["x"] * 6,
                          "text": ["sort numbers", "write a poem", "count words", "read a page", "plan a trip",
                                   "fold paper"]})  # fmt: skip
    result = preference_test(loaded, vectors, table, ["joy", "fear", "calm"], strength=0.5, layers=[2],
                             bootstrap=20, progress=False)  # fmt: skip
    assert list(result.activities["steered"]) == [True, False] * 3
    assert np.isclose(result.activities["elo"].mean(), 0, atol=1e-6)
    changes = result.emotions[["elo_change_steered", "elo_change_unsteered"]].to_numpy()
    np.testing.assert_allclose(changes[:, 0], -changes[:, 1], atol=1e-6)  # ratings are centred
    assert set(result.emotions["emotion"]) == {"joy", "fear", "calm"}
    assert {"score_joy", "elo_low", "elo_high"} <= set(result.activities)
