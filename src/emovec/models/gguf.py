"""GGUF checkpoints: found, identified by content, dequantized once into the user cache as safetensors.

transformers reads a GGUF file with ``from_pretrained(folder, gguf_file=...)``, dequantizing every tensor to
float, which takes tens of seconds even for a 135M model. emovec does that once per file and writes the
model, its config and its tokenizer to ``<cache>/models/<stem>-<sha256[:16]>/`` (``EMOVEC_CACHE`` moves the
cache). The entry is built in a temporary folder and renamed into place, so a killed conversion never leaves
an entry that later loads; ``gguf.json`` records the source file, its sha256 and quantization type, and the
size and sha256 of every file written. An entry whose files do not match that record is rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from emovec.cache import cache_root, file_record, file_sha256, record_mismatch, remember_sha256
from emovec.errors import EmovecError
from emovec.progress import stderr_console

SUFFIX = ".gguf"
RECORD = "gguf.json"
FORMAT = "emovec.gguf-conversion/1"


@dataclass(frozen=True)
class GGUFSource:
    """What a model loaded from GGUF was: its file, content hash, quantization and architecture."""

    file: str
    sha256: str
    size: int
    quantization: str
    architecture: str

    def as_dict(self) -> dict:
        return asdict(self)


def find_gguf(path: str | Path) -> Path | None:
    """The GGUF file that ``path`` names: a ``.gguf`` file, or a folder holding exactly one and no config.json."""
    path = Path(path)
    if path.is_file():
        return path if path.suffix.lower() == SUFFIX else None
    if not path.is_dir() or (path / "config.json").exists():
        return None
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == SUFFIX and p.is_file())
    if len(files) > 1:
        names = ", ".join(p.name for p in files[:5])
        raise EmovecError(f"{path}: holds {len(files)} GGUF files ({names}); name the one to load")
    return files[0] if files else None


def describe_gguf(file: Path) -> tuple[str, str]:
    """``(architecture, quantization)`` read from a GGUF file's metadata, e.g. ``("llama", "MOSTLY_Q4_1")``."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(file))
    except (ValueError, OSError) as err:
        raise EmovecError(f"{file}: not a readable GGUF file ({err})") from None

    def field(name: str):
        entry = reader.fields.get(name)
        return None if entry is None else entry.contents()

    architecture = str(field("general.architecture") or "unknown")
    file_type = field("general.file_type")
    try:
        quantization = gguf.LlamaFileType(int(file_type)).name if file_type is not None else "unknown"
    except ValueError:
        quantization = f"file_type {file_type}"
    return architecture, quantization


def gguf_source(file: Path) -> GGUFSource:
    architecture, quantization = describe_gguf(file)
    return GGUFSource(str(file.resolve()), file_sha256(file), file.stat().st_size, quantization, architecture)


def entry_dir(source: GGUFSource) -> Path:
    return cache_root() / "models" / f"{Path(source.file).stem}-{source.sha256[:16]}"


def entry_problem(entry: Path, source: GGUFSource) -> str | None:
    """Why a cache entry cannot be used (None: it matches its record and the source)."""
    try:
        record = json.loads((entry / RECORD).read_text())
    except (OSError, ValueError):
        return f"no readable {RECORD}"
    if record.get("format") != FORMAT or record.get("source", {}).get("sha256") != source.sha256:
        return "recorded for another source file"
    for name, expected in record.get("files", {}).items():
        problem = record_mismatch(entry / name, expected)
        if problem:
            return problem
    return None


def converted_model(file: str | Path) -> tuple[Path, GGUFSource]:
    """The cached HF folder for a GGUF file (converting it on first use) and the file's identity."""
    file = Path(file)
    source = gguf_source(file)
    entry = entry_dir(source)
    if entry.exists():
        problem = entry_problem(entry, source)
        if problem is None:
            return entry, source
        stderr_console.print(f"note: rebuilding the cached conversion {entry} ({problem})", markup=False)
        shutil.rmtree(entry)
    _convert(file, source, entry)
    return entry, source


def _convert(file: Path, source: GGUFSource, entry: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    stderr_console.print(
        f"converting {file.name} ({source.quantization}) to float32 safetensors in {entry} (once)", markup=False
    )
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}.", suffix=".tmp"))
    try:
        folder, name = str(file.parent), file.name
        hf_logging.disable_progress_bar()
        try:
            config = AutoConfig.from_pretrained(folder, gguf_file=name)
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, config=config, dtype="float32")
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise EmovecError(f"{file}: transformers cannot read this GGUF file ({_first_line(err)})") from None
        finally:
            hf_logging.enable_progress_bar()
        _save_float_model(model, tmp)
        tokenizer.save_pretrained(tmp)
        del model
        files = {p.name: file_record(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        record = {"format": FORMAT, "source": source.as_dict(), "files": files}
        (tmp / RECORD).write_text(json.dumps(record, indent=1) + "\n")
        os.replace(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for name, written in files.items():  # the memo is keyed by path: record the files at their final place
        remember_sha256(entry / name, written["sha256"])


def _save_float_model(model, folder: Path) -> None:
    """Write the dequantized weights and a plain config (``save_pretrained`` refuses GGUF-loaded models)."""
    from safetensors.torch import save_model

    save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})  # shared (tied) tensors once
    config = model.config
    config.architectures = [type(model).__name__]
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(folder)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(folder)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
