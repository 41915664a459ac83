"""Export one emotion's vectors as a llama.cpp control vector (GGUF).

The file has architecture ``controlvector``, metadata ``controlvector.model_hint`` and
``controlvector.layer_count``, and one F32 1-D tensor ``direction.N`` per steered block. llama.cpp adds
``direction.N`` to the output of its (0-based) layer ``il = N`` (``build_cvec(cur, il)`` at the end of each
layer; the loader puts ``direction.N`` at ``tensors[N]`` and never fills ``tensors[0]``): that is the input of
block N+1, emovec's layer ``N + 1``. So emovec layer ``k`` is written as ``direction.{k - 1}`` for ``k >= 2``;
layers 0 (embeddings) and 1 (the output of the first block) have no slot and are left out.

``strength`` writes ``strength * residual_norm[k] * v_k / |v_k|`` instead (emovec's steering unit), so that
llama.cpp's ``--control-vector`` (scale 1) adds what ``emovec steer --strength`` adds at the same layers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emovec.errors import EmovecError
from emovec.vectors.emotion_vectors import EmotionVectors

ARCH = "controlvector"
FIRST_LAYER = 2  # emovec layer k is llama.cpp's direction.(k - 1), and direction.0 is never read


def _unit(vectors: EmotionVectors, row: int, layer: int) -> np.ndarray:
    v = vectors.vectors[row, vectors.layers.index(layer)].astype(np.float64)
    length = np.linalg.norm(v)
    if length == 0:
        raise EmovecError(f"the vector has zero length at layer {layer}")
    return v / length


def export_gguf(
    vectors: EmotionVectors,
    emotion: str,
    out: str | Path,
    *,
    scale: float = 1.0,
    layers: list[int] | None = None,
    model_hint: str | None = None,
    strength: float | None = None,
) -> Path:
    """Write ``scale * v_emotion`` (or the steering vector of ``strength``) at each layer >= 2 to ``out``, as
    ``direction.{layer - 1}``, and check it by reading it back."""
    import gguf

    if not np.isfinite(scale) or scale == 0:
        raise EmovecError(f"--scale {scale}: must be a finite, non-zero number")
    if emotion not in vectors.emotions:
        raise EmovecError(f"emotion {emotion!r} is not in these vectors ({len(vectors.emotions)} emotions)")
    chosen = [k for k in (layers or vectors.layers) if k >= FIRST_LAYER]
    if not chosen:
        raise EmovecError("no layer >= 2 to export; llama.cpp has no control-vector slot for layers 0 and 1")
    row = vectors.emotions.index(emotion)
    if strength is not None:
        if vectors.residual_norm is None:
            raise EmovecError("these vectors carry no residual_norm, which --strength needs; use --scale")
        if not np.isfinite(strength):
            raise EmovecError(f"--strength {strength}: must be a finite number")
        scale = 1.0
        source = {k: strength * float(vectors.residual_norm[vectors.layers.index(k)]) * _unit(vectors, row, k)
                  for k in chosen}  # fmt: skip
    else:
        source = {k: vectors.vectors[row, vectors.layers.index(k)].astype(np.float64) for k in chosen}
    with np.errstate(over="ignore"):  # in float32, as llama.cpp reads it: a scale beyond float32 overflows
        directions = {k - 1: np.float32(scale) * v.astype(np.float32) for k, v in source.items()}
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
    """Read a control-vector GGUF: ``{'model_hint', 'layer_count', 'directions': {N: array}, 'layers': {N + 1:
    array}}`` (``directions`` by llama.cpp's index, ``layers`` by emovec's layer)."""
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
        "layers": {n + 1: d for n, d in directions.items()},
    }
