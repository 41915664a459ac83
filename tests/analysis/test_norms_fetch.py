"""Fetching licensed norms: terms first, atomic download into the cache, zip unpacking, one-line errors.

Everything is served by a local HTTP server on 127.0.0.1; no other address is contacted.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import socket
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from emovec.analysis.norms.fetch import fetch_norms, pick_member, url_env_var
from emovec.analysis.norms.loading import load_norms
from emovec.cli import norms as cli_norms
from emovec.cli.norms import norms_app
from emovec.errors import EmovecError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "norms"
TERMS = "https://saifmohammad.com/WebPages/nrc-vad.html"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1 with the files the tests need; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    lexicon = (FIXTURES / "nrc_vad_v2.1.txt").read_text()
    unigrams = "term\tvalence\tarousal\tdominance\nhappy\t0.875\t0.420\t0.390\n"
    with zipfile.ZipFile(root / "NRC-VAD-Lexicon-v2.1.zip", "w") as zf:
        zf.writestr("NRC-VAD-Lexicon-v2.1/README.txt", "made-up test archive\n")
        zf.writestr("NRC-VAD-Lexicon-v2.1/Unigrams/unigrams-NRC-VAD-Lexicon-v2.1.txt", unigrams)
        zf.writestr("NRC-VAD-Lexicon-v2.1/NRC-VAD-Lexicon-v2.1.txt", lexicon)
        zf.writestr("__MACOSX/NRC-VAD-Lexicon-v2.1/._NRC-VAD-Lexicon-v2.1.txt", "\x00junk")
    with zipfile.ZipFile(root / "other.zip", "w") as zf:
        zf.writestr("folder/readme.txt", "no lexicon here\n")
    (root / "not-a-zip.zip").write_text("<html>this is a web page</html>\n")
    (root / "Ratings_Warriner_et_al.csv").write_bytes((FIXTURES / "warriner.csv").read_bytes())
    (root / "broken.csv").write_text("<html>not found</html>\n")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def cache_files(cache: Path) -> list[Path]:
    return sorted(path for path in cache.rglob("*") if path.is_file()) if cache.exists() else []


def one_line(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_refuses_without_accepted_terms_and_writes_nothing(served, tmp_path):
    base, _ = served
    cache = tmp_path / "cache"
    with pytest.raises(EmovecError) as info:
        fetch_norms("nrc-vad-v2.1", accept_terms=False, cache_dir=cache, url=f"{base}/NRC-VAD-Lexicon-v2.1.zip")
    message = one_line(info)
    assert TERMS in message and "--accept-terms" in message
    assert not cache.exists()


def test_fetch_unpacks_the_lexicon_and_load_norms_uses_the_cache(served, tmp_path):
    base, root = served
    cache = tmp_path / "cache"
    url = f"{base}/NRC-VAD-Lexicon-v2.1.zip"
    path = fetch_norms("nrc-vad-v2.1", accept_terms=True, cache_dir=cache, url=url, progress=False)
    folder = cache / "norms" / "nrc-vad-v2.1"
    assert path == folder / "NRC-VAD-Lexicon-v2.1.txt"
    assert path.read_text() == (FIXTURES / "nrc_vad_v2.1.txt").read_text()  # the top-level file, not Unigrams/
    assert cache_files(cache) == [folder / "NRC-VAD-Lexicon-v2.1.txt", folder / "SOURCE.json"]  # no .partial left
    source = json.loads((folder / "SOURCE.json").read_text())
    assert source["url"] == url and source["accepted"] is True and source["terms_url"] == TERMS
    assert source["sha256"] == hashlib.sha256((root / "NRC-VAD-Lexicon-v2.1.zip").read_bytes()).hexdigest()
    assert source["member"] == "NRC-VAD-Lexicon-v2.1/NRC-VAD-Lexicon-v2.1.txt"
    assert source["date"][:4].isdigit()

    norms = load_norms("nrc-vad-v2.1", cache_dir=cache)
    assert norms.source == str(path) and norms.version == "2.1 (2025)"
    assert norms.table.loc["at ease"].tolist() == pytest.approx([0.7, -0.6, 0.3])
    assert len(norms.table) == 13


def test_url_from_environment_variable(served, tmp_path, monkeypatch):
    base, _ = served
    assert url_env_var("nrc-vad-v2.1") == "EMOVEC_NORMS_URL_NRC_VAD_V2_1"
    assert url_env_var("warriner2013") == "EMOVEC_NORMS_URL_WARRINER2013"
    monkeypatch.setenv("EMOVEC_NORMS_URL_NRC_VAD_V2_1", f"{base}/NRC-VAD-Lexicon-v2.1.zip")
    monkeypatch.setenv("EMOVEC_CACHE", str(tmp_path / "envcache"))
    path = fetch_norms("nrc-vad-v2.1", accept_terms=True, progress=False)
    assert path == tmp_path / "envcache" / "norms" / "nrc-vad-v2.1" / "NRC-VAD-Lexicon-v2.1.txt"
    assert load_norms("nrc-vad-v2.1").source == str(path)


def test_plain_csv_download_for_warriner(served, tmp_path):
    base, _ = served
    cache = tmp_path / "cache"
    path = fetch_norms("warriner2013", True, cache_dir=cache, url=f"{base}/Ratings_Warriner_et_al.csv", progress=False)
    assert path.read_bytes() == (FIXTURES / "warriner.csv").read_bytes()  # an unchanged copy
    assert load_norms("warriner2013", cache_dir=cache).table.loc["happy", "valence"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("name", "file", "needles"),
    [
        ("nrc-vad-v2.1", "missing.zip", ("HTTP 404", "missing.zip")),
        ("nrc-vad-v2.1", "not-a-zip.zip", ("not a zip",)),
        ("nrc-vad-v2.1", "other.zip", ("no file matching", "NRC-VAD-Lexicon-v2.1.txt")),
        ("warriner2013", "broken.csv", ("not a valid warriner2013 lexicon", "line 1")),
    ],
)
def test_download_errors_are_one_line_and_leave_no_file(served, tmp_path, name, file, needles):
    base, _ = served
    cache = tmp_path / "cache"
    with pytest.raises(EmovecError) as info:
        fetch_norms(name, True, cache_dir=cache, url=f"{base}/{file}", progress=False)
    message = one_line(info)
    for needle in needles:
        assert needle in message, message
    assert cache_files(cache) == []
    with pytest.raises(EmovecError, match="not in the cache"):
        load_norms(name, cache_dir=cache)


def test_unreachable_address(tmp_path):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/none.zip"
    with pytest.raises(EmovecError) as info:
        fetch_norms("nrc-vad-v1", True, cache_dir=tmp_path, url=url, progress=False)
    assert f"cannot reach {url}" in one_line(info)
    assert not list(tmp_path.rglob("*.partial"))


def test_bundled_and_user_sets_need_no_fetch(tmp_path):
    with pytest.raises(EmovecError, match="bundled"):
        fetch_norms("russell1980", True, cache_dir=tmp_path)
    with pytest.raises(EmovecError, match="nothing to fetch"):
        fetch_norms("csv", True, cache_dir=tmp_path)
    with pytest.raises(EmovecError, match="unknown norm set"):
        fetch_norms("anew", True, cache_dir=tmp_path)
    assert cache_files(tmp_path) == []


def test_pick_member_prefers_the_shallowest_match():
    names = [
        "NRC-VAD-Lexicon/OneFilePerLanguage/French-fr-NRC-VAD-Lexicon.txt",
        "NRC-VAD-Lexicon/NRC-VAD-Lexicon.txt",
        "__MACOSX/NRC-VAD-Lexicon/._NRC-VAD-Lexicon.txt",
        "NRC-VAD-Lexicon/",
    ]
    assert pick_member(names, "*NRC-VAD-Lexicon*.txt") == "NRC-VAD-Lexicon/NRC-VAD-Lexicon.txt"
    assert pick_member(names, "NRC-VAD-Lexicon.txt") == "NRC-VAD-Lexicon/NRC-VAD-Lexicon.txt"
    assert pick_member(names, "*.csv") is None


# ---------------------------------------------------------------- the CLI


def test_cli_fetch_refuses_without_accept_terms_when_not_a_tty(served, tmp_path):
    base, _ = served
    cache = tmp_path / "cache"
    args = ["fetch", "nrc-vad-v2.1", "--cache-dir", str(cache), "--url", f"{base}/NRC-VAD-Lexicon-v2.1.zip"]
    result = CliRunner().invoke(norms_app, args)  # CliRunner's stdin is not a TTY
    assert result.exit_code != 0
    assert isinstance(result.exception, EmovecError)
    assert "--accept-terms" in str(result.exception) and TERMS in str(result.exception)
    assert not cache.exists()


def test_cli_fetch_with_accept_terms_then_list_shows_cached(served, tmp_path):
    base, _ = served
    cache = tmp_path / "cache"
    url = f"{base}/NRC-VAD-Lexicon-v2.1.zip"
    args = ["fetch", "nrc-vad-v2.1", "--accept-terms", "--no-progress", "--cache-dir", str(cache), "--url", url]
    result = CliRunner().invoke(norms_app, args)
    assert result.exit_code == 0, result.output
    assert "NRC-VAD-Lexicon-v2.1.txt" in result.output
    listing = CliRunner().invoke(norms_app, ["list", "--cache-dir", str(cache)], env={"COLUMNS": "300"})
    assert listing.exit_code == 0, listing.output
    rows = {line.split("│")[1].strip(): line for line in listing.output.splitlines() if line.count("│") > 3}
    assert "cached" in rows["nrc-vad-v2.1"] and "bundled" in rows["russell1980"]
    assert "needs path" in rows["nrc-vad-v1"]


def test_cli_fetch_prompts_on_a_tty(served, tmp_path, monkeypatch):
    base, _ = served
    cache = tmp_path / "cache"
    monkeypatch.setattr(cli_norms, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))
    args = [
        "fetch",
        "nrc-vad-v2.1",
        "--no-progress",
        "--cache-dir",
        str(cache),
        "--url",
        f"{base}/NRC-VAD-Lexicon-v2.1.zip",
    ]
    declined = CliRunner().invoke(norms_app, args, input="n\n")
    assert TERMS in declined.output
    assert isinstance(declined.exception, EmovecError) and not cache.exists()
    accepted = CliRunner().invoke(norms_app, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert (cache / "norms" / "nrc-vad-v2.1" / "SOURCE.json").is_file()
