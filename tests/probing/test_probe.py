"""Probe scores against an independent computation: HF ``output_hidden_states`` per text, numpy centring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import STORY_TEXTS

import emovec
from emovec.errors import EmovecError
from emovec.models.loading import load_model
from emovec.models.tiny import ARCHITECTURES
from emovec.probing.probe import probe
from emovec.probing.texts import generation_prompt, prepare_texts


def hidden_states_alone(loaded, ids: list[int]) -> list[np.ndarray]:
    """Residual stream [T, d] at every layer 0..n_blocks of one unpadded text (last block before the final norm)."""
    captured = {}
    handle = loaded.blocks[loaded.n_blocks - 1].register_forward_hook(
        lambda module, args, output: captured.update(last=output[0] if isinstance(output, tuple) else output))
    try:
        with torch.no_grad():
            result = loaded.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    finally:
        handle.remove()
    states = list(result.hidden_states[:-1]) + [captured["last"]]
    return [h[0].double().numpy() for h in states]


def random_vectors(loaded, n_emotions: int = 5, seed: int = 0) -> emovec.EmotionVectors:
    rng = np.random.default_rng(seed)
    layers = list(range(loaded.n_blocks + 1))
    d = loaded.hidden_size
    return emovec.EmotionVectors(
        vectors=rng.normal(size=(n_emotions, len(layers), d)).astype(np.float32),
        emotions=[f"e{i}" for i in range(n_emotions)], layers=layers,
        grand_mean=rng.normal(size=(len(layers), d)).astype(np.float32),
        metadata={"model": loaded.name, "n_blocks": loaded.n_blocks},
    )  # fmt: skip


def expected_scores(loaded, vectors, texts, positions, score, layers, **fmt):
    prepared = prepare_texts(loaded.tokenizer, texts, positions=positions, **fmt)
    out = {layer: [] for layer in layers}
    for ids, special in zip(prepared.ids, prepared.special):
        states = hidden_states_alone(loaded, ids)
        for layer in layers:
            slot = vectors.layers.index(layer)
            h = states[layer]
            if positions == "mean":
                h = h[~special].mean(axis=0, keepdims=True) if (~special).any() else h.mean(axis=0, keepdims=True)
            elif positions in ("last", "reply-start"):
                h = h[-1:]
            c = h - vectors.grand_mean[slot].astype(np.float64)
            v = vectors.vectors[:, slot].astype(np.float64)
            unit = v / np.linalg.norm(v, axis=1, keepdims=True)
            s = c @ unit.T
            if score == "cosine":
                s = s / np.linalg.norm(c, axis=1, keepdims=True)
            out[layer].append(s if positions == "tokens" else s[0])
    return out


def assert_scores_match(got, want, layers, positions) -> None:
    for layer in layers:
        if positions == "tokens":
            for g, w in zip(got.scores[layer], want[layer]):
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_allclose(got.scores[layer], np.stack(want[layer]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("positions", ["tokens", "mean", "last"])
@pytest.mark.parametrize("padding_side,batch_size", [("right", 1), ("right", 3), ("left", 3)])
def test_scores_equal_hidden_states_of_each_text_alone(tiny_model_dir, positions, padding_side, batch_size):
    loaded = load_model(tiny_model_dir("llama"))
    vectors = random_vectors(loaded)
    texts = STORY_TEXTS[:5]
    layers = [0, 2, loaded.n_blocks]
    for score in ("cosine", "projection"):
        got = probe(loaded, vectors, texts, layers=layers, positions=positions, score=score, batch_size=batch_size,
                    padding_side=padding_side, progress=False)  # fmt: skip
        want = expected_scores(loaded, vectors, texts, positions, score, layers)
        assert_scores_match(got, want, layers, positions)


def test_reply_start_is_the_last_token_of_the_generation_prompt(tiny_model_dir):
    loaded = load_model(tiny_model_dir("qwen2"))
    prompt = generation_prompt(loaded.tokenizer)
    assert prompt.strip() and "x" not in prompt
    texts = ["I lost my keys again.", "A much longer message about the weather and the garden and the dog."]
    prepared = prepare_texts(loaded.tokenizer, texts, positions="reply-start")
    for formatted, ids in zip(prepared.formatted, prepared.ids):
        assert formatted.endswith(prompt)
        assert loaded.tokenizer.decode(ids).endswith(prompt.rstrip()) or formatted.endswith(
            loaded.tokenizer.decode(ids[-1:]))
    vectors = random_vectors(loaded)
    for side in ("left", "right"):
        got = probe(loaded, vectors, texts, layers=[1, 2], positions="reply-start", padding_side=side,
                    batch_size=2, progress=False)  # fmt: skip
        want = expected_scores(loaded, vectors, texts, "reply-start", "cosine", [1, 2])
        for layer in (1, 2):
            np.testing.assert_allclose(got.scores[layer], np.stack(want[layer]), rtol=1e-5, atol=1e-5)


def test_to_frame_has_a_row_per_token_and_layer(tiny_model_dir):
    loaded = load_model(tiny_model_dir("llama"))
    result = probe(loaded, random_vectors(loaded), STORY_TEXTS[:3], ids=["a", "b", "c"], layers=[1, 3],
                   progress=False)  # fmt: skip
    frame = result.to_frame()
    assert len(frame) == 2 * sum(len(t) for t in result.tokens)
    assert list(frame.columns[:6]) == ["text_id", "token_index", "token", "start", "end", "layer"]
    first = frame[(frame["text_id"] == "b") & (frame["layer"] == 3)]
    np.testing.assert_array_equal(first[result.emotions].to_numpy(), result.scores[3][1])


def test_vectors_of_another_model_or_layer_are_refused(tiny_model_dir):
    loaded = load_model(tiny_model_dir("llama"))
    narrow = random_vectors(loaded)
    narrow.vectors = narrow.vectors[:, :, :8].copy()
    with pytest.raises(EmovecError, match="the vectors have d = 8"):
        probe(loaded, narrow, "text", progress=False)
    renamed = random_vectors(loaded)
    renamed.metadata["model"] = "someone/else"
    with pytest.raises(EmovecError, match="built from someone/else"):
        probe(loaded, renamed, "text", progress=False)
    few = random_vectors(loaded).select(layers=[0, 1])
    with pytest.raises(EmovecError, match="not among the vectors' layers"):
        probe(loaded, few, "text", layers=[3], progress=False)


@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a != "bert"])
def test_reply_start_for_every_chat_template_in_the_matrix(tiny_model_dir, arch):
    """The read position is the last token of the template's rendering with the generation prompt, and the
    tokens after the user's text are exactly the template's tail (the generation prompt among them)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir(arch))
    if not getattr(tokenizer, "chat_template", None):
        pytest.skip(f"{arch}: no chat template")
    prompt = generation_prompt(tokenizer)
    prepared = prepare_texts(tokenizer, ["The letter arrived."], positions="reply-start")
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "The letter arrived."}], tokenize=True,
                                             add_generation_prompt=True)  # fmt: skip
    rendered = rendered["input_ids"] if hasattr(rendered, "keys") else rendered  # BatchEncoding in transformers 5
    assert prepared.ids[0] == list(rendered)
    assert prepared.formatted[0].endswith(prompt)
    without = tokenizer.apply_chat_template([{"role": "user", "content": "The letter arrived."}], tokenize=False,
                                            add_generation_prompt=False)  # fmt: skip
    assert len(tokenizer(without, add_special_tokens=False)["input_ids"]) < len(prepared.ids[0])


@pytest.mark.slow
@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_scores_on_the_bundled_smollm2_equal_each_text_alone(bundled_llm, padding_side):
    loaded = bundled_llm("smollm2-135m-instruct")
    vectors = random_vectors(loaded, n_emotions=4, seed=1)
    texts = STORY_TEXTS[:3]
    layers = [5, 20]
    for positions in ("tokens", "reply-start"):
        fmt = {"text_format": "chat"} if positions == "reply-start" else {}
        got = probe(loaded, vectors, texts, layers=layers, positions=positions, batch_size=3,
                    padding_side=padding_side, progress=False, **fmt)  # fmt: skip
        want = expected_scores(loaded, vectors, texts, positions, "cosine", layers)
        assert_scores_match(got, want, layers, positions)


def test_reference_texts_centres_on_the_probed_texts_own_mean(tiny_model_dir):
    loaded = load_model(tiny_model_dir("qwen2"))
    vectors = random_vectors(loaded)
    texts = STORY_TEXTS[:4]
    layers = [1, 3]
    got = probe(loaded, vectors, texts, layers=layers, positions="reply-start", reference="texts", batch_size=3,
                padding_side="left", progress=False)  # fmt: skip
    prepared = prepare_texts(loaded.tokenizer, texts, positions="reply-start")
    reads = np.stack([np.stack([hidden_states_alone(loaded, ids)[k][-1] for k in layers]) for ids in prepared.ids])
    for j, layer in enumerate(layers):
        c = reads[:, j] - reads[:, j].mean(axis=0)
        v = vectors.vectors[:, vectors.layers.index(layer)].astype(np.float64)
        want = (c @ (v / np.linalg.norm(v, axis=1, keepdims=True)).T) / np.linalg.norm(c, axis=1, keepdims=True)
        np.testing.assert_allclose(got.scores[layer], want, rtol=1e-4, atol=1e-5)
    with pytest.raises(EmovecError, match="one read per text"):
        probe(loaded, vectors, texts, layers=layers, reference="texts", progress=False)


def test_reference_grand_mean_keyword_is_the_stored_grand_mean(tiny_model_dir):
    loaded = load_model(tiny_model_dir("qwen2"))
    vectors = random_vectors(loaded)
    texts = STORY_TEXTS[:2]
    default = probe(loaded, vectors, texts, layers=[1], positions="mean", progress=False)
    for keyword in ("grand_mean", "grand-mean"):
        named = probe(loaded, vectors, texts, layers=[1], positions="mean", reference=keyword, progress=False)
        np.testing.assert_array_equal(named.scores[1], default.scores[1])
    own = probe(loaded, vectors, texts, layers=[1], positions="mean", reference="texts", progress=False)
    assert not np.allclose(own.scores[1], default.scores[1])
