"""Large-model paths on CPU: accelerate's device map with disk offload, and the accelerator settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import emovec
from emovec.errors import EmovecError
from emovec.extraction.activations import load_activations
from emovec.extraction.batching import plan_batches
from emovec.extraction.engine import pool_batches
from emovec.extraction.memory import batch_tokens_for, default_batch_tokens, token_bytes
from emovec.extraction.pipeline import extract
from emovec.extraction.tokenization import encode_stories
from emovec.models.loading import parse_max_memory

SETTINGS = {"skip_tokens": 2, "shard_size": 4, "progress": False}


def budget_for_half(model_dir) -> int:
    """CPU bytes for the embeddings and the first block: the other blocks must go to disk."""
    plain = emovec.load_model(model_dir, validate=False)
    embed = sum(p.numel() * 4 for p in plain.model.get_input_embeddings().parameters())
    block = sum(p.numel() * 4 for p in plain.blocks[0].parameters())
    return int(embed + 1.6 * block)


def test_disk_offload_extracts_what_the_plain_model_does(tiny_model_dir, corpus_file, tmp_path):
    model_dir = tiny_model_dir("llama")
    plain = extract(str(model_dir), corpus_file, tmp_path / "plain", **SETTINGS)
    offloaded = emovec.load_model(model_dir, device_map="auto", max_memory={"cpu": budget_for_half(model_dir)},
                                  offload_folder=tmp_path / "offload")  # fmt: skip
    placement = set(offloaded.model.hf_device_map.values())
    assert placement == {"cpu", "disk"}, offloaded.model.hf_device_map  # really split between memory and disk
    assert offloaded.device == torch.device("cpu")
    result = extract(offloaded, corpus_file, tmp_path / "offloaded", **SETTINGS)
    a, b = load_activations(result.out), load_activations(plain.out)
    np.testing.assert_allclose(a.means, b.means, atol=1e-5, rtol=0)
    np.testing.assert_allclose(a.norms, b.norms, atol=1e-5, rtol=0)


def test_max_memory_parsing():
    assert parse_max_memory("cpu=20GiB, 0=70GiB,1=1000") == {"cpu": "20GiB", 0: "70GiB", 1: 1000}
    assert parse_max_memory(None) is None
    for bad in ("cpu", "cpu=", "gpu0=1GiB", "=3"):
        with pytest.raises(EmovecError, match="--max-memory"):
            parse_max_memory(bad)


def test_max_memory_without_device_map_is_refused(tiny_model_dir):
    with pytest.raises(EmovecError, match="need a device map"):
        emovec.load_model(tiny_model_dir("llama"), max_memory={"cpu": 10_000})


def test_sums_cross_to_the_host_once_per_batch(tiny_model_dir, corpus_file, monkeypatch):
    """However many layers, a batch's pooled sums leave the device in three transfers (means, norms, counts)."""
    loaded = emovec.load_model(tiny_model_dir("llama"))
    texts = emovec.read_corpus(corpus_file).texts
    encoded = encode_stories(loaded.tokenizer, texts)
    batches = plan_batches(np.arange(len(texts)), encoded.lengths, batch_size=4)
    layers = list(range(loaded.n_blocks + 1))
    calls = []
    original = torch.Tensor.cpu

    def counting_cpu(self, *args, **kwargs):
        calls.append(tuple(self.shape))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", counting_cpu)
    pooled = list(pool_batches(loaded, encoded.ids, batches, layers, skip=2))
    monkeypatch.undo()
    assert len(pooled) == len(batches) and len(calls) == 3 * len(batches)


def test_float32_accumulation_matches_float64(tiny_model_dir, corpus_file, tmp_path):
    """The accelerator setting (float32 sums), run on CPU, against the float64 default."""
    model = str(tiny_model_dir("llama"))
    wide = load_activations(extract(model, corpus_file, tmp_path / "f64", **SETTINGS).out)
    narrow = load_activations(extract(model, corpus_file, tmp_path / "f32", accumulate="float32", **SETTINGS).out)
    scale = np.nanmax(np.abs(wide.means))
    assert np.nanmax(np.abs(narrow.means - wide.means)) <= 1e-6 * scale
    assert not np.array_equal(narrow.means, wide.means, equal_nan=True) or scale == 0  # the float32 path ran


def test_batch_tokens_from_free_memory():
    per_token = token_bytes(4096, 14336, 32, 512, 2)  # a Llama-3-8B-shaped block in bfloat16
    assert per_token == (6 * 4096 + 3 * 14336) * 2 + 32 * 512 * 4 + 2 * 4096 * 4
    assert batch_tokens_for(100 * 2**30, per_token, 512) == int(100 * 2**30 * 0.5 // per_token)
    assert batch_tokens_for(1_000, per_token, 512) == 512  # never less than one full-length story
    assert batch_tokens_for(2**50, per_token, 512) == 1 << 20


def test_no_memory_default_on_cpu(tiny_model_dir):
    assert default_batch_tokens(emovec.load_model(tiny_model_dir("llama")), 512) is None
