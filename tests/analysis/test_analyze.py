"""analyze() on planted geometry, and the analyze/vectors/export CLI on good and malformed input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_line_error, run_cli

from emovec.analysis.emotion_sets import load_emotion_set
from emovec.analysis.layer_geometry import REQUIRED, analyze
from emovec.analysis.norms.loading import load_norms
from emovec.errors import EmovecError
from emovec.vectors.emotion_vectors import EmotionVectors


def planted(noise: float = 0.0, demote: bool = False, seed: int = 0) -> EmotionVectors:
    """Russell's 28 words with valence on one axis (x4) and arousal on another; layer 0 is noise only.

    With ``demote`` a non-affective axis (uncorrelated with the norms) with more variance than valence is added.
    """
    rng = np.random.default_rng(seed)
    emotions = load_emotion_set("russell28")
    table = load_norms("russell1980").table.loc[emotions]
    d = 32
    axes = np.linalg.qr(rng.normal(size=(d, 3)))[0].T
    layers = []
    for layer in range(4):
        signal = 0.0 if layer == 0 else 1.0
        x = signal * (4 * np.outer(table["valence"], axes[0]) + np.outer(table["arousal"], axes[1]))
        if demote:
            x = x + 8 * np.outer(_orthogonal_to(table.to_numpy(), rng), axes[2])
        layers.append(x + noise * rng.normal(size=x.shape) + (0.3 if layer == 0 else 0) * rng.normal(size=x.shape))
    return EmotionVectors(np.stack(layers, 1).astype(np.float32), emotions, [0, 1, 2, 3], [0, 1 / 3, 2 / 3, 1])


def _orthogonal_to(columns: np.ndarray, rng) -> np.ndarray:
    """A standardised random vector uncorrelated with every column (and the constant)."""
    basis = np.linalg.qr(np.column_stack([np.ones(len(columns)), columns]))[0]
    z = rng.normal(size=len(columns))
    z -= basis @ (basis.T @ z)
    return z / z.std()


def test_planted_axes_are_recovered_without_noise():
    geometry = analyze(planted(), load_norms("russell1980"), readout_folds=0)
    signal = geometry.table[geometry.table["layer"] > 0]
    assert (signal["r_pc1_valence"] > 0.99).all() and (signal["r_pc2_arousal"] > 0.99).all()
    assert (signal["best_pc_valence"] == 1).all() and (signal["best_pc_arousal"] == 2).all()
    assert (signal["readout_r_valence"] > 0.99).all() and (signal["readout_r_arousal"] > 0.99).all()
    assert geometry.summary["peak_r_pc1_valence"]["layer"] > 0
    assert len(geometry.matched) == 28 and geometry.unmatched == []


def test_demoted_valence_is_still_found_by_best_pc_and_readout():
    geometry = analyze(planted(demote=True), load_norms("russell1980"), readout_folds=0)
    signal = geometry.table[geometry.table["layer"] > 0]
    assert (signal["r_pc1_valence"] < 0.5).all()  # PC1 is the non-affective axis
    assert (signal["best_pc_valence"] == 2).all() and (signal["best_r_valence"] > 0.99).all()
    assert (signal["readout_r_valence"] > 0.95).all()


def test_statistics_columns_and_significance_with_noise():
    geometry = analyze(planted(noise=0.3), load_norms("russell1980"), bootstrap=200, permutations=200, seed=1)
    table = geometry.table
    assert list(table.columns[: len(REQUIRED)]) == REQUIRED
    signal, noise = table[table["layer"] > 0], table[table["layer"] == 0]
    assert (signal["r_pc1_valence_ci_low"] <= signal["r_pc1_valence"]).all()
    assert (signal["r_pc1_valence"] <= signal["r_pc1_valence_ci_high"]).all()
    assert (signal["r_pc1_valence_p"] < 0.01).all() and (signal["r_pc1_valence_p_max"] < 0.01).all()
    assert (noise["r_pc1_valence_p_max"] >= noise["r_pc1_valence_p"]).all()  # the max-over-layers null is stricter
    for metric in ("best_r_valence", "best_r_arousal", "readout_r_valence", "readout_r_arousal"):
        low, high = signal[f"{metric}_ci_low"], signal[f"{metric}_ci_high"]
        assert (low <= signal[metric] + 0.02).all() and (signal[metric] <= high + 0.02).all(), metric
        assert (low > 0.5).all(), metric  # planted axes: a strong signal has a tight interval away from 0
    again = analyze(planted(noise=0.3), load_norms("russell1980"), bootstrap=200, permutations=200, seed=1)
    pd.testing.assert_frame_equal(table, again.table)  # seeded and reproducible


def test_fewer_than_three_matched_words_is_an_error():
    vectors = planted().select(["happy", "sad", "calm", "tense"])
    vectors.emotions = ["happy", "sad", "zzz", "qqq"]
    with pytest.raises(EmovecError, match="only 2 of 4 emotions have russell1980 norms"):
        analyze(vectors, load_norms("russell1980"))


def test_geometry_files(tmp_path):
    geometry = analyze(planted(noise=0.1), load_norms("russell1980"), bootstrap=50, permutations=50)
    geometry.save(tmp_path)
    csv = pd.read_csv(tmp_path / "geometry.csv")
    assert len(csv) == 4 and set(REQUIRED) <= set(csv.columns)
    document = json.loads((tmp_path / "geometry.json").read_text())
    assert set(document) >= {"summary", "layers", "clusters", "similarity", "matched", "unmatched", "norms"}
    assert len(document["similarity"]["2"]) == 28 and len(document["clusters"]["2"]) == 28
    assert document["norms"]["name"] == "russell1980"


@pytest.mark.slow
def test_cli_analyze_and_export(tmp_path):
    planted(noise=0.2).save(tmp_path / "vec")
    result = run_cli("analyze", "--vectors", str(tmp_path / "vec"), "--norms", "russell1980",
                     "--out", str(tmp_path / "geo"), "--bootstrap", "50", "--permutations", "50")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "|r| PC1~valence" in result.stdout and (tmp_path / "geo" / "geometry.csv").exists()
    result = run_cli("export", "--vectors", str(tmp_path / "vec"), "--emotion", "happy", "--out",
                     str(tmp_path / "happy.gguf"), "--format", "gguf", "--scale", "2")  # fmt: skip
    assert result.returncode == 0 and (tmp_path / "happy.gguf").exists(), result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("case", ["nan", "shapes", "few matched", "norms format", "missing vectors"])
def test_cli_malformed_inputs(tmp_path, case):
    vectors = tmp_path / "v.npz"
    emotions = np.array(["happy", "sad", "calm", "tense"])
    good = {"vectors": np.ones((4, 2, 8)) * np.arange(4)[:, None, None], "emotions": emotions, "layers": [1, 2]}
    norms = "russell1980"
    if case == "nan":
        good["vectors"] = good["vectors"].copy()
        good["vectors"][2, 1, 3] = np.nan
        needles = ("v.npz", "NaN", "'calm'", "layer 2")
    elif case == "shapes":
        good["layers"] = [1, 2, 3]
        needles = ("v.npz", "2 layers but 3 layer indices")
    elif case == "few matched":
        good["emotions"] = np.array(["happy", "sad", "zzz", "qqq"])
        needles = ("only 2 of 4 emotions", "russell1980")
    elif case == "norms format":
        bad = tmp_path / "nrc.txt"
        bad.write_text("happy,0.9,0.5,0.5\n")
        norms = f"nrc-vad-v2.1:{bad}"
        needles = ("nrc.txt", "line 1")
    else:
        vectors = tmp_path / "missing"
        needles = ("missing", "not found")
    if case != "missing vectors":
        np.savez(vectors, **good)
    result = run_cli("analyze", "--vectors", str(vectors), "--norms", norms, "--out", str(tmp_path / "geo"))
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "geo" / "geometry.csv").exists()
