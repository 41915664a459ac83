"""Damaged, swapped and contended artifacts: refused with one line naming the file, or repaired on resume."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli, story_rows

from emovec import load_activations

pytestmark = pytest.mark.slow  # each case starts emovec processes


def extract(model: Path, corpus: Path, out: Path, *extra: str):
    return run_cli("extract", "--model", str(model), "--corpus", str(corpus), "--out", str(out), "--skip-tokens",
                   "2", "--shard-size", "4", "--no-progress", *extra)  # fmt: skip


@pytest.fixture(scope="module")
def extracted(tiny_model_dir, tmp_path_factory) -> tuple[Path, Path]:
    """One complete extraction for the module; each test damages its own copy (a corpus is found by content)."""
    base = tmp_path_factory.mktemp("artifacts")
    corpus = base / "stories[v2].jsonl"  # rich markup would eat "[v2]"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in story_rows()))
    result = extract(tiny_model_dir("llama"), corpus, base / "acts")
    assert result.returncode == 0, result.stderr
    return corpus, base / "acts"


@pytest.fixture
def corpus(extracted, tmp_path) -> Path:
    return Path(shutil.copy(extracted[0], tmp_path / extracted[0].name))


@pytest.fixture
def acts(tiny_model_dir, extracted, corpus, tmp_path) -> tuple[Path, Path]:
    return tiny_model_dir("llama"), Path(shutil.copytree(extracted[1], tmp_path / "acts"))


def test_user_text_in_messages_is_printed_literally(acts, corpus):
    model, out = acts
    result = extract(model, corpus, out)
    assert result.returncode == 0 and "already complete" in result.stderr
    missing = run_cli("extract", "--model", str(model), "--corpus", str(corpus.with_name("gone[v3].jsonl")),
                      "--out", str(out))  # fmt: skip
    assert_one_line_error(missing, "gone[v3].jsonl")


def test_a_second_writer_is_refused_with_the_holders_pid(acts, corpus):
    from emovec.locks import exclusive_lock

    model, out = acts
    with exclusive_lock(out):
        result = extract(model, corpus, out, "--overwrite")
    message = assert_one_line_error(result, str(out), f"pid {os.getpid()}")
    assert result.returncode == 2 and "in use" in message
    assert (out / "manifest.json").exists() and not (out / ".emovec.lock").exists()


@pytest.mark.parametrize("damage", ["delete", "truncate", "flip"])
def test_a_damaged_shard_is_refused_by_readers_and_repaired_by_extract(acts, corpus, tmp_path, damage):
    model, out = acts
    before = load_activations(out)
    shard = out / "shards" / "shard-00001.safetensors"
    if damage == "delete":
        shard.unlink()
    elif damage == "truncate":
        shard.write_bytes(shard.read_bytes()[:100])
    else:
        data = bytearray(shard.read_bytes())
        data[-5] ^= 0xFF
        shard.write_bytes(bytes(data))
    vectors = run_cli("vectors", "--activations", str(out), "--out", str(tmp_path / "vec"))
    assert_one_line_error(vectors, "shard-00001.safetensors")
    assert not (tmp_path / "vec" / "vectors.safetensors").exists()
    repaired = extract(model, corpus, out)
    assert repaired.returncode == 0, repaired.stderr
    assert "already complete" not in repaired.stderr and "recomputing" in repaired.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["timings"]["shards_computed"] == 1
    np.testing.assert_array_equal(load_activations(out).means, before.means)


def test_a_stories_table_from_another_run_is_refused(acts, corpus, tiny_model_dir, tmp_path):
    model, out = acts
    rows = story_rows()
    rows[0], rows[1] = rows[1], rows[0]  # same stories, same size, another order
    other_corpus = tmp_path / "other.jsonl"
    other_corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    other = tmp_path / "other"
    assert extract(model, other_corpus, other).returncode == 0
    shutil.copy(other / "stories.parquet", out / "stories.parquet")
    result = run_cli("vectors", "--activations", str(out), "--out", str(tmp_path / "vec"))
    assert_one_line_error(result, "stories.parquet", "differs")


def test_new_weights_at_the_same_path_are_a_new_model(acts, corpus, tiny_model_dir, tmp_path):
    model, out = acts
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    assert extract(copy, corpus, tmp_path / "acts2").returncode == 0
    other = tiny_model_dir("mistral")  # same shapes do not matter: another file at the same path
    weights = next(copy.glob("*.safetensors"))
    shutil.copy(next(other.glob("*.safetensors")), weights)
    shutil.copy(other / "config.json", copy / "config.json")
    result = extract(copy, corpus, tmp_path / "acts2")
    assert_one_line_error(result, "another model")


def test_overwrite_always_starts_clean(acts, corpus):
    model, out = acts
    result = extract(model, corpus, out, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert "already complete" not in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["timings"]["shards_reused"] == 0 and manifest["timings"]["shards_computed"] == manifest["n_shards"]


@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_an_output_that_cannot_be_written_is_one_line(acts, corpus, tmp_path, kind):
    model, _ = acts
    if kind == "file":
        target = tmp_path / "a-file"
        target.write_text("x")
    else:
        if os.geteuid() == 0:
            target = Path("/proc/emovec-out")  # not writable even for root
        else:
            locked = tmp_path / "locked"
            locked.mkdir(mode=0o500)
            target = locked / "out"
    result = extract(model, corpus, target)
    assert_one_line_error(result, str(target))
