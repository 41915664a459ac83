"""The fuzz table: bad inputs and damaged artifacts for every command, run in-process through ``main``.

Each case asserts exit code 2, one ``error:`` line naming the file, flag or key, no traceback, and nothing
left under ``OUT`` that looks complete. Placeholders in the arguments: ``MODEL`` (a tiny random llama),
``CORPUS``, ``ACTS`` and ``VEC`` (private copies of a good activations and vectors directory, which a case
may damage first), ``NORMS`` (a good csv norm file), ``STUDY`` (a study file the case writes), ``TMP`` (the
case's directory) and ``OUT`` (where the command would write).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import story_rows

import emovec
from emovec.cli.app import main

THREE, LAYERS = np.array(["calm", "sad", "angry"]), np.arange(2)
COMPLETE = {"manifest.json", "vectors.safetensors", "metadata.json", "geometry.json", "geometry.csv",
            "compare.csv", "cka.csv", "report.html", "results.csv", "probe.json", "scores.parquet", "probe.html",
            "detection.json", "detection.csv", "steer.json", "steer.csv", "next_word.json", "preferences.json",
            "rated.json"}  # fmt: skip


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, tiny_model_dir) -> dict[str, Path]:
    """One good model, corpus, activations, vectors and norm file; cases work on copies."""
    root = tmp_path_factory.mktemp("fuzz")
    model = tiny_model_dir("llama")
    corpus = root / "stories.jsonl"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in story_rows()))
    acts = emovec.extract(model, corpus, root / "acts", skip_tokens=0, shard_size=4, progress=False).out
    emovec.build_vectors(acts).save(root / "vec")
    other = tiny_model_dir("gpt2")  # another hidden size
    emovec.extract(other, corpus, root / "other-acts", skip_tokens=0, progress=False)
    norms = root / "norms.csv"
    norms.write_text("word,valence,arousal\ncalm,7,2\nsad,2,3\nangry,2,8\nhappy,8,6\nafraid,2,7\n")
    return {"MODEL": model, "CORPUS": corpus, "ACTS": acts, "VEC": root / "vec", "NORMS": norms,
            "OTHER_ACTS": root / "other-acts", "OTHER_MODEL": other}  # fmt: skip


def run_case(pristine: dict[str, Path], tmp: Path, args: list[str], prepare: Callable | None, capsys):
    """Copy the artifacts, damage them, run ``emovec ARGS``; returns its stderr and the paths (exit code 2)."""
    paths = dict(pristine, TMP=tmp, OUT=tmp / "out", STUDY=tmp / "study.toml")
    paths["ACTS"] = Path(shutil.copytree(pristine["ACTS"], tmp / "acts"))
    paths["VEC"] = Path(shutil.copytree(pristine["VEC"], tmp / "vec"))
    paths["CORPUS"] = Path(shutil.copy(pristine["CORPUS"], tmp / "stories.jsonl"))
    if prepare is not None:
        prepare(paths)
    argv = [_fill(arg, paths) for arg in args]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, f"exit {exit_info.value.code}: {err}"
    out = paths["OUT"]
    if out.is_dir():
        assert not COMPLETE & {p.name for p in out.rglob("*")}, f"complete-looking output in {out}"
    elif out.suffix:
        assert not out.exists() or out.name in prepared_files(prepare), f"{out} written"
    return err, paths


def prepared_files(prepare) -> set[str]:
    return getattr(prepare, "keeps", set())


def _fill(arg: str, paths: dict[str, Path]) -> str:
    for key in sorted(paths, key=len, reverse=True):
        arg = arg.replace(key, str(paths[key]))
    return arg


def assert_one_line(err: str, needles: tuple[str, ...]) -> None:
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]


# ---- ways to break things ---------------------------------------------------------------------------------


def write(name: str, text: str | bytes) -> Callable:
    def prepare(paths):
        target = paths["TMP"] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text if isinstance(text, bytes) else text.encode())

    return prepare


def corpus_rows(edit: Callable[[list[dict]], list[dict]], name: str = "bad.jsonl") -> Callable:
    def prepare(paths):
        rows = edit([dict(row) for row in story_rows()])
        (paths["TMP"] / name).write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))

    return prepare


def set_field(index: int, field: str, value) -> Callable:
    def edit(rows):
        if value is _DROP:
            rows[index].pop(field)
        else:
            rows[index][field] = value
        return rows

    return edit


_DROP = object()


def damage(relative: str, how: str) -> Callable:
    """Damage ``ACTS/...`` or ``VEC/...`` in the case's copy."""

    def prepare(paths):
        root, _, rest = relative.partition("/")
        target = paths[root] / rest
        if how == "delete":
            target.unlink()
        elif how == "truncate":
            target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])
        elif how == "flip":
            data = bytearray(target.read_bytes())
            data[-3] ^= 0xFF
            target.write_bytes(bytes(data))
        elif how == "garbage":
            target.write_bytes(b"\x00\x01not what it should be" * 10)
        elif how == "empty":
            target.write_bytes(b"")
        elif how == "directory":
            target.unlink()
            target.mkdir()
        else:
            raise AssertionError(how)

    return prepare


def edit_json(relative: str, edit: Callable[[dict], None]) -> Callable:
    def prepare(paths):
        root, _, rest = relative.partition("/")
        target = paths[root] / rest
        data = json.loads(target.read_text())
        edit(data)
        target.write_text(json.dumps(data))

    return prepare


def npz(name: str, **arrays) -> Callable:
    def prepare(paths):
        np.savez(paths["TMP"] / name, **arrays)

    return prepare


def both(*steps: Callable) -> Callable:
    def prepare(paths):
        for step in steps:
            step(paths)

    return prepare


def make_file(name: str) -> Callable:
    prepare = write(name, "not a directory")
    prepare.keeps = {name}
    return prepare


def make_dir(name: str) -> Callable:
    def prepare(paths):
        (paths["TMP"] / name).mkdir(parents=True)

    return prepare


def fifo(name: str) -> Callable:
    def prepare(paths):
        os.mkfifo(paths["TMP"] / name)

    return prepare


STUDY = """name = "fuzz"
[settings]
emotions = "russell28"
norms = "russell1980"
layers = "all"
skip_tokens = 0
bootstrap = 0
permutations = 0
[[models]]
name = "tiny"
model = "MODEL"
[[corpora]]
name = "c"
path = "CORPUS"
"""


def study(old: str = "", new: str = "", *, text: str | None = None) -> Callable:
    def prepare(paths):
        body = text if text is not None else STUDY.replace(old, new) if old else STUDY + new
        paths["STUDY"].write_text(_fill(body, paths))

    return prepare


# ---- the table --------------------------------------------------------------------------------------------

EXTRACT = ["extract", "--model", "MODEL", "--out", "OUT", "--no-progress"]
GOOD_EXTRACT = [*EXTRACT, "--corpus", "CORPUS"]
BAD_CORPORA = [
    ("missing", None, "TMP/none.jsonl", "none.jsonl"),
    ("empty", write("e.jsonl", ""), "TMP/e.jsonl", "e.jsonl"),
    ("blank-lines", write("e.jsonl", "\n\n"), "TMP/e.jsonl", "e.jsonl"),
    ("not-json", write("b.jsonl", "{not json}\n"), "TMP/b.jsonl", "b.jsonl: line 1"),
    ("json-list", write("b.jsonl", "[1, 2]\n"), "TMP/b.jsonl", "b.jsonl: line 1"),
    ("binary", write("b.jsonl", b"\xff\xfe\x00\x81garbage"), "TMP/b.jsonl", "b.jsonl"),
    ("no-emotion", corpus_rows(set_field(2, "emotion", _DROP)), "TMP/bad.jsonl", "line 3"),
    ("no-text", corpus_rows(set_field(0, "text", _DROP)), "TMP/bad.jsonl", "line 1"),
    ("empty-text", corpus_rows(set_field(1, "text", "  ")), "TMP/bad.jsonl", "line 2"),
    ("numeric-text", corpus_rows(set_field(1, "text", 17)), "TMP/bad.jsonl", "line 2"),
    ("null-emotion", corpus_rows(set_field(4, "emotion", None)), "TMP/bad.jsonl", "line 5"),
    ("list-emotion", corpus_rows(set_field(4, "emotion", ["calm"])), "TMP/bad.jsonl", "line 5"),
    ("empty-emotion", corpus_rows(set_field(3, "emotion", " ")), "TMP/bad.jsonl", "line 4"),
    ("duplicate-id", corpus_rows(set_field(3, "id", "s0")), "TMP/bad.jsonl", "s0"),
    ("truncated-line", corpus_rows(lambda rows: [*rows, '{"id": "x", "emo']), "TMP/bad.jsonl", "bad.jsonl: line"),
    ("wrong-suffix", write("c.txt", "a story\n"), "TMP/c.txt", "c.txt"),
    ("corrupt-parquet", write("c.parquet", b"PAR1 not really"), "TMP/c.parquet", "c.parquet"),
    ("a-directory", make_dir("cdir"), "TMP/cdir", "cdir"),
    ("fifo", fifo("pipe.jsonl"), "TMP/pipe.jsonl", "pipe.jsonl"),
    ("bracket-name", None, "TMP/gone[v3].jsonl", "gone[v3].jsonl"),
]
CASES: list = [
    *[pytest.param([*EXTRACT, "--corpus", path], prepare, (needle,), id=f"extract-corpus-{name}")
      for name, prepare, path, needle in BAD_CORPORA],  # fmt: skip
    *[pytest.param([*GOOD_EXTRACT, flag, value], None, (flag,), id=f"extract{flag}={value}") for flag, value in [
        ("--layers", "1.5"), ("--layers", "abc"), ("--layers", "99"), ("--layers", "-9"), ("--layers", ""),
        ("--layers", "3-1"), ("--layers", "1,,2"), ("--skip-tokens", "-1"), ("--skip-tokens", "x"),
        ("--max-length", "0"), ("--max-length", "-5"), ("--batch-size", "0"), ("--max-batch-tokens", "0"),
        ("--shard-size", "0"), ("--dtype", "float8"), ("--padding-side", "middle"), ("--text-format", "xml"),
        ("--chat-role", "narrator"), ("--device", "tpu"), ("--device", "cuda:7"), ("--layers-path", "model.nope"),
    ]],  # fmt: skip
    pytest.param([*EXTRACT, "--corpus", "CORPUS"], make_file("out"), ("out",), id="extract-out-is-a-file"),
    pytest.param([*EXTRACT, "--corpus", "CORPUS", "--out", "TMP/f/out"], make_file("f"), ("f",),
                 id="extract-out-under-a-file"),  # fmt: skip
    pytest.param(["extract", "--model", "TMP/nomodel", "--corpus", "CORPUS", "--out", "OUT"], None, ("nomodel",),
                 id="extract-model-missing"),  # fmt: skip
    pytest.param(["extract", "--model", "TMP/m", "--corpus", "CORPUS", "--out", "OUT"], make_dir("m"), ("m",),
                 id="extract-model-empty-folder"),  # fmt: skip
    pytest.param(["extract", "--model", "TMP/m", "--corpus", "CORPUS", "--out", "OUT"],
                 write("m/config.json", "{broken"), ("config.json",), id="extract-model-broken-config"),
    pytest.param(["extract", "--model", "TMP/m.gguf", "--corpus", "CORPUS", "--out", "OUT"],
                 write("m.gguf", b"GGUF\x03\x00\x00\x00junk"), ("m.gguf",), id="extract-model-corrupt-gguf"),
    pytest.param(["extract", "--model", "MODEL", "--corpus", "CORPUS", "--out", "ACTS", "--skip-tokens", "3"],
                 None, ("ACTS", "--overwrite"), id="extract-into-other-settings"),  # fmt: skip
    pytest.param(["extract", "--corpus", "CORPUS", "--out", "OUT"], None, ("--model",), id="extract-no-model"),
    pytest.param(["extract", "--model", "MODEL", "--corpus", "CORPUS"], None, ("--out",), id="extract-no-out"),
    pytest.param(["extract", "--model", "MODEL", "--corpus", "CORPUS", "--out", "OUT", "--bogus"], None,
                 ("--bogus",), id="extract-unknown-flag"),  # fmt: skip
    # ---- layers
    pytest.param(["layers", "--model", "TMP/nomodel"], None, ("nomodel",), id="layers-model-missing"),
    pytest.param(["layers", "--model", "MODEL", "--layers", "2.5"], None, ("--layers",), id="layers-spec"),
    pytest.param(["layers", "--model", "MODEL", "--layers", "40"], None, ("--layers",), id="layers-out-of-range"),
    pytest.param(["layers", "--model", "MODEL", "--layers-path", "x.y"], None, ("x.y",), id="layers-path"),
    # ---- vectors
    *[pytest.param(["vectors", "--activations", "ACTS", "--out", "OUT"], damage(f"ACTS/{name}", how), (file,),
                   id=f"vectors-{how}-{file}") for name, how, file in [
        ("manifest.json", "delete", "manifest.json"), ("manifest.json", "garbage", "manifest.json"),
        ("manifest.json", "empty", "manifest.json"), ("stories.parquet", "delete", "stories.parquet"),
        ("stories.parquet", "truncate", "stories.parquet"), ("stories.parquet", "flip", "stories.parquet"),
        ("stories.parquet", "garbage", "stories.parquet"), ("shards/shard-00000.safetensors", "delete", "shard-00000"),
        ("shards/shard-00000.safetensors", "truncate", "shard-00000"),
        ("shards/shard-00000.safetensors", "flip", "shard-00000"),
        ("shards/shard-00001.safetensors", "garbage", "shard-00001"),
        ("shards/shard-00001.safetensors", "empty", "shard-00001"),
        ("shards/shard-00001.safetensors", "directory", "shard-00001"),
    ]],  # fmt: skip
    *[pytest.param(["vectors", "--activations", "ACTS", "--out", "OUT"], edit_json("ACTS/manifest.json", edit),
                   ("manifest.json",), id=f"vectors-manifest-{name}") for name, edit in [
        ("no-files", lambda m: m.pop("files")), ("no-layers", lambda m: m.pop("layers")),
        ("layers-text", lambda m: m.update(layers="all")), ("files-list", lambda m: m.update(files=[])),
        ("a-list", lambda m: m.clear()),
    ]],  # fmt: skip
    pytest.param(["vectors", "--activations", "TMP/none", "--out", "OUT"], None, ("none",), id="vectors-missing"),
    pytest.param(["vectors", "--activations", "CORPUS", "--out", "OUT"], None, ("stories.jsonl",),
                 id="vectors-activations-is-a-file"),  # fmt: skip
    pytest.param(["vectors", "--activations", "TMP/d", "--out", "OUT"], make_dir("d"), ("d",),
                 id="vectors-not-activations"),  # fmt: skip
    *[pytest.param(["vectors", "--activations", "ACTS", "--out", "OUT", flag, value], None, (flag,),
                   id=f"vectors{flag}={value}") for flag, value in [
        ("--denoise-variance", "1.5"), ("--denoise-variance", "0"), ("--denoise-variance", "nan"),
        ("--weighting", "median"), ("--emotions", "nosuchset"),
    ]],  # fmt: skip
    pytest.param(["vectors", "--activations", "ACTS", "--out", "OUT", "--emotions", "TMP/e.txt"],
                 write("e.txt", ""), ("e.txt",), id="vectors-emotions-file-empty"),  # fmt: skip
    pytest.param(["vectors", "--activations", "ACTS", "--out", "OUT", "--emotions", "TMP/e.txt"],
                 write("e.txt", "joy\nnotaword\n"), ("requested emotions",), id="vectors-emotions-none-in-corpus"),
    pytest.param(["vectors", "--activations", "ACTS", "--out", "OUT", "--neutral", "TMP/none"], None,
                 ("none",), id="vectors-neutral-missing"),  # fmt: skip
    pytest.param(["vectors", "--activations", "ACTS", "--out", "OUT", "--neutral", "OTHER_ACTS"], None,
                 ("other-acts",), id="vectors-neutral-other-model"),  # fmt: skip
    pytest.param(["vectors", "--activations", "ACTS", "--out", "OUT"], make_file("out"), ("out",),
                 id="vectors-out-is-a-file"),  # fmt: skip
    # ---- analyze
    *[pytest.param(["analyze", "--vectors", "VEC", "--norms", "russell1980", "--out", "OUT"],
                   damage(f"VEC/{name}", how), (name,), id=f"analyze-{how}-{name}") for name, how in [
        ("vectors.safetensors", "delete"), ("vectors.safetensors", "truncate"), ("vectors.safetensors", "flip"),
        ("vectors.safetensors", "garbage"), ("vectors.safetensors", "empty"), ("metadata.json", "delete"),
        ("metadata.json", "garbage"), ("metadata.json", "empty"),
    ]],  # fmt: skip
    pytest.param(["analyze", "--vectors", "VEC", "--norms", "russell1980", "--out", "OUT"],
                 edit_json("VEC/metadata.json", lambda m: m.update(emotions=["calm"])), ("metadata.json",),
                 id="analyze-metadata-emotions-mismatch"),  # fmt: skip
    *[pytest.param(["analyze", "--vectors", "TMP/v.npz", "--norms", "russell1980", "--out", "OUT"], prepare,
                   ("v.npz",), id=f"analyze-npz-{name}") for name, prepare in [
        ("pickled", npz("v.npz", vectors=np.array([{"a": 1}], dtype=object), emotions=THREE, layers=LAYERS)),
        ("no-emotions", npz("v.npz", vectors=np.ones((3, 2, 4)), layers=LAYERS)),
        ("shape", npz("v.npz", vectors=np.ones((3, 4)), emotions=THREE, layers=LAYERS)),
        ("count", npz("v.npz", vectors=np.ones((3, 2, 4)), emotions=np.array(["calm", "sad"]), layers=LAYERS)),
        ("nan", npz("v.npz", vectors=np.full((3, 2, 4), np.nan), emotions=THREE, layers=LAYERS)),
        ("not-zip", write("v.npz", b"PK\x03\x04broken")),
    ]],  # fmt: skip
    *[pytest.param(["analyze", "--vectors", "VEC", "--norms", norms, "--out", "OUT", *extra], prepare, needles,
                   id=f"analyze-norms-{name}") for name, norms, extra, prepare, needles in [
        ("unknown", "nosuch", [], None, ("nosuch",)),
        ("csv-missing", "csv:TMP/n.csv", ["--norms-scale", "1,9"], None, ("n.csv",)),
        ("csv-no-scale", "csv:NORMS", [], None, ("--norms-scale",)),
        ("scale-one-number", "csv:NORMS", ["--norms-scale", "1"], None, ("--norms-scale",)),
        ("scale-text", "csv:NORMS", ["--norms-scale", "a,b"], None, ("--norms-scale",)),
        ("scale-reversed", "csv:NORMS", ["--norms-scale", "9,1"], None, ("--norms-scale",)),
        ("scale-too-narrow", "csv:NORMS", ["--norms-scale", "1,5"], None, ("norms.csv",)),
        ("csv-no-valence", "csv:TMP/n.csv", ["--norms-scale", "1,9"], write("n.csv", "word,arousal\ncalm,2\n"),
         ("n.csv", "valence")),
        ("csv-text-value", "csv:TMP/n.csv", ["--norms-scale", "1,9"],
         write("n.csv", "word,valence,arousal\ncalm,high,2\nsad,2,3\nangry,2,8\n"), ("n.csv",)),
        ("csv-empty", "csv:TMP/n.csv", ["--norms-scale", "1,9"], write("n.csv", ""), ("n.csv",)),
        ("csv-few-matches", "csv:TMP/n.csv", ["--norms-scale", "1,9"],
         write("n.csv", "word,valence,arousal\ncalm,7,2\nzebra,5,5\n"), ("need at least 3",)),
        ("aliases-missing", "russell1980", ["--aliases", "TMP/a.csv"], None, ("a.csv",)),
        ("aliases-columns", "russell1980", ["--aliases", "TMP/a.csv"], write("a.csv", "x,y\n1,2\n"), ("a.csv",)),
    ]],  # fmt: skip
    *[pytest.param(["analyze", "--vectors", "VEC", "--norms", "russell1980", "--out", "OUT", flag, value], None,
                   (flag,), id=f"analyze{flag}={value}") for flag, value in [
        ("--components", "1"), ("--components", "-3"), ("--bootstrap", "-1"), ("--bootstrap", "many"),
        ("--permutations", "-5"), ("--readout-folds", "1"), ("--readout-folds", "-2"), ("--clusters", "0"),
        ("--bootstrap-stories", "-1"), ("--seed", "x"),
    ]],  # fmt: skip
    pytest.param(["analyze", "--vectors", "VEC", "--norms", "russell1980", "--out", "OUT", "--bootstrap-stories",
                  "5"], None, ("--activations",), id="analyze-story-bootstrap-without-activations"),  # fmt: skip
    pytest.param(["analyze", "--vectors", "VEC", "--norms", "russell1980", "--out", "OUT", "--bootstrap-stories",
                  "5", "--activations", "OTHER_ACTS"], None, ("other-acts",), id="analyze-other-activations"),
    pytest.param(["analyze", "--vectors", "VEC", "--norms", "russell1980", "--out", "OUT"], make_file("out"),
                 ("out",), id="analyze-out-is-a-file"),  # fmt: skip
    pytest.param(["analyze", "--vectors", "TMP/none", "--norms", "russell1980", "--out", "OUT"], None, ("none",),
                 id="analyze-vectors-missing"),  # fmt: skip
    # ---- export
    *[pytest.param(["export", "--vectors", "VEC", "--emotion", "calm", "--out", "TMP/out.gguf", flag, value],
                   None, (flag,), id=f"export{flag}={value}") for flag, value in [
        ("--scale", "inf"), ("--scale", "-inf"), ("--scale", "nan"), ("--scale", "1e39"), ("--scale", "0"),
        ("--scale", "abc"), ("--format", "onnx"), ("--layers", "1.5"), ("--layers", "77"),
    ]],  # fmt: skip
    pytest.param(["export", "--vectors", "VEC", "--emotion", "nosuch", "--out", "TMP/out.gguf"], None,
                 ("nosuch",), id="export-unknown-emotion"),  # fmt: skip
    pytest.param(["export", "--vectors", "TMP/none", "--emotion", "calm", "--out", "TMP/out.gguf"], None,
                 ("none",), id="export-vectors-missing"),  # fmt: skip
    pytest.param(["export", "--vectors", "VEC", "--emotion", "calm", "--out", "TMP/d.gguf"], make_dir("d.gguf"),
                 ("d.gguf",), id="export-out-is-a-directory"),  # fmt: skip
    pytest.param(["export", "--vectors", "VEC", "--emotion", "calm", "--out", "TMP/f/out.gguf"], make_file("f"),
                 ("f",), id="export-out-under-a-file"),  # fmt: skip
    pytest.param(["export", "--vectors", "VEC", "--emotion", "calm", "--out", "TMP/out.gguf"],
                 damage("VEC/vectors.safetensors", "flip"), ("vectors.safetensors",), id="export-damaged-vectors"),
    # ---- compare
    pytest.param(["compare", "--a", "VEC", "--b", "TMP/none", "--out", "OUT"], None, ("none",),
                 id="compare-b-missing"),  # fmt: skip
    pytest.param(["compare", "--a", "VEC", "--b", "VEC", "--out", "OUT"], damage("VEC/vectors.safetensors", "flip"),
                 ("vectors.safetensors",), id="compare-damaged"),  # fmt: skip
    pytest.param(["compare", "--a", "VEC", "--b", "TMP/v.npz", "--out", "OUT"],
                 npz("v.npz", vectors=np.ones((3, 2, 4)), emotions=np.array(["x", "y", "z"]), layers=LAYERS),
                 ("emotions",),
                 id="compare-no-shared-emotions"),  # fmt: skip
    pytest.param(["compare", "--a", "VEC", "--b", "VEC", "--out", "OUT"], make_file("out"), ("out",),
                 id="compare-out-is-a-file"),  # fmt: skip
    # ---- probe
    *[pytest.param(["probe", "--model", "MODEL", "--vectors", "VEC", "--out", "OUT", "--no-progress", *extra], prepare,
                   needles, id=f"probe-{name}") for name, extra, prepare, needles in [
        ("no-texts", [], None, ("--text or --file",)),
        ("text-and-file", ["--text", "a", "--file", "TMP/t.txt"], write("t.txt", "a"), ("--text or --file",)),
        ("file-missing", ["--file", "TMP/none.jsonl"], None, ("none.jsonl",)),
        ("file-empty", ["--file", "TMP/t.jsonl"], write("t.jsonl", "\n"), ("t.jsonl",)),
        ("file-empty-txt", ["--file", "TMP/t.txt"], write("t.txt", "  \n"), ("t.txt",)),
        ("file-no-column", ["--file", "TMP/t.jsonl"], write("t.jsonl", '{"body": "x"}\n'), ("t.jsonl", "'text'")),
        ("csv-no-column", ["--file", "TMP/t.csv"], write("t.csv", "body\nx\n"), ("t.csv", "row 1", "'text'")),
        ("file-bad-json", ["--file", "TMP/t.jsonl"], write("t.jsonl", '{"text": "a"}\n{oops\n'), ("t.jsonl", "line 2")),
        ("file-number-text", ["--file", "TMP/t.jsonl"], write("t.jsonl", '{"text": 5}\n'), ("t.jsonl", "line 1")),
        ("file-suffix", ["--file", "TMP/t.md"], write("t.md", "a"), ("t.md",)),
        ("file-duplicate-id", ["--file", "TMP/t.jsonl"],
         write("t.jsonl", '{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}'), ("t.jsonl", "'1'")),
        ("layers-fraction", ["--text", "a", "--layers", "1.5"], None, ("--layers",)),
        ("layers-range", ["--text", "a", "--layers", "77"], None, ("--layers",)),
        ("emotions", ["--text", "a", "--emotions", "calm,nosuch"], None, ("--emotions", "nosuch")),
        ("positions", ["--text", "a", "--positions", "middle"], None, ("--positions",)),
        ("score", ["--text", "a", "--score", "dot"], None, ("--score",)),
        ("batch", ["--text", "a", "--batch-size", "0"], None, ("--batch-size",)),
        ("max-length", ["--text", "a", "--max-length", "0"], None, ("--max-length",)),
        ("other-model", ["--text", "a", "--model", "OTHER_MODEL"], None, ("built from",)),
        ("reference-missing", ["--text", "a", "--reference", "TMP/none"], None, ("none",)),
        ("vectors-damaged", ["--text", "a"], damage("VEC/vectors.safetensors", "flip"), ("vectors.safetensors",)),
        ("out-is-a-file", ["--text", "a"], make_file("out"), ("out",)),
    ]],  # fmt: skip
    # ---- detect
    *[pytest.param(["detect", "--model", "MODEL", "--vectors", "VEC", "--out", "OUT", "--no-progress", *extra],
                   prepare, needles, id=f"detect-{name}") for name, extra, prepare, needles in [
        ("no-target-column", ["--file", "TMP/s.jsonl"], write("s.jsonl", '{"text": "a"}\n'), ("s.jsonl", "target")),
        ("no-known-target", ["--file", "TMP/s.jsonl", "--battery", "scenarios"],
         write("s.jsonl", '{"text": "a", "target": "zebra"}\n{"text": "b", "target": "joy"}\n'), ("zebra",)),
        ("templates-missing", ["--templates", "TMP/t.json"], None, ("t.json",)),
        ("templates-not-json", ["--templates", "TMP/t.json"], write("t.json", "{"), ("t.json",)),
        ("templates-no-slot", ["--templates", "TMP/t.json"],
         write("t.json", '[{"id": "a", "template": "no slot", "values": [1, 2, 3]}]'), ("slot",)),
        ("templates-no-values", ["--templates", "TMP/t.json"], write("t.json", '[{"id": "a", "template": "{X}"}]'),
         ("t.json", "values")),
        ("permutations", ["--permutations", "-1"], None, ("--permutations",)),
        ("random-sets", ["--random-sets", "-1"], None, ("--random-sets",)),
        ("positions-tokens", ["--positions", "tokens", "--battery", "scenarios"], None, ("--positions",)),
        ("other-model", ["--model", "OTHER_MODEL"], None, ("built from",)),
        ("labelled-no-file", ["--battery", "labelled"], None, ("--file",)),
        ("labelled-no-column", ["--battery", "labelled", "--file", "TMP/l.jsonl", "--label-column", "label"],
         write("l.jsonl", '{"text": "a"}\n'), ("l.jsonl", "--label-column")),
        ("label-map-unknown", ["--battery", "labelled", "--file", "TMP/l.jsonl", "--label-column", "label",
                               "--label-map", "TMP/m.csv"],
         both(write("l.jsonl", '{"text": "a", "label": "x"}\n'), write("m.csv", "label,emotion\nx,zebra\n")),
         ("m.csv", "zebra")),
        ("label-map-columns", ["--battery", "labelled", "--file", "TMP/l.jsonl", "--label-column", "label",
                               "--label-map", "TMP/m.csv"],
         both(write("l.jsonl", '{"text": "a", "label": "x"}\n'), write("m.csv", "a,b\nx,calm\n")), ("m.csv",)),
        ("labels-all-unmapped", ["--battery", "labelled", "--file", "TMP/l.jsonl", "--label-column", "label"],
         write("l.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n'), ("unmapped labels",)),
        ("ratings-not-numbers", ["--battery", "labelled", "--file", "TMP/l.jsonl", "--ratings", "valence"],
         write("l.jsonl", '{"text": "a", "valence": "high"}\n{"text": "b", "valence": 2}\n'), ("valence",)),
        ("ratings-missing-column", ["--battery", "labelled", "--file", "TMP/l.jsonl", "--ratings", "valence"],
         write("l.jsonl", '{"text": "a"}\n'), ("valence",)),
    ]],  # fmt: skip
    # ---- generate (all refused before a model loads)
    *[pytest.param(["generate", "--model", "MODEL", "--emotions", "russell28", "--out", "TMP/g.jsonl", flag, value],
                   None, (flag,), id=f"generate{flag}={value}") for flag, value in [
        ("--temperature", "0"), ("--temperature", "-1"), ("--temperature", "nan"), ("--top-p", "2"),
        ("--top-p", "0"), ("--max-new-tokens", "0"), ("--batch-size", "0"), ("--retries", "-1"),
        ("--neutral", "-1"), ("--topics-per-emotion", "0"), ("--stories-per-prompt", "0"), ("--backend", "gpt"),
        ("--design", "some"), ("--dtype", "int4"), ("--device", "tpu"),
    ]],  # fmt: skip
    *[pytest.param(["generate", "--model", "MODEL", "--emotions", emotions, "--out", "TMP/g.jsonl", *extra],
                   prepare, (needle,), id=f"generate-{name}") for name, emotions, extra, prepare, needle in [
        ("emotions-unknown", "nosuchset", [], None, "nosuchset"),
        ("emotions-empty-file", "TMP/e.txt", [], write("e.txt", "\n"), "e.txt"),
        ("topics-missing", "russell28", ["--topics", "TMP/t.txt"], None, "t.txt"),
        ("topics-empty", "russell28", ["--topics", "TMP/t.txt"], write("t.txt", ""), "t.txt"),
        ("template-missing", "russell28", ["--template", "TMP/p.txt"], None, "p.txt"),
        ("template-no-placeholder", "russell28", ["--template", "TMP/p.txt"], write("p.txt", "Write."), "p.txt"),
        ("model-missing", "russell28", ["--model", "TMP/nomodel"], None, "nomodel"),
    ]],  # fmt: skip
    pytest.param(["generate", "--model", "MODEL", "--emotions", "russell28", "--out", "TMP/g"], make_dir("g"),
                 ("g",), id="generate-out-is-a-directory"),  # fmt: skip
    pytest.param(["generate", "--model", "MODEL", "--emotions", "russell28", "--out", "TMP/g.jsonl"],
                 write("g.jsonl", json.dumps({"id": "x", "emotion": "calm", "text": "A tale.", "generator": 1}) + "\n"),
                 ("g.jsonl",), id="generate-resume-other-file"),  # fmt: skip
    # ---- demo
    pytest.param(["demo", "--bootstrap", "-1", "--out", "OUT"], None, ("bootstrap",), id="demo-bootstrap"),
    pytest.param(["demo", "--permutations", "-1", "--out", "OUT"], None, ("permutations",), id="demo-permutations"),
    pytest.param(["demo", "--out", "OUT"], make_file("out"), ("out",), id="demo-out-is-a-file"),
    # ---- run (study files), all refused in --dry-run before any work
    *[pytest.param(["run", "STUDY", "--dry-run"], prepare, ("study.toml", *needles), id=f"run-{name}")
      for name, prepare, needles in [
        ("missing", None, ()),
        ("not-toml", study(text="name = [\n"), ()),
        ("empty", study(text=""), ("name",)),
        ("no-models", study(text='name = "x"\n[[corpora]]\nname = "c"\npath = "CORPUS"\n'), ("models",)),
        ("no-corpora", study(text='name = "x"\n[[models]]\nname = "m"\nmodel = "MODEL"\n'), ("corpora",)),
        ("unknown-key", study("skip_tokens = 0", "skip_tokens = 0\nskip_token = 1"), ("skip_token",)),
        ("unknown-section", study(new="[extra]\na = 1\n"), ("extra",)),
        ("layers-fraction", study('layers = "all"', 'layers = "1.5"'), ("settings.layers",)),
        ("layers-text", study('layers = "all"', 'layers = "most"'), ("settings.layers",)),
        ("layers-out-of-range", study('layers = "all"', 'layers = "0,50"'), ("settings.layers",)),
        ("bootstrap-negative", study("bootstrap = 0", "bootstrap = -1"), ("settings.bootstrap",)),
        ("bootstrap-text", study("bootstrap = 0", 'bootstrap = "many"'), ("settings.bootstrap",)),
        ("skip-negative", study("skip_tokens = 0", "skip_tokens = -2"), ("settings.skip_tokens",)),
        ("components", study("skip_tokens = 0", "skip_tokens = 0\ncomponents = 1"), ("settings.components",)),
        ("denoise", study("skip_tokens = 0", "skip_tokens = 0\ndenoise_variance = 2"), ("denoise_variance",)),
        ("weighting", study("skip_tokens = 0", 'skip_tokens = 0\nweighting = "mean"'), ("settings.weighting",)),
        ("scatter-layer", study("skip_tokens = 0", "skip_tokens = 0\nscatter_layer = 3"), ("scatter_layer",)),
        ("emotions", study('emotions = "russell28"', 'emotions = "nosuchset"'), ("settings.emotions",)),
        ("norms-unknown", study('norms = "russell1980"', 'norms = "nosuch"'), ("settings.norms",)),
        ("norms-csv-no-scale", study('norms = "russell1980"', 'norms = "csv:NORMS"'), ("norms_scale",)),
        ("norms-csv-missing", study('norms = "russell1980"', 'norms = "csv:TMP/n.csv"\nnorms_scale = [1, 9]'),
         ("n.csv",)),
        ("norms-scale-reversed", study('norms = "russell1980"', 'norms = "csv:NORMS"\nnorms_scale = [9, 1]'),
         ("norms_scale",)),
        ("model-missing", study('model = "MODEL"', 'model = "./no/such/model"'), ("models.0.model",)),
        ("model-dtype", study('model = "MODEL"', 'model = "MODEL"\ndtype = "float8"'), ("models.0.dtype",)),
        ("model-batch", study('model = "MODEL"', 'model = "MODEL"\nbatch_size = 0'), ("models.0.batch_size",)),
        ("model-format", study('model = "MODEL"', 'model = "MODEL"\ntext_format = "xml"'), ("text_format",)),
        ("model-device", study('model = "MODEL"', 'model = "MODEL"\ndevice = "tpu"'), ("models.0.device",)),
        ("model-no-name", study('name = "tiny"\n', ""), ("models.0.name",)),
        ("duplicate-model", study(new='[[models]]\nname = "tiny"\nmodel = "MODEL"\n'), ("tiny",)),
        ("corpus-missing", study('path = "CORPUS"', 'path = "TMP/none.jsonl"'), ("corpora.0.path",)),
        ("corpus-no-path", study('path = "CORPUS"', ""), ("corpora.0",)),
        ("corpus-neutral-missing", study('path = "CORPUS"', 'path = "CORPUS"\nneutral_path = "TMP/n.jsonl"'),
         ("neutral_path",)),
        ("corpus-generated-by-unknown", study('path = "CORPUS"', 'generated_by = "nobody"'), ("generated_by",)),
        ("corpus-temperature", study('path = "CORPUS"', 'generated_by = "tiny"\ntemperature = 0'),
         ("temperature",)),
        ("reference-unknown", study(new='[[references]]\nname = "r"\nmodel = "nobody"\n'), ("references.0",)),
        ("is-a-directory", make_dir("study.toml"), ()),
    ]],  # fmt: skip
    pytest.param(["run", "STUDY", "--dry-run"], both(corpus_rows(set_field(1, "text", 5)),
                                                     study('path = "CORPUS"', 'path = "TMP/bad.jsonl"')),
                 ("bad.jsonl", "line 2"), id="run-corpus-bad-row"),  # fmt: skip
    pytest.param(["run", "STUDY", "--out", "OUT"], both(study(), make_file("out")), ("out",),
                 id="run-out-is-a-file"),  # fmt: skip
    # ---- report
    pytest.param(["report", "TMP/nowhere"], None, ("nowhere",), id="report-missing"),
    pytest.param(["report", "TMP/d"], make_dir("d"), ("d",), id="report-not-a-study"),
    pytest.param(["report", "STUDY"], study(), ("fuzz",), id="report-study-not-run"),
    # ---- corpus check / stats
    *[pytest.param(["corpus", command, path], prepare, (needle,), id=f"corpus-{command}-{name}")
      for command in ("check", "stats") for name, prepare, path, needle in BAD_CORPORA[:6] + [
          ("empty-dir", make_dir("cd"), "TMP/cd", "cd")]],  # fmt: skip
    pytest.param(["corpus", "check", "CORPUS", "--min-words", "-1"], None, ("--min-words",), id="corpus-min-words"),
    pytest.param(["corpus", "check", "CORPUS", "--min-words", "50", "--max-words", "10"], None, ("--max-words",),
                 id="corpus-max-below-min"),  # fmt: skip
    pytest.param(["corpus", "stats", "CORPUS", "--csv", "TMP/d"], make_dir("d"), ("d",), id="corpus-stats-csv-dir"),
    # ---- norms
    pytest.param(["norms", "fetch", "nosuch"], None, ("nosuch",), id="norms-fetch-unknown"),
    pytest.param(["norms", "fetch", "russell1980"], None, ("russell1980",), id="norms-fetch-bundled"),
    pytest.param(["norms", "fetch", "nrc-vad-v2.1", "--cache-dir", "TMP"], None, ("--accept-terms",),
                 id="norms-fetch-terms"),  # fmt: skip
    pytest.param(["norms", "fetch", "nrc-vad-v2.1", "--accept-terms", "--cache-dir", "TMP", "--url",
                  "file:///nonexistent/x.zip", "--no-progress"], None, ("x.zip",), id="norms-fetch-bad-url"),
    pytest.param(["norms", "fetch", "nrc-vad-v2.1", "--accept-terms", "--cache-dir", "TMP/cachefile", "--url",
                  "file:///nonexistent/x.zip", "--no-progress"], make_file("cachefile"), ("cachefile",),
                 id="norms-fetch-cache-is-a-file"),  # fmt: skip
    # ---- steer, next-word, preferences (the tiny vectors hold calm, sad, angry)
    *[pytest.param(["steer", "--model", "MODEL", "--vectors", "VEC", "--out", "OUT", "--no-progress",
                    "--max-new-tokens", "2", *extra], prepare, needles, id=f"steer-{name}")
      for name, extra, prepare, needles in [
        ("unknown-emotion", ["--emotion", "zebra", "--strength", "0.1", "--prompt", "a"], None,
         ("--emotion", "zebra")),
        ("strength-not-a-number", ["--emotion", "calm", "--strength", "x", "--prompt", "a"], None, ("--strength",)),
        ("strength-range-backwards", ["--emotion", "calm", "--strength", "0.2:-0.2:0.1", "--prompt", "a"], None,
         ("--strength",)),
        ("strength-inf", ["--emotion", "calm", "--strength", "inf", "--prompt", "a"], None, ("--strength",)),
        ("layer-out-of-range", ["--emotion", "calm", "--strength", "0.1", "--layers", "99", "--prompt", "a"], None,
         ("--layers",)),
        ("layer-range-empty", ["--emotion", "calm", "--strength", "0.1", "--layers", "40-50", "--prompt", "a"],
         None, ("--layers",)),
        ("other-model", ["--emotion", "calm", "--strength", "0.1", "--prompt", "a", "--model", "OTHER_MODEL"], None,
         ("built from",)),
        ("prompts-no-column", ["--emotion", "calm", "--strength", "0.1", "--prompts", "TMP/p.jsonl"],
         write("p.jsonl", '{"text": "a"}\n'), ("p.jsonl", "prompt")),
        ("prompts-empty", ["--emotion", "calm", "--strength", "0.1", "--prompts", "TMP/p.txt"], write("p.txt", ""),
         ("p.txt",)),
        ("prompts-missing", ["--emotion", "calm", "--strength", "0.1", "--prompts", "TMP/none.jsonl"], None,
         ("none.jsonl",)),
        ("prompt-and-prompts", ["--emotion", "calm", "--strength", "0.1", "--prompt", "a", "--prompts",
                                "TMP/p.txt"], write("p.txt", "a\n"), ("--prompts",)),
        ("strength-count", ["--emotion", "calm", "--emotion", "sad", "--strength", "0.1", "--strength", "0.1",
                            "--strength", "0.1", "--prompt", "a"], None, ("--strength",)),
        ("temperature-negative", ["--emotion", "calm", "--strength", "0.1", "--prompt", "a", "--temperature", "-1"],
         None, ("--temperature",)),
        ("vectors-damaged", ["--emotion", "calm", "--strength", "0.1", "--prompt", "a"],
         damage("VEC/vectors.safetensors", "flip"), ("vectors.safetensors",)),
    ]],  # fmt: skip
    pytest.param(["next-word", "--model", "MODEL", "--vectors", "VEC", "--out", "OUT", "--emotions", "calm,zebra",
                  "--no-progress"], None, ("--emotions", "zebra"), id="next-word-unknown-emotion"),
    pytest.param(["next-word", "--model", "MODEL", "--vectors", "VEC", "--out", "OUT", "--strength", "nan",
                  "--no-progress"], None, ("--strength",), id="next-word-strength-nan"),
    pytest.param(["next-word", "--model", "OTHER_MODEL", "--vectors", "VEC", "--out", "OUT", "--no-progress"], None,
                 ("built from",), id="next-word-other-model"),
    pytest.param(["preferences", "--model", "MODEL", "--vectors", "VEC", "--out", "OUT", "--emotions", "zebra",
                  "--no-progress"], None, ("--emotions", "zebra"), id="preferences-unknown-emotion"),
    pytest.param(["preferences", "--model", "MODEL", "--vectors", "VEC", "--out", "OUT", "--per-category", "0",
                  "--no-progress"], None, ("--per-category",), id="preferences-per-category-zero"),
    # ---- anything
    pytest.param(["nosuchcommand"], None, ("nosuchcommand",), id="unknown-command"),
    pytest.param(["models", "nosuch"], None, ("nosuch",), id="unknown-subcommand"),
]


@pytest.mark.parametrize("args,prepare,needles", CASES)
def test_bad_input_is_one_line_and_leaves_nothing_complete(pristine, tmp_path, capsys, args, prepare, needles):
    err, paths = run_case(pristine, tmp_path, args, prepare, capsys)
    assert_one_line(err, tuple(_fill(needle, paths) for needle in needles))


def test_the_table_is_large_and_names_every_command():
    assert len(CASES) >= 150
    commands = {case.values[0][0] for case in CASES}
    expected = {"extract", "layers", "vectors", "analyze", "export", "compare", "generate", "demo", "run",
                "report", "corpus", "norms", "probe", "detect", "steer", "next-word", "preferences"}  # fmt: skip
    assert expected <= commands, expected - commands


if sys.platform == "win32":  # pragma: no cover - FIFOs
    pytestmark = pytest.mark.skip("POSIX only")
