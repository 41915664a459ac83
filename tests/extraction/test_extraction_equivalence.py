"""Pooled means equal an unpadded one-story-at-a-time reference, for every architecture.

The reference is computed independently of emovec's hooks and masks: each story runs alone (no padding),
layers ``k < L`` come from HF ``hidden_states[k]`` and the last from a plain forward hook on the last block
(HF applies the final norm to ``hidden_states[-1]``), and the mean is taken over ``[skip:]`` in numpy.
"""

from __future__ import annotations

import pytest
from conftest import check_against_reference

from emovec import load_model
from emovec.models.tiny import ARCHITECTURES


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
