"""Bad inputs and settings: one line naming the file, flag or key, before any expensive work; inputs normalised."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import STORY_TEXTS, assert_one_line_error, run_cli, story_rows

import emovec
from emovec.corpus.generation import GenerationSettings, run_generation
from emovec.corpus.prompts import load_template
from emovec.corpus.reader import read_corpus
from emovec.errors import EmovecError
from emovec.extraction.tokenization import encode_stories


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


BAD_SETTINGS = [({"temperature": 0.0}, "--temperature"), ({"temperature": -1.0}, "--temperature"),
                ({"temperature": float("nan")}, "--temperature"), ({"top_p": 2.0}, "--top-p"),
                ({"top_p": 0.0}, "--top-p"),
                ({"max_new_tokens": 0}, "--max-new-tokens"), ({"batch_size": 0}, "--batch-size"),
                ({"retries": -1}, "--retries")]  # fmt: skip


@pytest.mark.parametrize("settings,flag", BAD_SETTINGS)
def test_generation_settings_out_of_range(settings, flag):
    with pytest.raises(EmovecError, match=flag):
        GenerationSettings(**settings)


class _Backend:
    name = "fake"

    def __init__(self, model: str):
        self.model_id = (model, None)

    def generate(self, prompts, settings, seed):
        return ["1. A first story.\n\n2. A second story." for _ in prompts]


def test_generation_refuses_to_resume_with_other_settings(tmp_path):
    from emovec.corpus.generation import plan_prompts

    template = load_template("stories")
    jobs = plan_prompts(["calm", "sad"], ["a walk", "a letter"], template, topics_per_emotion=1, stories_per_prompt=2)
    out = tmp_path / "corpus.jsonl"
    run_generation(_Backend("model-a"), jobs, out, GenerationSettings(temperature=0.8), template)
    run_generation(_Backend("model-a"), jobs, out, GenerationSettings(temperature=0.8), template)  # resumes
    with pytest.raises(EmovecError, match=r"corpus.jsonl: line 1 was written with other settings: temperature"):
        run_generation(_Backend("model-a"), jobs, out, GenerationSettings(temperature=1.0), template)
    with pytest.raises(EmovecError, match="generator 'model-a'"):
        run_generation(_Backend("model-b"), jobs, out, GenerationSettings(temperature=0.8), template)


def test_a_fifo_corpus_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "corpus.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(EmovecError, match="corpus.jsonl: not a regular file"):
        read_corpus(fifo)


def test_emotion_labels_are_stripped_and_lower_cased_with_a_note(tmp_path, capsys):
    labels = ["Calm", "calm ", "calm", "Sad"]
    rows = [{"id": str(i), "emotion": label, "text": "A story."} for i, label in enumerate(labels)]
    corpus = read_corpus(write_jsonl(tmp_path / "c.jsonl", rows))
    assert corpus.table["emotion"].tolist() == ["calm", "calm", "calm", "sad"]
    note = capsys.readouterr().err
    assert "merged" in note and "'Calm'" in note and "'calm '" in note


def test_extra_fields_of_mixed_types_are_kept_as_text(tmp_path, tiny_model_dir):
    rows = story_rows()[:4]
    for i, row in enumerate(rows):
        row["rating"] = 3 if i % 2 else "high"  # numbers and strings in one field
    result = emovec.extract(tiny_model_dir("llama"), write_jsonl(tmp_path / "c.jsonl", rows), tmp_path / "acts",
                            skip_tokens=0, progress=False)  # fmt: skip
    stories = emovec.load_activations(result.out).stories
    assert stories["rating"].tolist() == ["high", "3", "high", "3"]


def test_norm_terms_that_differ_only_in_case_are_reported(tmp_path, capsys):
    path = tmp_path / "norms.csv"
    path.write_text("word,valence,arousal\nJoy,0.9,0.6\njoy,0.8,0.5\nfear,0.1,0.9\n")
    norms = emovec.load_norms(f"csv:{path}", scale=(0, 1))
    assert norms.table.loc["joy", "valence"] == pytest.approx(2 * 0.8 - 1)  # the lower-case spelling wins
    assert "differ only in case" in capsys.readouterr().err


def test_long_texts_are_cut_before_tokenizing_with_the_same_tokens():
    from emovec.models.tiny import train_tokenizer

    tokenizer = train_tokenizer("bpe")
    long_text = " ".join(STORY_TEXTS) * 2000  # about 2 MB
    reference = tokenizer([long_text], truncation=True, max_length=64)["input_ids"][0]
    seen: list[int] = []

    class Recording:  # what the tokenizer is asked to encode: memory follows the longest input
        def __getattr__(self, name):
            return getattr(tokenizer, name)

        def __call__(self, texts, **kwargs):
            seen.extend(len(t) for t in texts)
            return tokenizer(texts, **kwargs)

    encoded = encode_stories(Recording(), [long_text, STORY_TEXTS[0]], max_length=64)
    assert max(seen) <= 16 * 64 + 64 < len(long_text) / 100
    assert encoded.ids[0] == reference and encoded.truncated.tolist() == [True, False]


def test_analyze_story_bootstrap_refuses_other_activations(tmp_path, tiny_model_dir, corpus_file):
    acts = emovec.extract(tiny_model_dir("llama"), corpus_file, tmp_path / "a", skip_tokens=0, progress=False).out
    vectors = emovec.build_vectors(acts)
    rows = [dict(r, text=r["text"] + " Again.") for r in story_rows()]
    other = emovec.extract(tiny_model_dir("llama"), write_jsonl(tmp_path / "o.jsonl", rows), tmp_path / "o",
                           skip_tokens=0, progress=False).out  # fmt: skip
    norms = emovec.load_norms("russell1980")
    with pytest.raises(EmovecError, match="another corpus"):
        emovec.analyze(vectors, norms, stories=other, story_bootstrap=5)
    noise = np.random.default_rng(0).normal(size=(3, len(vectors.layers), 8)).astype(np.float32)
    resized = emovec.EmotionVectors(vectors=noise,
                                    emotions=vectors.emotions, layers=vectors.layers)  # fmt: skip
    with pytest.raises(EmovecError, match="d = 64, the vectors have d = 8"):
        emovec.analyze(resized, norms, stories=acts, story_bootstrap=5)


def test_a_device_that_is_not_there(tiny_model_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for device, needle in (("cuda", "no CUDA GPU"), ("cuda:3", "no CUDA GPU"), ("tpu", "not a device")):
        with pytest.raises(EmovecError, match=needle):
            emovec.load_model(tiny_model_dir("llama"), device=device)


@pytest.mark.slow
@pytest.mark.parametrize("args,needles", [
    (["extract", "--model", "x"], ["--corpus"]),
    (["export", "--vectors", "v", "--emotion", "joy", "--out", "o.gguf", "--scale", "abc"], ["--scale"]),
    (["analyze", "--vectors", "v", "--norms", "russell1980", "--out", "o", "--bootstrap", "many"], ["--bootstrap"]),
])  # fmt: skip
def test_usage_errors_are_one_line(args, needles):
    result = run_cli(*args)
    assert result.returncode == 2
    assert_one_line_error(result, *needles)


@pytest.mark.slow
def test_demo_refuses_a_negative_bootstrap_before_any_work(tmp_path):
    out = tmp_path / "demo"
    result = run_cli("demo", "--bootstrap", "-1", "--out", str(out))
    assert_one_line_error(result, "settings.bootstrap")
    assert not out.exists()  # nothing extracted first


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["inf", "1e39", "nan", "0"])
def test_export_refuses_a_non_finite_scale_and_leaves_nothing(tmp_path, tiny_model_dir, corpus_file, scale):
    acts = emovec.extract(tiny_model_dir("llama"), corpus_file, tmp_path / "a", skip_tokens=0, progress=False).out
    emovec.build_vectors(acts).save(tmp_path / "v")
    out = tmp_path / "calm.gguf"
    result = run_cli("export", "--vectors", str(tmp_path / "v"), "--emotion", "calm", "--out", str(out),
                     "--scale", scale)  # fmt: skip
    assert_one_line_error(result, "--scale")
    assert not list(tmp_path.glob("calm.gguf*"))


@pytest.mark.slow
@pytest.mark.parametrize("edit,needle", [
    (('layers = "all"', 'layers = "1.5"'), "settings.layers"),
    (('model = "MODEL"', 'model = "./no/such/model"'), "models.0.model"),
    (('norms = "russell1980"', 'norms = "csv:norms.csv"'), "norms_scale"),
])  # fmt: skip
def test_dry_run_catches_what_would_fail_later(tmp_path, edit, needle):
    (tmp_path / "stories.jsonl").write_text("".join(json.dumps(r) + "\n" for r in story_rows()))
    (tmp_path / "norms.csv").write_text("word,valence,arousal\ncalm,1,1\n")
    text = ('name = "s"\n[settings]\nnorms = "russell1980"\nlayers = "all"\n[[models]]\nname = "m"\n'
            'model = "MODEL"\n[[corpora]]\nname = "c"\npath = "stories.jsonl"\n').replace("MODEL", "minilm")
    text = text.replace(*edit) if edit[0] != 'model = "MODEL"' else text.replace('model = "minilm"', edit[1])
    study = tmp_path / "study.toml"
    study.write_text(text)
    result = run_cli("run", str(study), "--dry-run")
    assert_one_line_error(result, "study.toml", needle)
