"""The steering context manager: strength 0 is plain generate, positions under the KV cache and padding,
per-row vectors, hooks removed, and the residual-norm unit, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_vectors

import emovec
from emovec.errors import EmovecError
from emovec.steering.generation import generate, prepare_prompt, span_mask
from emovec.steering.hooks import steering, steering_layers
from emovec.steering.strengths import added_vectors, parse_strengths, random_like, total_added_norm

PROMPTS = ["hello there", "a much longer prompt with many more words in it than the others", "hi"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    loaded = emovec.load_model(tiny_model_dir("llama"))
    return loaded, tiny_vectors(loaded)


def hooks_of(model) -> list[tuple[str, int, int]]:
    return [(name, len(m._forward_hooks), len(m._forward_pre_hooks)) for name, m in model.named_modules()]


def plain_greedy(loaded, ids: list[int], n: int = 8) -> list[int]:
    tensor = torch.tensor([ids])
    with torch.inference_mode():
        out = loaded.model.generate(input_ids=tensor, attention_mask=torch.ones_like(tensor), do_sample=False,
                                    max_new_tokens=n, pad_token_id=loaded.pad_token_id)  # fmt: skip
    return out[0, len(ids):].tolist()


def test_strength_zero_is_plain_generate_bitwise(tiny):
    loaded, vectors = tiny
    ids = prepare_prompt(loaded.tokenizer, PROMPTS[0]).ids
    tensor = torch.tensor([ids])
    with torch.inference_mode():
        plain = loaded.model(input_ids=tensor).logits
        with steering(loaded, vectors, {"joy": 0.0}, layers=[1, 2], phase="all"):
            zero = loaded.model(input_ids=tensor).logits
            generated = plain_greedy(loaded, ids)
    assert torch.equal(plain, zero)
    assert generated == plain_greedy(loaded, ids)


def test_hooks_are_removed_on_exit_and_after_an_exception(tiny):
    loaded, vectors = tiny
    before = hooks_of(loaded.model)
    with steering(loaded, vectors, {"joy": 0.2}, layers=[0, 1, 3]):
        assert hooks_of(loaded.model) != before
    assert hooks_of(loaded.model) == before
    with pytest.raises(RuntimeError, match="boom"), steering(loaded, vectors, {"joy": 0.2}, layers="all"):
        raise RuntimeError("boom")
    assert hooks_of(loaded.model) == before


def test_added_vector_is_strength_times_residual_norm_times_unit_vector(tiny):
    loaded, vectors = tiny
    added = added_vectors(vectors, {"joy": 0.3, "fear": -0.1}, [1, 2])
    for i, k in enumerate([1, 2]):
        v = {e: vectors.vectors[vectors.emotions.index(e), k].astype(np.float64) for e in ("joy", "fear")}
        want = 0.3 * 5.0 * v["joy"] / np.linalg.norm(v["joy"]) - 0.1 * 5.0 * v["fear"] / np.linalg.norm(v["fear"])
        np.testing.assert_allclose(added[i], want, rtol=1e-6)
    single = added_vectors(vectors, {"joy": 0.3}, [1, 2])
    assert total_added_norm(single) == pytest.approx(2 * 0.3 * 5.0)
    np.testing.assert_allclose(np.linalg.norm(random_like(single, 1), axis=1), np.linalg.norm(single, axis=1))
    with pytest.warns(UserWarning, match="more than the residual norm"), steering(loaded, vectors, {"joy": 0.6},
                                                                                   layers=[1, 2]):  # fmt: skip
        pass


class Block0Inputs:
    """Records what enters block 0 (layer 0) in every forward pass, after any steering registered earlier."""

    def __init__(self, loaded):
        self.loaded, self.seen = loaded, []

    def __enter__(self):
        def keep(module, args, kwargs):
            self.seen.append((args[0] if args else kwargs["hidden_states"]).detach().clone())

        self.handle = self.loaded.blocks[0].register_forward_pre_hook(keep, with_kwargs=True)
        return self.seen

    def __exit__(self, *exc):
        self.handle.remove()


@pytest.mark.parametrize("phase", ["prompt", "response", "all", "span"])
def test_steered_positions_under_the_kv_cache_and_left_padding(tiny, phase):
    """Layer-0 steering: each pass's block-0 input minus the token embeddings is exactly the added vector at the
    steered positions and exactly 0 elsewhere (padding included)."""
    loaded, vectors = tiny
    prompts = [prepare_prompt(loaded.tokenizer, p) for p in PROMPTS[:2]]
    width = max(len(p.ids) for p in prompts)
    pad = loaded.pad_token_id
    ids = torch.tensor([[pad] * (width - len(p.ids)) + p.ids for p in prompts])
    mask = torch.tensor([[0] * (width - len(p.ids)) + [1] * len(p.ids) for p in prompts])
    strengths = [{"joy": 0.5}, {"fear": -0.4}]
    delta = np.stack([added_vectors(vectors, s, [0])[0] for s in strengths])
    token_mask = None
    if phase == "span":
        token_mask = np.zeros((2, width), dtype=bool)
        for b, p in enumerate(prompts):
            start = p.text.index("there") if b == 0 else p.text.index("words")
            token_mask[b, width - len(p.ids):] = span_mask(p, [(start, start + 5)])
    steps = 4

    chosen = phase if phase != "span" else "prompt"
    with torch.inference_mode(), steering(loaded, vectors, strengths, layers=[0], phase=chosen,
                                          token_mask=token_mask), Block0Inputs(loaded) as captured:  # fmt: skip
        sequence = loaded.model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=steps,
                                         pad_token_id=pad)  # fmt: skip
    embed = loaded.model.get_input_embeddings()
    assert captured[0].shape[1] == width and all(c.shape[1] == 1 for c in captured[1:])
    offset = 0
    for hidden in captured:
        positions = range(offset, offset + hidden.shape[1])
        with torch.inference_mode():
            base = embed(sequence[:, offset:offset + hidden.shape[1]])
        diff = (hidden - base).double().numpy()
        for b in range(2):
            for j, t in enumerate(positions):
                real = t >= width or bool(mask[b, t])
                if phase == "span":
                    want = t < width and bool(token_mask[b, t])
                elif phase == "prompt":
                    want = t < width and real
                elif phase == "response":
                    want = t >= width - 1
                else:
                    want = real
                expected = delta[b] if want else np.zeros_like(delta[b])
                np.testing.assert_allclose(diff[b, j], expected, atol=1e-5, err_msg=f"{phase} row {b} pos {t}")
        offset += hidden.shape[1]
    if phase == "span":
        assert token_mask.sum() >= 2


def test_batch_equals_one_prompt_at_a_time_with_a_different_emotion_per_row(tiny):
    loaded, vectors = tiny
    prompts = [prepare_prompt(loaded.tokenizer, p) for p in PROMPTS]
    adds = np.stack([added_vectors(vectors, s, [1, 2]) for s in ({"joy": 0.4}, {"fear": -0.4}, {})])
    for phase in ("response", "all"):
        batch = generate(loaded, prompts, adds, [1, 2], phase=phase, max_new_tokens=8, batch_size=3, progress=False)
        alone = [generate(loaded, [p], adds[i:i + 1], [1, 2], phase=phase, max_new_tokens=8, progress=False)[0]
                 for i, p in enumerate(prompts)]  # fmt: skip
        assert [g.token_ids for g in batch] == [g.token_ids for g in alone]
    assert batch[2].token_ids == plain_greedy(loaded, prompts[2].ids)[: len(batch[2].token_ids)]
    assert batch[0].token_ids != plain_greedy(loaded, prompts[0].ids)[: len(batch[0].token_ids)]


def test_response_steering_changes_the_first_token_logits_and_prompt_steering_spares_generated_ones(tiny):
    loaded, vectors = tiny
    ids = torch.tensor([prepare_prompt(loaded.tokenizer, PROMPTS[0]).ids])
    with torch.inference_mode():
        plain = loaded.model(input_ids=ids).logits[0, -1]
        with steering(loaded, vectors, {"joy": 0.3}, layers=[2], phase="response"):
            steered = loaded.model(input_ids=ids).logits[0]
    assert not torch.allclose(plain, steered[-1])
    with torch.inference_mode():
        earlier = loaded.model(input_ids=ids[:, :-1]).logits[0].numpy()
    np.testing.assert_allclose(earlier, steered[:-1].numpy(), atol=1e-5)  # only the last prompt position is steered


def test_layer_specs_and_strength_specs(tiny):
    loaded, vectors = tiny
    assert steering_layers(vectors, "1-3", loaded.n_blocks) == [1, 2, 3]
    assert steering_layers(vectors, "all", loaded.n_blocks) == list(range(1, loaded.n_blocks + 1))
    assert steering_layers(vectors, None, loaded.n_blocks) == [round(0.66 * loaded.n_blocks)]
    assert parse_strengths("-0.2:0.2:0.1") == [-0.2, -0.1, 0.0, 0.1, 0.2]
    assert parse_strengths("0.1,-0.05") == [0.1, -0.05]
    for bad in ("abc", "0.2:-0.2:0.1", "0:1:0", "nan"):
        with pytest.raises(EmovecError):
            parse_strengths(bad)
    with pytest.raises(EmovecError, match="not among the vectors' emotions"), steering(loaded, vectors, {"zzz": 0.1},
                                                                                        layers=[1]):  # fmt: skip
        pass
    with pytest.raises(EmovecError, match="out of range|outside"):
        steering_layers(vectors, "99", loaded.n_blocks)


@pytest.mark.slow
def test_bundled_smollm2_batch_equals_alone_and_strength_zero_is_plain(bundled_llm):
    loaded = bundled_llm("smollm2-135m-instruct")
    vectors = tiny_vectors(loaded, norm=30.0, seed=1)
    prompts = [prepare_prompt(loaded.tokenizer, p) for p in ("Tell me about your day.", "Describe a window.",
                                                              "What is the capital of France? Answer briefly.")]
    layers = [12, 16]
    adds = np.stack([added_vectors(vectors, s, layers) for s in ({"joy": 0.1}, {"fear": -0.1}, {"joy": 0.0})])
    batch = generate(loaded, prompts, adds, layers, max_new_tokens=12, batch_size=3, progress=False)
    alone = [generate(loaded, [p], adds[i:i + 1], layers, max_new_tokens=12, progress=False)[0]
             for i, p in enumerate(prompts)]  # fmt: skip
    assert [g.token_ids for g in batch] == [g.token_ids for g in alone]
    assert batch[2].token_ids == plain_greedy(loaded, prompts[2].ids, 12)[: len(batch[2].token_ids)]
    assert batch[0].token_ids != plain_greedy(loaded, prompts[0].ids, 12)[: len(batch[0].token_ids)]
