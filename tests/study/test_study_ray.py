"""``emovec run --ray``: a study's stages as Ray tasks give the sequential run's results."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from test_study import write_study

from emovec.study.runner import run_study

pytestmark = pytest.mark.slow


def stage_markers(out):
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "stages").glob("*/*/stage.json")}


def test_study_on_ray_equals_the_sequential_run(tiny_model_dir, tmp_path):
    ray = pytest.importorskip("ray")
    study = write_study(tmp_path, {"m1": tiny_model_dir("qwen2")})
    sequential = run_study(study, tmp_path / "one", progress=False)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        on_ray = run_study(study, tmp_path / "ray", progress=False, settings={"ray": {"workers": 2}})
        again = run_study(study, tmp_path / "ray", progress=False, settings={"ray": {}})
    finally:
        ray.shutdown()
    assert on_ray["counts"] == sequential["counts"] == {"run": len(sequential["stages"]), "cached": 0}
    assert again["counts"] == {"run": 0, "cached": len(sequential["stages"])}
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "ray" / "results.csv"),
                                  pd.read_csv(tmp_path / "one" / "results.csv"))  # fmt: skip
    one, many = stage_markers(tmp_path / "one"), stage_markers(tmp_path / "ray")
    assert one.keys() == many.keys()  # the same stages, by content hash
    for name, marker in one.items():
        assert many[name]["result"] == marker["result"], name
    # generation and the file corpus's extraction need nothing from each other: they ran at the same time
    generate = next(m["ran"] for m in many.values() if m["kind"] == "generate")
    extract = next(m["ran"] for m in many.values() if m["kind"] == "extract" and m["label"] == "m1__file")
    assert extract["started"] < generate["finished"] and generate["started"] < extract["finished"]
    assert (tmp_path / "ray" / "report.html").stat().st_size > 10_000


def test_ray_options_need_ray(tmp_path):
    from conftest import assert_one_line_error, run_cli

    result = run_cli("run", str(tmp_path / "missing.toml"), "--workers", "2")
    assert_one_line_error(result, "--workers need --ray")
