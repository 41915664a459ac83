"""A real kill part-way through an extraction, a resume, and arrays identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import STORY_TEXTS

from emovec import load_activations

N_STORIES, SHARD_SIZE = 400, 2
N_SHARDS = N_STORIES // SHARD_SIZE


def command(model: Path, corpus: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "emovec", "extract", "--model", str(model), "--corpus", str(corpus),
            "--out", str(out), "--skip-tokens", "3", "--shard-size", str(SHARD_SIZE), "--batch-size", "2",
            "--no-progress"]  # fmt: skip


@pytest.mark.slow
def test_killed_extraction_resumes_to_identical_arrays(tiny_model_dir, tmp_path):
    model = tiny_model_dir("llama")
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"id": f"r{i}", "emotion": f"e{i % 5}", "text": f"{STORY_TEXTS[i % len(STORY_TEXTS)]} ({i})"}
        for i in range(N_STORIES)
    ]
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    env = dict(os.environ, HF_HUB_OFFLINE="1")

    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen(command(model, corpus, interrupted), env=env, stderr=subprocess.PIPE)
    shards = interrupted / "shards"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if shards.exists() and len(list(shards.glob("*.safetensors"))) >= 10:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = len(list(shards.glob("*.safetensors")))
    assert 10 <= finished < N_SHARDS
    killed = json.loads((interrupted / "manifest.json").read_text())
    assert killed["status"] == "running"
    recorded = [name for name in killed["files"] if name.startswith("shards/")]
    assert finished - 1 <= len(recorded) <= finished  # a shard renamed into place but not yet recorded is redone
    assert (interrupted / ".emovec.lock").exists()  # the killed writer's lock file is left behind

    resumed = subprocess.run(command(model, corpus, interrupted), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stderr
    assert f"taking over the lock left by process {process.pid}" in resumed.stderr
    manifest = json.loads((interrupted / "manifest.json").read_text())
    assert manifest["timings"]["shards_reused"] == len(recorded)  # counted after the process was dead
    assert manifest["timings"]["shards_reused"] + manifest["timings"]["shards_computed"] == N_SHARDS

    straight = tmp_path / "straight"
    clean = subprocess.run(command(model, corpus, straight), env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    a, b = load_activations(interrupted), load_activations(straight)
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.counted, b.counted)
    assert a.ids == b.ids == [row["id"] for row in rows]
