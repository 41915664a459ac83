"""Pooled means equal an unpadded one-story-at-a-time reference, for every architecture.

The reference is computed independently of emovec's hooks and masks: each story runs alone (no padding),
layers ``k < L`` come from HF ``hidden_states[k]`` and the last from a plain forward hook on the last block
(HF applies the final norm to ``hidden_states[-1]``), and the mean is taken over ``[skip:]`` in numpy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import STORY_TEXTS, story_rows

from emovec import extract_activations, load_model
from emovec.models.tiny import ARCHITECTURES

SKIP = 7


def unpadded_reference(loaded, texts: list[str], skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Means [n, L+1, d] and mean token norms [n, L+1] over tokens [skip:] of each story run alone (NaN: none)."""
    last_block = loaded.blocks[loaded.n_blocks - 1]
    captured = {}

    def keep_last(module, args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        captured["last"] = hidden[0] if hidden.ndim == 4 else hidden  # Gemma 3n AltUp: stream 0

    out = np.full((len(texts), loaded.n_blocks + 1, loaded.hidden_size), np.nan)
    norms = np.full((len(texts), loaded.n_blocks + 1), np.nan)
    handle = last_block.register_forward_hook(keep_last)
    try:
        for i, text in enumerate(texts):
            ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
            with torch.no_grad():
                result = loaded.model(input_ids=ids, output_hidden_states=True)
            states = [h[0] if h.ndim == 4 else h for h in result.hidden_states]
            states = states[:-1] + [captured["last"]]
            for k, hidden in enumerate(states):
                tokens = hidden[0, skip:].double().numpy()
                if len(tokens):
                    out[i, k] = tokens.mean(axis=0)
                    norms[i, k] = np.linalg.norm(tokens, axis=1).mean()
    finally:
        handle.remove()
    return out, norms


def check_against_reference(loaded, padding_side: str, batch_size: int) -> None:
    reference, reference_norms = unpadded_reference(loaded, STORY_TEXTS, SKIP)
    got = extract_activations(
        loaded, story_rows(), skip_tokens=SKIP, batch_size=batch_size, padding_side=padding_side, layers="all"
    )
    assert got.layers == list(range(loaded.n_blocks + 1))
    assert got.means.shape == reference.shape
    lengths = np.array([len(loaded.tokenizer(t)["input_ids"]) for t in STORY_TEXTS])
    np.testing.assert_array_equal(got.counted, np.clip(lengths - SKIP, 0, None))
    assert (got.counted == 0).any() and (got.counted > 0).any(), "the corpus must have stories on both sides of skip"
    np.testing.assert_array_equal(np.isnan(got.means), np.isnan(reference))
    # 1e-5 relative to each layer's scale: float32 forwards of differently shaped batches round differently
    # (by ~1e-5 of the residual stream's RMS on some CPU kernels), while a padding or mask error is O(1).
    scale = np.sqrt(np.nanmean(reference**2, axis=(0, 2)))[None, :, None]
    bound = np.nan_to_num(1e-5 * (1 + np.abs(reference) + scale), nan=1e-5)
    np.testing.assert_array_less(np.nan_to_num(np.abs(got.means - reference)), bound)
    np.testing.assert_allclose(got.norms, reference_norms, rtol=1e-5, atol=1e-5, equal_nan=True)


@pytest.fixture(scope="module")
def loaded_models(tiny_model_dir):
    cache = {}

    def get(arch):
        if arch not in cache:
            cache[arch] = load_model(tiny_model_dir(arch))
        return cache[arch]

    return get


@pytest.mark.parametrize("batch_size", [1, 3, 8])
@pytest.mark.parametrize("padding_side", ["left", "right"])
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_pooled_means_match_unpadded_reference(loaded_models, arch, padding_side, batch_size):
    check_against_reference(loaded_models(arch), padding_side, batch_size)


@pytest.mark.parametrize(
    "arch,path", [("llama", "model.layers"), ("gemma3-multimodal", "model.language_model.layers"),
                  ("gemma4-multimodal", "model.language_model.layers"), ("gpt2", "transformer.h"),
                  ("gpt-neox", "gpt_neox.layers"), ("bert", "encoder.layer"), ("gemma3n", "model.layers")],
)  # fmt: skip
def test_layer_discovery(loaded_models, arch, path):
    loaded = loaded_models(arch)
    assert loaded.blocks_path == path
    assert loaded.n_blocks == loaded.model.config.get_text_config().num_hidden_layers


@pytest.mark.parametrize("padding_side", ["left", "right"])
@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_real_minilm_matches_reference(minilm_dir, padding_side, batch_size):
    loaded = load_model(minilm_dir)
    assert loaded.blocks_path == "encoder.layer" and loaded.n_blocks == 6 and not loaded.is_decoder
    check_against_reference(loaded, padding_side, batch_size)
