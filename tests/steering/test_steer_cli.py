"""``emovec steer`` end to end on a tiny model, and its bad input: one line, exit code 2, nothing complete."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import emovec
from emovec.cli.app import main


@pytest.fixture(scope="module")
def built(tiny_model_dir, corpus_file, tmp_path_factory):
    model = str(tiny_model_dir("qwen2"))
    root = tmp_path_factory.mktemp("steer")
    acts = emovec.extract(model, corpus_file, root / "acts", skip_tokens=0, progress=False).out
    emovec.build_vectors(acts).save(root / "vec")
    other = str(tiny_model_dir("llama"))
    other_acts = emovec.extract(other, corpus_file, root / "oacts", skip_tokens=0, progress=False).out
    emovec.build_vectors(other_acts).save(root / "ovec")
    return model, root


def exit_code(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code


def test_steer_sweep_writes_rows_controls_and_figure(built, tmp_path, capsys):
    model, root = built
    out = tmp_path / "s"
    code = exit_code(["steer", "--model", model, "--vectors", str(root / "vec"), "--emotion", "calm", "--emotion",
                      "sad", "--strength=-0.2:0.2:0.2", "--layers", "1-2", "--prompt", "Say something.", "--prompt",
                      "Tell me about rain.", "--max-new-tokens", "5", "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "steer.csv")
    assert len(table) == 2 * (2 * 3 + 2)  # prompts x (emotions x strengths + controls at the non-zero ones)
    assert {"text", "readback", "perplexity", "distinct_2", "repetition", "coherent", "score_calm"} <= set(table)
    assert (out / "figures" / "sweep.png").exists()
    document = json.loads((out / "steer.json").read_text())
    assert document["settings"]["layers"] == [1, 2] and document["rows"] == len(table)
    zero = table[table["strength"] == 0]
    assert zero.groupby("prompt_id")["text"].nunique().eq(1).all()  # strength 0 is one unsteered generation
    assert "[calm -0.2]" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "message"), [
    (["--emotion", "nosuch", "--strength", "0.1"], "--emotion: not among the vectors' emotions"),
    (["--emotion", "calm", "--strength", "lots"], "--strength: 'lots' is not a number"),
    (["--emotion", "calm", "--strength", "0.1", "--layers", "99"], "--layers:"),
    (["--emotion", "calm", "--strength", "0.1", "--vectors-of-other-model"], "not "),
    (["--emotion", "calm", "--strength", "0.1", "--prompts", "PROMPTS"], "field 'prompt' is missing"),
    (["--emotion", "calm", "--emotion", "sad", "--strength", "0.1", "--strength", "0.2", "--strength", "0.3"],
     "3 strengths for 2 emotions"),
])  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(built, tmp_path, capsys, extra, message):
    model, root = built
    vectors = str(root / "vec")
    if "--vectors-of-other-model" in extra:
        extra = [e for e in extra if e != "--vectors-of-other-model"]
        vectors = str(root / "ovec")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"text": "hello"}\n')
    extra = [str(prompts) if e == "PROMPTS" else e for e in extra]
    if "--prompts" not in extra:
        extra += ["--prompt", "hi"]
    out = tmp_path / "o"
    code = exit_code(["steer", "--model", model, "--vectors", vectors, "--out", str(out), "--max-new-tokens", "2",
                      "--no-progress", *extra])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (out / "steer.json").exists()
