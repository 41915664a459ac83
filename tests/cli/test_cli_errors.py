"""Bad input gets one clear line on stderr and a non-zero exit, never a traceback or complete-looking output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli, story_rows

pytestmark = pytest.mark.slow  # each case starts a Python process


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


@pytest.fixture
def extract_args(tiny_model_dir, tmp_path):
    def make(corpus: Path, model: str | None = None, *extra: str) -> list[str]:
        model = model or str(tiny_model_dir("llama"))
        return ["extract", "--model", model, "--corpus", str(corpus), "--out", str(tmp_path / "out"), *extra]

    return make


def corpus_case(tmp_path: Path, case: str) -> tuple[Path, tuple[str, ...]]:
    good = story_rows()[:3]
    path = tmp_path / "corpus.jsonl"
    if case == "missing file":
        return tmp_path / "nope.jsonl", ("nope.jsonl", "not found")
    if case == "empty corpus":
        path.write_text("\n\n")
        return path, ("corpus.jsonl", "empty")
    if case == "row without text":
        write_jsonl(path, [*good, {"id": "x", "emotion": "sad"}])
        return path, ("corpus.jsonl", "line 4", "'text'", "missing")
    if case == "row without emotion":
        write_jsonl(path, [good[0], {"id": "x", "text": "Some text."}])
        return path, ("corpus.jsonl", "line 2", "'emotion'", "missing")
    if case == "non-UTF-8 bytes":
        path.write_bytes(json.dumps(good[0]).encode() + b"\n" + b'{"id": "b", "emotion": "sad", "text": "caf\xe9"}\n')
        return path, ("corpus.jsonl", "line 2", "UTF-8", "0xe9")
    if case == "duplicate ids":
        write_jsonl(path, [good[0], good[1], dict(good[2], id=good[0]["id"])])
        return path, ("corpus.jsonl", "line 3", "duplicate id 's0'", "line 1")
    if case == "not JSON":
        write_jsonl(path, [good[0], "{not json"])
        return path, ("corpus.jsonl", "line 2", "not valid JSON")
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    ["missing file", "empty corpus", "row without text", "row without emotion", "non-UTF-8 bytes", "duplicate ids",
     "not JSON"],
)  # fmt: skip
def test_bad_corpus(case, tmp_path, extract_args):
    corpus, needles = corpus_case(tmp_path, case)
    result = run_cli(*extract_args(corpus))
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_unknown_model_path(tmp_path, corpus_file, extract_args):
    result = run_cli(*extract_args(corpus_file, str(tmp_path / "no-such-model")))
    assert_one_line_error(result, "cannot find model", "no-such-model")


def test_unknown_hub_model_offline(corpus_file, extract_args):
    result = run_cli(*extract_args(corpus_file, "emovec-test/no-such-model"))
    assert_one_line_error(result, "cannot find model", "HF_HUB_OFFLINE")


def test_unknown_layer_spec(tmp_path, corpus_file, extract_args):
    result = run_cli(*extract_args(corpus_file, None, "--layers", "middle"))
    assert_one_line_error(result, "unknown layer spec 'middle'")
    result = run_cli(*extract_args(corpus_file, None, "--layers", "0,99"))
    assert_one_line_error(result, "layer 99", "0..3")
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_wrong_layers_path(tmp_path, corpus_file, extract_args):
    result = run_cli(*extract_args(corpus_file, None, "--layers-path", "model.norm"))
    assert_one_line_error(result, "--layers-path 'model.norm'")


def test_chat_format_without_template(tmp_path, corpus_file, extract_args, minilm_dir):
    result = run_cli(*extract_args(corpus_file, str(minilm_dir), "--text-format", "chat"))
    assert_one_line_error(result, "no chat template", "--text-format raw")


def test_success_prints_summary_and_rerun_says_nothing_to_do(tmp_path, corpus_file, extract_args):
    args = extract_args(corpus_file, None, "--skip-tokens", "3", "--no-progress")
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "wrote" in first.stderr and "padding overhead" in first.stderr
    second = run_cli(*args)
    assert second.returncode == 0 and "nothing to do" in second.stderr


def test_layers_command(tiny_model_dir):
    result = run_cli("layers", "--model", str(tiny_model_dir("gpt2")), "--layers", "0.5")
    assert result.returncode == 0, result.stderr
    assert "transformer.h (3 blocks" in result.stdout and "layers: 2 (0.67)" in result.stdout
