"""Extraction to a directory: same arrays as in memory, manifest, re-runs, early stop, emotion means."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import story_rows

from emovec import (
    emotion_means,
    extract,
    extract_activations,
    iter_shards,
    load_activations,
    load_model,
    residual_norms,
)
from emovec.errors import EmovecError


@pytest.fixture(scope="module")
def llama(tiny_model_dir):
    return load_model(tiny_model_dir("llama"))


def test_directory_matches_in_memory_and_has_a_full_manifest(llama, corpus_file, tmp_path):
    out = tmp_path / "acts"
    result = extract(llama, corpus_file, out, skip_tokens=5, shard_size=4, progress=False)
    assert not result.skipped and result.shards_computed == 3
    loaded = load_activations(out)
    memory = extract_activations(llama, corpus_file, skip_tokens=5)
    np.testing.assert_allclose(loaded.means, memory.means, rtol=1e-5, atol=1e-6)  # batches differ: rounding only
    np.testing.assert_array_equal(loaded.counted, memory.counted)
    np.testing.assert_allclose(loaded.norms, memory.norms, rtol=1e-5)
    used = loaded.counted > 0
    expected_norms = (loaded.norms[used] * loaded.counted[used, None]).sum(0) / loaded.counted[used].sum()
    np.testing.assert_allclose(residual_norms(out), expected_norms, rtol=1e-6)
    assert loaded.ids == [row["id"] for row in story_rows()]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["layers"] == [0, 1, 2, 3] and manifest["relative_depths"] == [0.0, 1 / 3, 2 / 3, 1.0]
    for key in ("config", "model", "tokenizer", "corpus", "versions", "timings", "tokens", "stories"):
        assert key in manifest
    assert manifest["corpus"]["sha256"] and manifest["versions"]["torch"]
    stories = pd.read_parquet(out / "stories.parquet")
    assert manifest["tokens"]["real"] == stories["n_tokens"].sum()
    assert manifest["tokens"]["processed"] >= manifest["tokens"]["real"]
    assert manifest["stories"]["no_tokens_past_skip"] == int((stories["counted"] == 0).sum()) > 0


def test_rerun_does_nothing_and_other_config_is_refused(llama, corpus_file, tmp_path):
    out = tmp_path / "acts"
    extract(llama, corpus_file, out, skip_tokens=5, progress=False)
    before = (out / "manifest.json").read_text()
    again = extract(llama, corpus_file, out, skip_tokens=5, batch_size=2, progress=False)
    assert again.skipped and (out / "manifest.json").read_text() == before
    with pytest.raises(EmovecError, match="another model, corpus or config"):
        extract(llama, corpus_file, out, skip_tokens=6, progress=False)
    replaced = extract(llama, corpus_file, out, skip_tokens=6, overwrite=True, progress=False)
    assert not replaced.skipped and replaced.manifest["config"]["skip_tokens"] == 6


def test_layer_subset_and_sliced_loading(llama, corpus_file, tmp_path):
    out = tmp_path / "acts"
    extract(llama, corpus_file, out, layers="0,0.5,-1", skip_tokens=0, progress=False)
    full = load_activations(out)
    assert full.layers == [0, 2, 3]  # round(0.5 * 3) = 2
    part = load_activations(out, layers=[3])
    np.testing.assert_array_equal(part.means[:, 0], full.means[:, 2])
    with pytest.raises(EmovecError, match="not extracted"):
        load_activations(out, layers=[1])


def test_forward_stops_after_last_requested_layer(llama):
    calls = {"blocks": [0] * llama.n_blocks, "head": 0}
    handles = [
        block.register_forward_hook(lambda m, a, o, i=i: calls["blocks"].__setitem__(i, calls["blocks"][i] + 1))
        for i, block in enumerate(llama.blocks)
    ]
    handles.append(llama.model.lm_head.register_forward_hook(lambda m, a, o: calls.__setitem__("head", 1)))
    try:
        extract_activations(llama, story_rows()[:3], layers="1", skip_tokens=0, batch_size=3)
        assert calls["blocks"] == [1, 0, 0] and calls["head"] == 0
        extract_activations(llama, story_rows()[:3], layers="all", skip_tokens=0, batch_size=3)
        assert calls["head"] == 0  # the LM head never runs, even when every layer is read
    finally:
        for handle in handles:
            handle.remove()


def test_emotion_means_token_and_story_weighted(llama, corpus_file, tmp_path):
    out = tmp_path / "acts"
    extract(llama, corpus_file, out, skip_tokens=5, shard_size=3, progress=False)
    acts = load_activations(out)
    for weighting in ("token", "story"):
        streamed = emotion_means(out, weighting=weighting)
        in_memory = emotion_means(acts, weighting=weighting)
        np.testing.assert_allclose(streamed.means, in_memory.means, rtol=1e-12)
        for e, emotion in enumerate(streamed.emotions):
            use = (np.array(acts.emotions) == emotion) & (acts.counted > 0)
            means = acts.means[use].astype(np.float64)
            if weighting == "token":
                weights = acts.counted[use].astype(np.float64)
                expected = (means * weights[:, None, None]).sum(0) / weights.sum()
            else:
                expected = means.mean(0)
            np.testing.assert_allclose(streamed.means[e], expected, rtol=1e-10)
            assert streamed.n_stories[e] == use.sum()
    assert set(streamed.excluded_ids) == set(np.array(acts.ids)[acts.counted == 0])


def test_token_weighted_mean_equals_mean_over_all_tokens(llama):
    """Token weighting = the mean of every counted token vector of the emotion, computed directly."""
    import torch

    rows = story_rows()[:5]
    acts = extract_activations(llama, rows, skip_tokens=2, layers="2")
    tokens = []
    for row in rows:
        ids = torch.tensor([llama.tokenizer(row["text"])["input_ids"]])
        with torch.no_grad():
            hidden = llama.model(input_ids=ids, output_hidden_states=True).hidden_states[2][0, 2:]
        tokens.append((row["emotion"], hidden.double().numpy()))
    means = emotion_means(acts)
    for e, emotion in enumerate(means.emotions):
        stacked = np.concatenate([h for em, h in tokens if em == emotion])
        np.testing.assert_allclose(means.means[e, 0], stacked.mean(0), rtol=1e-5, atol=1e-6)


def test_chat_format_wraps_stories_and_truncation_is_reported(llama, tmp_path):
    rows = story_rows()[:4]
    raw = extract_activations(llama, rows, skip_tokens=0, layers="1")
    chat = extract_activations(llama, rows, skip_tokens=0, layers="1", text_format="chat")
    assert (chat.stories["n_tokens"] > raw.stories["n_tokens"]).all()
    short = extract_activations(llama, rows, skip_tokens=0, layers="1", max_length=8)
    assert (short.stories["n_tokens"] <= 8).all()
    assert short.stories["truncated"].tolist() == (raw.stories["n_tokens"] > 8).tolist()


def test_incomplete_directory_cannot_be_loaded(llama, corpus_file, tmp_path):
    out = tmp_path / "acts"
    extract(llama, corpus_file, out, shard_size=4, skip_tokens=0, progress=False)
    (out / "shards" / "shard-00001.safetensors").unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EmovecError, match="incomplete"):
        load_activations(out)
    with pytest.raises(EmovecError, match="incomplete"):
        next(iter_shards(out))
    resumed = extract(llama, corpus_file, out, shard_size=4, skip_tokens=0, progress=False)
    assert resumed.shards_computed == 1 and resumed.shards_reused == 2
