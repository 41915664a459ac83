"""The package's shape: its public API, its layer rules and the numpy-only stages after extraction."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import emovec

REPO = Path(__file__).resolve().parents[1]


def test_every_public_name_imports():
    assert "__version__" in emovec.__all__
    missing = [name for name in emovec.__all__ if getattr(emovec, name, None) is None]
    assert not missing
    for name in ("load_model", "extract", "build_vectors", "analyze", "load_vectors", "load_norms", "EmovecError"):
        assert name in emovec.__all__


def test_unknown_public_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        emovec.no_such_name  # noqa: B018


def _modules_after_import(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def test_stages_after_extraction_do_not_import_torch():
    loaded = _modules_after_import(
        "import emovec.vectors.build, emovec.vectors.gguf, emovec.analysis.layer_geometry, "
        "emovec.analysis.norms.fetch, emovec.analysis.compare, emovec.report.figures, emovec.report.html; "
        "from emovec import analyze, build_vectors, load_vectors, load_norms"
    )
    assert "emovec.analysis.layer_geometry" in loaded and "emovec.vectors.build" in loaded
    assert not {name for name in loaded if name.split(".")[0] in ("torch", "transformers")}


def test_import_emovec_is_light():
    loaded = _modules_after_import("import emovec")
    assert not {name for name in loaded if name.split(".")[0] in ("torch", "transformers", "pandas")}


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed")
    result = subprocess.run([lint, "--no-cache"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 kept, 0 broken" in result.stdout
