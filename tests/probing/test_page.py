"""probe.html: self-contained, and its script colours every token in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import STORY_TEXTS
from test_probe import random_vectors

from emovec.models.loading import load_model
from emovec.probing.probe import probe


class _Spans(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[float, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "span" and "title" in attrs:
            parts = re.search(r"rgba?\(([^)]*)\)", attrs["style"]).group(1).split(",")
            self.found.append((float(parts[3]) if len(parts) == 4 else 1.0, attrs["title"]))  # rgb(): alpha 1


def token_spans(dom: str) -> list[tuple[float, str]]:
    parser = _Spans()
    parser.feed(dom)
    return parser.found


def test_probe_page_colours_tokens_in_headless_chromium(tiny_model_dir, tmp_path):
    loaded = load_model(tiny_model_dir("llama"))
    texts = [STORY_TEXTS[0], "A <b>bold</b> </script> test & more."]  # markup in user text stays text
    result = probe(loaded, random_vectors(loaded), texts, layers=[1, 3], progress=False)
    out = result.save(tmp_path / "p", emotion="e2")
    page = (out / "probe.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    assert (out / "scores.parquet").exists() and (out / "probe.json").exists()
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)),
                   None)  # fmt: skip
    if browser is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium when it can)")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", (out / "probe.html").as_uri()],
                         check=True, capture_output=True, text=True, timeout=120).stdout  # fmt: skip
    spans = token_spans(dom)
    assert len(spans) == sum(len(t) for t in result.tokens)
    last = result.scores[1][1]  # layer 1 is shown first; text 2, its tokens
    alphas = [alpha for alpha, _ in spans[-len(last):]]
    clip = np.percentile(np.abs(np.concatenate(result.scores[1])[:, 2]), 98)
    np.testing.assert_allclose(alphas, np.minimum(1, np.abs(last[:, 2]) / clip), atol=1 / 255)  # 8-bit alpha
    assert all(title.count("\n") == 5 for _, title in spans)  # the score, then the top 5 on hover
    assert "<b>bold</b>" not in dom and "&lt;" in dom  # user markup stays text
