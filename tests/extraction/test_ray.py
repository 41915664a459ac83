"""Extraction on a local Ray cluster: the same directory as one process, and resume after kills."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from emovec.errors import EmovecError
from emovec.extraction.activations import load_activations
from emovec.extraction.config import RaySettings
from emovec.extraction.distributed import ShardWorker, worker_layout
from emovec.extraction.pipeline import extract

SETTINGS = {"shard_size": 3, "skip_tokens": 2, "progress": False}
VARYING = {"started", "finished", "timings"}  # what may differ between two runs of the same extraction


def test_worker_layout_from_cluster_resources():
    assert worker_layout(RaySettings(), {"CPU": 16.0}, shards=100) == (4, {"num_gpus": 0.0, "num_cpus": 4})
    assert worker_layout(RaySettings(), {"CPU": 64.0, "GPU": 8.0}, shards=100) == (8, {"num_gpus": 1.0, "num_cpus": 1})
    assert worker_layout(RaySettings(gpus_per_worker=2), {"CPU": 8, "GPU": 8}, shards=100)[0] == 4
    assert worker_layout(RaySettings(workers=6), {"CPU": 2}, shards=3)[0] == 3  # never more workers than shards
    with pytest.raises(EmovecError, match="has 0 GPU"):
        worker_layout(RaySettings(gpus_per_worker=1), {"CPU": 2}, shards=3)


def test_without_ray_installed_says_how(monkeypatch, tiny_model_dir, corpus_file, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EmovecError, match=r"pip install 'emovec\[ray\]'"):
        extract(str(tiny_model_dir("llama")), corpus_file, tmp_path / "acts", ray=True, **SETTINGS)
    assert not (tmp_path / "acts" / "manifest.json").exists()


def test_bad_ray_setting_names_it(tiny_model_dir, corpus_file, tmp_path):
    with pytest.raises(EmovecError, match="ray.workers"):
        extract(str(tiny_model_dir("llama")), corpus_file, tmp_path / "acts", ray={"workers": 0}, **SETTINGS)


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import test modules
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tiny_model_dir, corpus_file, tmp_path_factory):
    """The single-process extraction every Ray run must reproduce."""
    out = tmp_path_factory.mktemp("single") / "acts"
    return extract(str(tiny_model_dir("llama")), corpus_file, out, **SETTINGS)


def assert_same_directory(result, reference) -> None:
    got, want = result.manifest, reference.manifest
    assert {k: v for k, v in got.items() if k not in VARYING} == {k: v for k, v in want.items() if k not in VARYING}
    assert got["files"] == want["files"]  # every shard and the stories table: same sizes and sha256
    a, b = load_activations(result.out, verify=True), load_activations(reference.out, verify=True)
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.norms, b.norms)


@pytest.mark.slow
def test_ray_writes_the_single_process_directory(cluster, reference, tiny_model_dir, corpus_file, tmp_path):
    result = extract(str(tiny_model_dir("llama")), corpus_file, tmp_path / "acts", ray={"workers": 2}, **SETTINGS)
    assert result.shards_computed == reference.manifest["n_shards"] > 2
    assert result.manifest["timings"]["ray"]["workers"] == 2
    assert_same_directory(result, reference)


class CrashOnce(ShardWorker):
    """A worker whose process dies in the middle of shard 1, the first time only (a marker file remembers)."""

    marker: str = ""

    def compute(self, index, rows, ids, layers, config):
        if index == 1 and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)
        return super().compute(index, rows, ids, layers, config)


@pytest.mark.slow
def test_a_killed_workers_shard_is_redone(cluster, reference, tiny_model_dir, corpus_file, tmp_path):
    from emovec.extraction import distributed

    worker = type("CrashOnceHere", (CrashOnce,), {"marker": str(tmp_path / "crashed")})
    engine = distributed.RayShards

    class Shards(engine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, worker_class=worker, **kwargs)

    distributed_shards = pytest.MonkeyPatch()
    distributed_shards.setattr("emovec.extraction.pipeline.RayShards", Shards)
    try:
        result = extract(str(tiny_model_dir("llama")), corpus_file, tmp_path / "acts", ray={"workers": 2}, **SETTINGS)
    finally:
        distributed_shards.undo()
    assert (tmp_path / "crashed").exists()  # the worker did die
    assert result.manifest["status"] == "complete"
    assert_same_directory(result, reference)


DRIVER = """
import sys, time
import ray
from emovec.extraction.distributed import ShardWorker
from emovec.extraction import pipeline

class SlowAfterTwo(ShardWorker):
    def compute(self, index, rows, ids, layers, config):
        if index >= 2:
            time.sleep(600)
        return super().compute(index, rows, ids, layers, config)

class Shards(pipeline.RayShards):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, worker_class=SlowAfterTwo, **kwargs)

pipeline.RayShards = Shards
ray.init(address=sys.argv[1], logging_level="WARNING", log_to_driver=False)
pipeline.extract(sys.argv[2], sys.argv[3], sys.argv[4], ray={"workers": 2}, shard_size=3, skip_tokens=2, progress=False)
"""


@pytest.mark.slow
def test_a_killed_driver_resumes_shard_by_shard(cluster, reference, tiny_model_dir, corpus_file, tmp_path):
    out = tmp_path / "acts"
    model = str(tiny_model_dir("llama"))
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, cluster, model, str(corpus_file), str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 180
    recorded: list[str] = []
    while time.monotonic() < deadline and driver.poll() is None:
        if (out / "manifest.json").exists():
            try:
                recorded = [n for n in json.loads((out / "manifest.json").read_text())["files"] if "shard-" in n]
            except (json.JSONDecodeError, KeyError):
                recorded = []
            if len(recorded) >= 2:
                break
        time.sleep(0.2)
    assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert len(recorded) == 2 and json.loads((out / "manifest.json").read_text())["status"] == "running"

    result = extract(model, corpus_file, out, ray={"workers": 2}, **SETTINGS)
    assert result.shards_reused == 2
    assert result.shards_computed == reference.manifest["n_shards"] - 2
    assert_same_directory(result, reference)


def test_ray_options_without_ray_are_refused(tiny_model_dir, corpus_file, tmp_path):
    from conftest import assert_one_line_error, run_cli

    result = run_cli("extract", "--model", str(tiny_model_dir("llama")), "--corpus", str(corpus_file),
                     "--out", str(tmp_path / "acts"), "--gpus-per-worker", "1")  # fmt: skip
    assert_one_line_error(result, "--gpus-per-worker need --ray")
    assert not (tmp_path / "acts").exists()
