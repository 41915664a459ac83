"""One writer per output: a second one is refused naming the holder; dead holders' locks are taken over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli, story_rows

import emovec
from emovec.errors import EmovecError
from emovec.locks import exclusive_lock, lock_path

HOLD = "import sys, time; from emovec.locks import exclusive_lock\nwith exclusive_lock(sys.argv[1]):\n" \
       "    print('held', flush=True); time.sleep(60)\n"  # fmt: skip


def hold_in_another_process(target: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(target)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path):
    holder = hold_in_another_process(tmp_path / "out")
    try:
        busy = rf"out: in use by another emovec run \(pid {holder.pid}"
        with pytest.raises(EmovecError, match=busy), exclusive_lock(tmp_path / "out"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive_lock(tmp_path / "out"):  # the kernel dropped the killed holder's lock
        pass


def test_the_lock_is_reentrant_within_a_process_and_removed_after(tmp_path):
    with exclusive_lock(tmp_path / "out") as path:
        with exclusive_lock(tmp_path / "out"):
            assert path.exists()
        assert path.exists()  # still held by the outer block
    assert not path.exists()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_note(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "out").mkdir()
    lock_path(tmp_path / "out").write_text(f"{dead.pid}\nemovec extract ...\n")
    with exclusive_lock(tmp_path / "out"):
        pass
    assert f"taking over the lock left by process {dead.pid}" in capsys.readouterr().err


def test_file_outputs_are_locked_beside_the_file(tmp_path):
    assert lock_path(tmp_path / "corpus.jsonl") == tmp_path / "corpus.jsonl.lock"
    assert lock_path(tmp_path / "acts") == tmp_path / "acts" / ".emovec.lock"


@pytest.mark.slow
def test_two_extracts_with_other_settings_never_mix(tmp_path, tiny_model_dir):
    """Started together into one --out: one writes, the other is refused; what is there is self-consistent."""
    model = tiny_model_dir("llama")
    corpus = tmp_path / "c.jsonl"
    rows = [dict(row, id=f"{row['id']}-{i}") for i in range(3) for row in story_rows()]
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "acts"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    procs = [subprocess.Popen([sys.executable, "-m", "emovec", "extract", "--model", str(model), "--corpus",
                               str(corpus), "--out", str(out), "--skip-tokens", skip, "--shard-size", "2",
                               "--batch-size", "1", "--no-progress"], env=env, stderr=subprocess.PIPE, text=True)
             for skip in ("0", "3")]  # fmt: skip
    results = [(proc.wait(), proc.stderr.read()) for proc in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "in use by another emovec run" in refused or "--overwrite" in refused, refused
    manifest = json.loads((out / "manifest.json").read_text())
    skip = manifest["config"]["skip_tokens"]
    fresh = emovec.extract(model, corpus, tmp_path / "fresh", skip_tokens=skip, progress=False).out
    np.testing.assert_allclose(emovec.load_activations(out).means, emovec.load_activations(fresh).means,
                               rtol=1e-5, atol=1e-6)  # fmt: skip


@pytest.mark.slow
def test_analyze_and_run_refuse_a_busy_output(tmp_path, tiny_model_dir, corpus_file):
    acts = emovec.extract(tiny_model_dir("llama"), corpus_file, tmp_path / "a", skip_tokens=0, progress=False).out
    emovec.build_vectors(acts).save(tmp_path / "v")
    holder = hold_in_another_process(tmp_path / "geo")
    try:
        result = run_cli("analyze", "--vectors", str(tmp_path / "v"), "--norms", "russell1980", "--out",
                         str(tmp_path / "geo"))  # fmt: skip
        assert_one_line_error(result, "geo", f"pid {holder.pid}")
        assert result.returncode == 2 and not (tmp_path / "geo" / "geometry.json").exists()
    finally:
        holder.kill()
        holder.wait()
    study = tmp_path / "s.toml"
    study.write_text(f'name = "s"\nout = "busy"\n[settings]\nemotions = "russell28"\nskip_tokens = 0\n'
                     f'bootstrap = 0\npermutations = 0\n[[models]]\nname = "m"\nmodel = "{tiny_model_dir("llama")}"\n'
                     f'[[corpora]]\nname = "c"\npath = "{corpus_file}"\n')  # fmt: skip
    holder = hold_in_another_process(tmp_path / "busy")
    try:
        result = subprocess.run([sys.executable, "-m", "emovec", "run", str(study), "--no-progress"], cwd=tmp_path,
                                capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))  # fmt: skip
        assert_one_line_error(result, "busy", f"pid {holder.pid}")
        assert not (tmp_path / "busy" / "results.csv").exists()
    finally:
        holder.kill()
        holder.wait()
