"""A study with ``[steering]``: a steer stage per chosen model, its sweep figure and examples in the report."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_study import write_study

from emovec.errors import EmovecError
from emovec.study.runner import run_study

STEERING = """
[steering]
models = ["m1"]
emotions = ["calm", "sad"]
strengths = "-0.2:0.2:0.2"
layers = "1-2"
prompts = ["Say something.", "Tell me about rain."]
max_new_tokens = 4
"""


@pytest.mark.slow
def test_steering_section_in_the_study_report(tiny_model_dir, tmp_path):
    study = write_study(tmp_path, {"m1": tiny_model_dir("qwen2"), "m2": tiny_model_dir("gpt2")}, STEERING)
    result = run_study(study, tmp_path / "out", progress=False)
    steer = [s for s in result["stages"] if s["kind"] == "steer"]
    assert [s["label"] for s in steer] == ["m1__file", "m1__written"]
    stage = next((tmp_path / "out" / "stages" / "steer").glob("m1__file-*"))
    table = pd.read_csv(stage / "steer.csv")
    assert len(table) == 2 * (2 * 3 + 2) and table["readback"].notna().any()
    html = result["report"].read_text()
    assert "Steering examples: m1 on file" in html and "Say something." in html
    captions = json.loads((tmp_path / "out" / "figures" / "captions.json").read_text())
    assert "residual norm" in captions["steering_sweep__m1__file.png"]
    assert run_study(study, tmp_path / "out", progress=False)["counts"]["run"] == 0
    study.write_text(study.read_text().replace('strengths = "-0.2:0.2:0.2"', 'strengths = "lots"'))
    with pytest.raises(EmovecError, match="steering.strengths"):
        run_study(study, tmp_path / "out2", dry_run=True)
