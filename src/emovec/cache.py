"""The user cache (``$EMOVEC_CACHE`` or ``~/.cache/emovec``) and content hashes of files, memoised by stat.

Hashing a multi-GB weight file on every run would dominate short commands, so :func:`file_sha256` keeps the
hash of each file it has read in ``<cache>/hashes.json`` keyed by absolute path, size and mtime: a file that
changes in any normal way (rewritten, truncated, touched) is hashed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

CHUNK = 1 << 20
HASHES = "hashes.json"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$EMOVEC_CACHE``, else ``~/.cache/emovec``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("EMOVEC_CACHE") or Path.home() / ".cache" / "emovec").expanduser()


def sha256_file(path: str | Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stat_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def file_sha256(path: str | Path, cache_dir: str | Path | None = None) -> str:
    """:func:`sha256_file`, reusing the hash recorded for the same path, size and mtime."""
    path = Path(path)
    key = _stat_key(path)
    store = cache_root(cache_dir) / HASHES
    known = _read_store(store)
    if key in known:
        return known[key]
    digest = sha256_file(path)
    remember_sha256(path, digest, cache_dir)
    return digest


def remember_sha256(path: str | Path, digest: str, cache_dir: str | Path | None = None) -> None:
    """Record ``digest`` as the hash of ``path`` as it is now (its size and mtime)."""
    path = Path(path)
    store = cache_root(cache_dir) / HASHES
    known = {k: v for k, v in _read_store(store).items() if not k.startswith(f"{path.resolve()}|")}
    known[_stat_key(path)] = digest
    with contextlib.suppress(OSError):  # a read-only cache only costs a rehash next time
        write_json_atomic(store, known)


def _read_store(store: Path) -> dict[str, str]:
    try:
        data = json.loads(store.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_record(path: str | Path) -> dict:
    """``{"size", "sha256"}`` of a finished file, remembered so that the next reader does not rehash it."""
    path = Path(path)
    digest = sha256_file(path)
    remember_sha256(path, digest)
    return {"size": path.stat().st_size, "sha256": digest}


def record_mismatch(path: str | Path, record: dict, fresh: bool = False) -> str | None:
    """Why ``path`` no longer matches its :func:`file_record` (None: it does). The size is always compared, the
    sha256 through the memo (``fresh``: read afresh)."""
    path = Path(path)
    if not path.is_file():
        return f"{path}: missing"
    size = path.stat().st_size
    if size != record["size"]:
        return f"{path}: {size} bytes, not the recorded {record['size']}"
    digest = sha256_file(path) if fresh else file_sha256(path)
    if digest != record["sha256"]:
        return f"{path}: content differs from its record (sha256 {digest[:12]}, recorded {record['sha256'][:12]})"
    return None


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
