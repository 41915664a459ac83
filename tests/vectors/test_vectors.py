"""Contrast vectors, denoising, formats (safetensors, community .npz, GGUF) checked against direct computations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import story_rows
from sklearn.decomposition import PCA

from emovec import extract, load_activations, load_model, residual_norms
from emovec.errors import EmovecError
from emovec.vectors.build import build_vectors
from emovec.vectors.emotion_vectors import EmotionVectors, load_vectors
from emovec.vectors.gguf import export_gguf, read_gguf_control_vector

NEUTRAL = [
    "The meeting is at ten in the small room on the second floor.",
    "Please bring the forms and a pen; the office closes at five.",
    "The train to the station leaves every hour from platform two.",
    "Water the garden in the morning and close the window at night.",
    "The table has four chairs and the kitchen has one door.",
    "He called to say the package will arrive on the next day.",
]


@pytest.fixture(scope="module")
def acts(tiny_model_dir, corpus_file, tmp_path_factory):
    model = load_model(tiny_model_dir("llama"))
    root = tmp_path_factory.mktemp("vectors")
    extract(model, corpus_file, root / "acts", skip_tokens=2, progress=False)
    neutral = root / "neutral.jsonl"
    neutral.write_text("".join(json.dumps({"id": f"n{i}", "emotion": "neutral", "text": t}) + "\n"
                               for i, t in enumerate(NEUTRAL)))  # fmt: skip
    extract(model, neutral, root / "neutral", skip_tokens=2, progress=False)
    return root


def test_contrast_vectors_equal_means_minus_grand_mean(acts):
    vectors = build_vectors(acts / "acts")
    loaded = load_activations(acts / "acts")
    emotions = sorted(set(loaded.emotions))
    means = []
    for emotion in emotions:
        use = (np.array(loaded.emotions) == emotion) & (loaded.counted > 0)
        w = loaded.counted[use].astype(np.float64)
        means.append((loaded.means[use] * w[:, None, None]).sum(0) / w.sum())
    means = np.stack(means)
    assert vectors.emotions == emotions and vectors.layers == loaded.layers
    np.testing.assert_allclose(vectors.vectors, means - means.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(vectors.residual_norm, residual_norms(acts / "acts"), rtol=1e-6)
    assert vectors.metadata["weighting"] == "token" and vectors.metadata["pooling"]["skip_tokens"] == 2


def test_emotion_set_restricts_and_recentres(acts):
    full = build_vectors(acts / "acts")
    subset = build_vectors(acts / "acts", emotions=["sad", "happy", "calm", "awe"])
    assert subset.emotions == ["sad", "happy", "calm"]
    assert subset.metadata["emotions_missing_from_corpus"] == ["awe"]
    np.testing.assert_allclose(subset.vectors.sum(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(subset.select(["calm"]).vectors, full.select(["calm"]).vectors, atol=1e-6)
    with pytest.raises(EmovecError, match="only 2 of the requested emotions"):
        build_vectors(acts / "acts", emotions=["sad", "happy", "awe"])


def test_denoising_projects_out_the_top_neutral_components(acts):
    plain = build_vectors(acts / "acts")
    denoised = build_vectors(acts / "acts", neutral=acts / "neutral", denoise_variance=0.5)
    neutral = load_activations(acts / "neutral")
    for slot, _ in enumerate(plain.layers):
        pooled = neutral.means[neutral.counted > 0, slot].astype(np.float64)
        ref = PCA().fit(pooled)
        k = int(np.argmax(np.cumsum(ref.explained_variance_ratio_) >= 0.5 - 1e-12)) + 1
        assert denoised.metadata["denoising"]["n_components"][slot] == k
        basis = ref.components_[:k]
        expected = plain.vectors[:, slot] - (plain.vectors[:, slot] @ basis.T) @ basis
        np.testing.assert_allclose(denoised.vectors[:, slot], expected, atol=1e-5)
        np.testing.assert_allclose(denoised.vectors[:, slot] @ basis.T, 0, atol=1e-5)


def test_save_load_round_trip_and_selection(acts, tmp_path):
    vectors = build_vectors(acts / "acts")
    vectors.save(tmp_path / "vec")
    again = load_vectors(tmp_path / "vec")
    np.testing.assert_array_equal(again.vectors, vectors.vectors)
    np.testing.assert_array_equal(again.residual_norm, vectors.residual_norm)
    assert again.emotions == vectors.emotions and again.layers == vectors.layers
    assert again.metadata["model"] == vectors.metadata["model"]
    part = again.select(["sad"], [1, 3])
    assert part.vectors.shape == (1, 2, vectors.shape[2]) and part.relative_depths == [1 / 3, 1.0]
    np.testing.assert_allclose(np.diag(again.cosine_similarity(2)), 1.0, rtol=1e-6)


def test_community_npz(tmp_path):
    means = np.random.default_rng(0).normal(size=(4, 3, 8))
    emotions, layers = np.array(["joy", "fear", "calm", "anger"]), np.array([0, 5, 10])
    np.savez(tmp_path / "means.npz", means=means, emotions=emotions, layers=layers)
    loaded = load_vectors(tmp_path / "means.npz")
    np.testing.assert_allclose(loaded.vectors, means - means.mean(0), rtol=1e-5)
    assert loaded.emotions == emotions.tolist() and loaded.layers == [0, 5, 10]
    np.savez(tmp_path / "vectors.npz", vectors=means, emotions=emotions, layers=layers)
    np.testing.assert_allclose(load_vectors(tmp_path / "vectors.npz").vectors, means, rtol=1e-6)


@pytest.mark.parametrize(
    "arrays,message",
    [({"vectors": np.full((3, 2, 4), np.nan)}, "NaN"),
     ({"vectors": np.zeros((3, 5, 4))}, "5 layers but 2 layer indices"),
     ({"vectors": np.zeros((2, 2, 4))}, "2 vectors but 3 emotion names"),
     ({"vectors": np.zeros((3, 2))}, "must be \\[emotions, layers, d\\]"),
     ({"emotions": np.array(["a", "b", "c"], dtype=object)}, "pickle"),
     ({"other": np.zeros(3)}, "needs an array 'vectors' or 'means'")],
)  # fmt: skip
def test_bad_npz_files_get_one_line_errors(tmp_path, arrays, message):
    base = {"vectors": np.zeros((3, 2, 4)), "emotions": np.array(["a", "b", "c"]), "layers": np.array([1, 2])}
    if "other" in arrays:
        base = {"other": arrays["other"], "emotions": base["emotions"], "layers": base["layers"]}
    else:
        base.update(arrays)
    np.savez(tmp_path / "bad.npz", **base)
    with pytest.raises(EmovecError, match=message) as err:
        load_vectors(tmp_path / "bad.npz")
    assert "\n" not in str(err.value)


def test_gguf_round_trip_keeps_llama_cpp_layer_convention(tmp_path):
    """llama.cpp adds direction.N at the end of its 0-based layer N: emovec layer N + 1 (the input of block N+1)."""
    import gguf

    rng = np.random.default_rng(3)
    vectors = EmotionVectors(rng.normal(size=(3, 4, 16)).astype(np.float32), ["a", "b", "c"], [0, 1, 2, 3],
                             residual_norm=np.array([1.0, 2.0, 3.0, 4.0], np.float32),
                             metadata={"model_class": "LlamaForCausalLM"})  # fmt: skip
    path = export_gguf(vectors, "b", tmp_path / "b.gguf", scale=1.5)
    reader = gguf.GGUFReader(str(path))
    names = sorted(t.name for t in reader.tensors)
    assert names == ["direction.1", "direction.2"]  # emovec layers 2, 3; layers 0 and 1 have no slot
    for tensor in reader.tensors:
        assert tensor.tensor_type == gguf.GGMLQuantizationType.F32 and list(tensor.shape) == [16]
        layer = int(tensor.name.split(".")[1]) + 1
        np.testing.assert_array_equal(np.array(tensor.data), (1.5 * vectors.vectors[1, layer]).astype(np.float32))
    assert reader.get_field("general.architecture").contents() == "controlvector"
    assert reader.get_field("controlvector.model_hint").contents() == "LlamaForCausalLM"
    assert reader.get_field("controlvector.layer_count").contents() == 2
    back = read_gguf_control_vector(path)
    assert sorted(back["layers"]) == [2, 3] and sorted(back["directions"]) == [1, 2]
    steered = read_gguf_control_vector(export_gguf(vectors, "b", tmp_path / "s.gguf", strength=0.5))
    for layer in (2, 3):
        v = vectors.vectors[1, layer].astype(np.float64)
        np.testing.assert_allclose(steered["layers"][layer], 0.5 * (layer + 1.0) * v / np.linalg.norm(v), rtol=1e-6)
    with pytest.raises(EmovecError, match="not in these vectors"):
        export_gguf(vectors, "zzz", tmp_path / "z.gguf")
    with pytest.raises(EmovecError, match="no layer >= 2"):
        export_gguf(vectors, "b", tmp_path / "z.gguf", layers=[0, 1])


def test_rows_of_story_fixture_cover_three_emotions():
    assert {row["emotion"] for row in story_rows()} == {"calm", "sad", "happy"}


def test_story_bootstrap_through_analyze(acts):
    from emovec.analysis.layer_geometry import analyze
    from emovec.analysis.norms.loading import Norms

    vectors = build_vectors(acts / "acts", neutral=acts / "neutral")
    table = pd.DataFrame({"valence": [0.8, -0.7, 0.1], "arousal": [-0.5, -0.2, 0.6]}, index=["calm", "happy", "sad"])
    norms = Norms(name="fixture", version=None, citation="", source="test", original_scale=(-1, 1), table=table)
    geometry = analyze(vectors, norms, stories=acts / "acts", story_bootstrap=30, readout_folds=0)
    t = geometry.table
    assert {"r_pc1_valence_story_ci_low", "r_pc2_arousal_story_ci_high"} <= set(t.columns)
    assert ((t["r_pc1_valence_story_ci_low"] >= 0) & (t["r_pc1_valence_story_ci_high"] <= 1 + 1e-9)).all()
    with pytest.raises(EmovecError, match="needs the activations directory"):
        analyze(vectors, norms, story_bootstrap=5)
