"""``emovec probe`` and ``emovec detect`` end to end on a tiny model (in-process)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import emovec
from emovec.cli.app import main


def run(*args: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 0, exit_info


def test_probe_and_detect_write_complete_outputs(tiny_model_dir, corpus_file, tmp_path, capsys):
    model = str(tiny_model_dir("qwen2"))
    acts = emovec.extract(model, corpus_file, tmp_path / "acts", skip_tokens=0, progress=False).out
    emovec.build_vectors(acts).save(tmp_path / "vec")
    run("probe", "--model", model, "--vectors", str(tmp_path / "vec"), "--text", "The rain stopped.", "--text",
        "She laughed.", "--layers", "all", "--out", str(tmp_path / "p"), "--no-progress")  # fmt: skip
    frame = pd.read_parquet(tmp_path / "p" / "scores.parquet")
    assert set(frame["layer"]) == set(emovec.load_vectors(tmp_path / "vec").layers)
    assert {"calm", "sad", "happy"} <= set(frame.columns)
    run("probe", "--model", model, "--vectors", str(tmp_path / "vec"), "--text", "The rain stopped.",
        "--positions", "reply-start", "--text-format", "chat", "--out", str(tmp_path / "r"), "--no-progress")
    assert "1: " in capsys.readouterr().out  # the text's top emotions
    run("detect", "--model", model, "--vectors", str(tmp_path / "vec"), "--out", str(tmp_path / "d"),
        "--permutations", "50", "--random-sets", "5", "--no-progress")  # fmt: skip
    document = json.loads((tmp_path / "d" / "detection.json").read_text())
    assert document["scenarios"]["layers"][0]["n"] == 6  # the bundled scenarios with calm, sad or happy
    assert (tmp_path / "d" / "figures" / "detection_matrix.png").exists()
    assert (tmp_path / "d" / "figures" / "intensity.png").exists() and (tmp_path / "d" / "intensity.csv").exists()
    labelled = tmp_path / "l.csv"
    labelled.write_text("text,label,valence\nA calm lake.,calm,7\nA lost dog.,sad,2\nA party.,happy,8\n"
                        "Grey skies.,sad,3\n")
    run("detect", "--model", model, "--vectors", str(tmp_path / "vec"), "--out", str(tmp_path / "lab"),
        "--battery", "labelled", "--file", str(labelled), "--label-column", "label", "--ratings", "valence",
        "--positions", "mean", "--text-format", "raw", "--permutations", "20", "--no-progress")  # fmt: skip
    assert (tmp_path / "lab" / "labels.csv").exists() and (tmp_path / "lab" / "ratings.csv").exists()
