"""A study with ``[probing]``: a detect stage per chosen model, its figures and sections in the report."""

from __future__ import annotations

import json

import pytest
from test_study import write_study

from emovec.study.runner import run_study

PROBING = """
[probing]
models = ["m1"]
batteries = ["scenarios"]
passages = ["The rain stopped and the sun came out.", "Nobody came to the station."]
permutations = 50
random_sets = 5
"""


@pytest.mark.slow
def test_probing_section_in_the_study_report(tiny_model_dir, tmp_path):
    study = write_study(tmp_path, {"m1": tiny_model_dir("qwen2"), "m2": tiny_model_dir("gpt2")}, PROBING)
    result = run_study(study, tmp_path / "out", progress=False)
    detect = [s for s in result["stages"] if s["kind"] == "detect"]
    assert [s["label"] for s in detect] == ["m1__file", "m1__written"]  # only the model named in [probing]
    html = result["report"].read_text()
    for heading in ("Scenario battery: m1 on file", "Token heatmap: m1 on file"):
        assert heading in html
    assert html.count('<span style="background:rgba(') > 10 and "station" in html  # the passages' tokens
    captions = json.loads((tmp_path / "out" / "figures" / "captions.json").read_text())
    assert "permutation p" in captions["detection_matrix__m1__file.png"]
    again = run_study(study, tmp_path / "out", progress=False)
    assert again["counts"]["run"] == 0  # detect stages are cached like the others
    bad = study.read_text().replace('models = ["m1"]', 'models = ["m9"]')
    study.write_text(bad)
    from emovec.errors import EmovecError

    with pytest.raises(EmovecError, match="probing.models.0"):
        run_study(study, tmp_path / "out2", dry_run=True)
