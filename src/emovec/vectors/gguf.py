"""Export one emotion's vectors as a llama.cpp control vector (GGUF).

The file has architecture ``controlvector``, metadata ``controlvector.model_hint`` and
``controlvector.layer_count``, and one F32 1-D tensor ``direction.N`` per block ``N >= 1`` (the output of
block N, emovec's layer N). Layer 0 (embeddings) has no control-vector slot and is left out.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emovec.errors import EmovecError
from emovec.vectors.emotion_vectors import EmotionVectors

ARCH = "controlvector"


def export_gguf(
    vectors: EmotionVectors,
    emotion: str,
    out: str | Path,
    *,
    scale: float = 1.0,
    layers: list[int] | None = None,
    model_hint: str | None = None,
) -> Path:
    """Write ``scale * v_emotion`` at each block layer to ``out`` and check it by reading it back."""
    import gguf

    if not np.isfinite(scale) or scale == 0:
        raise EmovecError(f"--scale {scale}: must be a finite, non-zero number")
    if emotion not in vectors.emotions:
        raise EmovecError(f"emotion {emotion!r} is not in these vectors ({len(vectors.emotions)} emotions)")
    chosen = [k for k in (layers or vectors.layers) if k >= 1]
    if not chosen:
        raise EmovecError("no block layer (>= 1) to export; layer 0 has no control-vector slot")
    row = vectors.emotions.index(emotion)
    with np.errstate(over="ignore"):
        directions = {k: (scale * vectors.vectors[row, vectors.layers.index(k)]).astype(np.float32) for k in chosen}
    if not all(np.isfinite(d).all() for d in directions.values()):
        raise EmovecError(f"--scale {scale}: the scaled vectors overflow float32; use a smaller scale")
    hint = model_hint or str(vectors.metadata.get("model_class") or vectors.metadata.get("model") or "unknown")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_dir():
        raise EmovecError(f"{out}: is a directory; name the .gguf file to write")
    partial = out.with_name(out.name + ".partial")
    try:
        _write(gguf, partial, hint, directions)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    read_back = read_gguf_control_vector(partial)
    for layer, direction in directions.items():
        if layer not in read_back["directions"] or not np.array_equal(read_back["directions"][layer], direction):
            partial.unlink(missing_ok=True)
            raise EmovecError(f"{out}: GGUF read-back differs at direction.{layer}")
    os.replace(partial, out)
    return out


def _write(gguf, partial: Path, hint: str, directions: dict[int, np.ndarray]) -> None:
    writer = gguf.GGUFWriter(str(partial), ARCH)
    writer.add_string(f"{ARCH}.model_hint", hint)
    writer.add_uint32(f"{ARCH}.layer_count", len(directions))
    for layer, direction in directions.items():
        writer.add_tensor(f"direction.{layer}", direction)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def read_gguf_control_vector(path: str | Path) -> dict:
    """Read a control-vector GGUF: ``{'model_hint', 'layer_count', 'directions': {N: array}}``."""
    import gguf

    reader = gguf.GGUFReader(str(path))

    def field(name: str):
        found = reader.get_field(name)
        if found is None:
            raise EmovecError(f"{path}: GGUF metadata {name!r} is missing")
        return found.contents()

    if field("general.architecture") != ARCH:
        raise EmovecError(f"{path}: not a control vector (architecture {field('general.architecture')!r})")
    directions = {}
    for tensor in reader.tensors:
        if not tensor.name.startswith("direction."):
            continue
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32 or len(tensor.shape) != 1:
            raise EmovecError(f"{path}: tensor {tensor.name} is not a 1-D F32 vector")
        directions[int(tensor.name.split(".", 1)[1])] = np.array(tensor.data, dtype=np.float32)
    return {
        "model_hint": field(f"{ARCH}.model_hint"),
        "layer_count": int(field(f"{ARCH}.layer_count")),
        "directions": directions,
    }
