"""Download a licensed norm set into the user cache, only after the user accepts its terms.

The download goes to a ``.partial`` file; a zip is opened and its lexicon file (chosen by the registry's glob,
shallowest path first) is written to another ``.partial`` file, which is validated with ``load_norms`` and then
renamed into place, so the cache never holds half a file. ``SOURCE.json`` beside it records the address, the
SHA-256 of the download, the date, the terms address and the acceptance. The address is, by priority, the
``url`` argument, ``$EMOVEC_NORMS_URL_<NAME>`` (e.g. ``EMOVEC_NORMS_URL_NRC_VAD_V2_1``), the official one.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import urllib.error
import urllib.request
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from emovec.analysis.norms.loading import load_norms
from emovec.analysis.norms.registry import NormSet, get_norm_set, norms_cache_dir
from emovec.cache import sha256_file
from emovec.errors import EmovecError
from emovec.progress import stderr_console

CHUNK = 1 << 16
TIMEOUT_S = 60


def fetchable(name: str) -> NormSet:
    """The registry entry of ``name`` when it can be fetched; a one-line error otherwise."""
    entry = get_norm_set(name)
    if entry.bundled:
        raise EmovecError(f"norm set {name!r} is bundled with emovec: nothing to fetch, use it as {name}")
    if not entry.licensed:
        raise EmovecError(f"norm set {name!r} is for your own files ({name}:PATH): nothing to fetch")
    return entry


def url_env_var(name: str) -> str:
    """``EMOVEC_NORMS_URL_<NAME>``, non-alphanumerics as ``_``, upper-cased."""
    return "EMOVEC_NORMS_URL_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def source_url(entry: NormSet, url: str | None = None) -> str:
    """The address to download from: ``url``, else the environment override, else the official one."""
    return url or os.environ.get(url_env_var(entry.name)) or entry.url or ""


def download(url: str, dest: Path, progress: bool = True) -> str:
    """Stream ``url`` into ``dest``; return the SHA-256 of the bytes."""
    from emovec import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"emovec/{__version__} (norms fetch)"})
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, dest.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            name = TextColumn("{task.description}", style="bold", markup=False)
            columns = (name, BarColumn(), DownloadColumn(), TransferSpeedColumn())
            with Progress(*columns, console=stderr_console, disable=not progress) as bar:
                task = bar.add_task(f"download {url.rsplit('/', 1)[-1]}", total=total)
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.advance(task, len(chunk))
    except urllib.error.HTTPError as err:
        raise EmovecError(f"download failed: HTTP {err.code} {err.reason} from {url}") from None
    except urllib.error.URLError as err:
        raise EmovecError(f"cannot reach {url}: {err.reason}") from None
    except TimeoutError:
        raise EmovecError(f"download from {url} timed out after {TIMEOUT_S} s") from None
    except ValueError as err:
        raise EmovecError(f"bad download address {url!r}: {err}") from None
    except OSError as err:
        raise EmovecError(f"download from {url} failed: {err}") from None
    return digest.hexdigest()


def pick_member(names: list[str], pattern: str) -> str | None:
    """The archive member whose file name (or path) matches ``pattern``: shallowest, then shortest path."""
    candidates = []
    for name in names:
        posix = PurePosixPath(name)
        if name.endswith("/") or "__MACOSX" in posix.parts or posix.name.startswith("._"):
            continue
        if fnmatch.fnmatchcase(posix.name, pattern) or fnmatch.fnmatchcase(name, pattern):
            candidates.append(name)
    return min(candidates, key=lambda name: (len(PurePosixPath(name).parts), len(name), name), default=None)


def extract_member(archive: Path, pattern: str, dest: Path, url: str) -> str:
    """Write the lexicon file of a zip to ``dest``; return its member name."""
    if not zipfile.is_zipfile(archive):
        raise EmovecError(f"the file downloaded from {url} is not a zip archive")
    try:
        with zipfile.ZipFile(archive) as zf:
            member = pick_member(zf.namelist(), pattern)
            if member is None:
                raise EmovecError(f"no file matching {pattern!r} in the zip downloaded from {url}")
            with zf.open(member) as src, dest.open("wb") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as err:
        raise EmovecError(f"cannot unpack the zip downloaded from {url}: {err}") from None
    return member


def fetch_norms(
    name: str,
    accept_terms: bool,
    cache_dir: Path | None = None,
    url: str | None = None,
    progress: bool = True,
) -> Path:
    """Download norm set ``name`` into ``<cache>/norms/NAME/`` after the terms are accepted; return the file."""
    entry = fetchable(name)
    if not accept_terms:
        raise EmovecError(
            f"norm set {name!r} is licensed: read its terms at {entry.terms_url} and accept them to download it "
            f"(emovec norms fetch {name} --accept-terms)"
        )
    address = source_url(entry, url)
    folder = norms_cache_dir(name, cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EmovecError(f"cannot create the cache folder {folder}: {err.strerror}") from None
    target = folder / (entry.filename or name)
    downloaded = folder / f"{target.name}.download.partial"
    lexicon = folder / f"{target.name}.partial"
    try:
        digest = download(address, downloaded, progress)
        member = None
        if entry.archive_glob:
            member = extract_member(downloaded, entry.archive_glob, lexicon, address)
        else:
            os.replace(downloaded, lexicon)
        try:
            load_norms(f"{name}:{lexicon}")
        except EmovecError as err:
            raise EmovecError(f"the file downloaded from {address} is not a valid {name} lexicon: {err}") from None
        os.replace(lexicon, target)
        record = {
            "name": name,
            "version": entry.version,
            "url": address,
            "sha256": digest,
            "member": member,
            "file": target.name,
            "file_sha256": sha256_file(target),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "terms_url": entry.terms_url,
            "licence": entry.licence,
            "accepted": True,
        }
        source = folder / "SOURCE.json"
        source.with_suffix(".json.partial").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(source.with_suffix(".json.partial"), source)
    finally:
        downloaded.unlink(missing_ok=True)
        lexicon.unlink(missing_ok=True)
    return target
