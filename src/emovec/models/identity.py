"""A model's identity by content: what a fingerprint needs to know that two runs used the same weights.

A hub id is its name and revision. A local folder (or a converted GGUF entry) is its config and the size and
sha256 of each weight file, so replacing the weights at the same path changes the identity. Hashes are
memoised by path, size and mtime (:func:`emovec.cache.file_sha256`), so large models are hashed once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from emovec.cache import file_sha256

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")
CONFIG_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")


def folder_identity(folder: Path) -> dict:
    """Config bytes and weight files (name, size, sha256) of a local model folder."""
    config = hashlib.sha256()
    for name in CONFIG_FILES:
        path = folder / name
        if path.is_file():
            config.update(name.encode() + b"\0" + path.read_bytes())
    weights = {
        path.name: {"size": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in WEIGHT_SUFFIXES
    }
    return {"config_sha256": config.hexdigest(), "weights": weights}


def model_identity(name: str, revision: str | None, path: str | Path | None = None) -> dict:
    """``{"name", "revision"}`` plus the content of ``path`` (a folder or a file) when it is local."""
    identity: dict = {"name": name, "revision": revision}
    location = Path(path) if path is not None else Path(name)
    if location.is_dir():
        identity["content"] = folder_identity(location)
    elif location.is_file():
        identity["content"] = {location.name: {"size": location.stat().st_size, "sha256": file_sha256(location)}}
    return identity
