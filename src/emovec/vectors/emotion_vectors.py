"""Emotion vectors: contrast directions [E, L, d] with their emotions, layers and provenance.

``v_e = mean_e - (1/E) sum_e' mean_e'`` over the emotion set in use, optionally with the top principal
components of activations on emotionally neutral text projected out (the fewest whose cumulative
explained variance reaches the threshold). Stored as ``vectors.safetensors`` (``vectors``,
``emotion_means``, ``grand_mean``, ``residual_norm``) plus ``metadata.json``; a community ``.npz`` with
``means`` or ``vectors`` [E, L, d], ``emotions`` [E] and ``layers`` [L] is read too.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from emovec.cache import file_record, record_mismatch
from emovec.errors import EmovecError
from emovec.locks import exclusive_lock

TENSORS = "vectors.safetensors"
METADATA = "metadata.json"


@dataclass(repr=False)
class EmotionVectors:
    """Contrast vectors [E, L, d] (float32) with the emotions, layers and metadata that describe them."""

    vectors: np.ndarray
    emotions: list[str]
    layers: list[int]
    relative_depths: list[float] | None = None
    emotion_means: np.ndarray | None = None  # [E, L, d]
    grand_mean: np.ndarray | None = None  # [L, d]
    residual_norm: np.ndarray | None = None  # [L] mean token L2 norm, the unit of steering strength
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_vectors(self.vectors, self.emotions, self.layers, "vectors")

    def __repr__(self) -> str:
        e, n_layers, d = self.vectors.shape
        shown = ", ".join(self.emotions[:5]) + (", ..." if e > 5 else "")
        return (f"EmotionVectors({e} emotions x {n_layers} layers x d={d}; model {self.metadata.get('model')}; "
                f"emotions: {shown})")  # fmt: skip

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(repr(self))}</p>"

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.vectors.shape)  # type: ignore[return-value]

    def layer(self, layer: int) -> np.ndarray:
        """Vectors [E, d] at one layer index (not slot)."""
        return self.vectors[:, self._slot(layer)]

    def _slot(self, layer: int) -> int:
        if layer not in self.layers:
            raise EmovecError(f"layer {layer} is not in these vectors (layers: {self.layers})")
        return self.layers.index(layer)

    def select(self, emotions: list[str] | None = None, layers: list[int] | None = None) -> EmotionVectors:
        """A subset by emotion and layer (vectors are not re-centred; use build_vectors for that)."""
        rows = list(range(len(self.emotions)))
        if emotions is not None:
            missing = [e for e in emotions if e not in self.emotions]
            if missing:
                raise EmovecError(f"emotions not in these vectors: {', '.join(missing[:10])}")
            rows = [self.emotions.index(e) for e in emotions]
        cols = list(range(len(self.layers))) if layers is None else [self._slot(k) for k in layers]

        def take(array, axes):
            if array is None:
                return None
            if axes == "el":
                return array[np.ix_(rows, cols)]
            return array[cols]

        return replace(
            self,
            vectors=take(self.vectors, "el"),
            emotions=[self.emotions[i] for i in rows],
            layers=[self.layers[j] for j in cols],
            relative_depths=None if self.relative_depths is None else [self.relative_depths[j] for j in cols],
            emotion_means=take(self.emotion_means, "el"),
            grand_mean=take(self.grand_mean, "l"),
            residual_norm=take(self.residual_norm, "l"),
        )

    def cosine_similarity(self, layer: int) -> np.ndarray:
        """Cosine similarity [E, E] between the emotions' vectors at one layer."""
        return cosine_matrix(self.layer(layer))

    def save(self, out: str | Path) -> Path:
        """Write ``vectors.safetensors`` and ``metadata.json`` into directory ``out``."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise EmovecError(f"{out}: exists and is not a directory; choose another --out")
        with exclusive_lock(out):
            return self._save_locked(out)

    def _save_locked(self, out: Path) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        tensors = {"vectors": np.ascontiguousarray(self.vectors, dtype=np.float32)}
        for name in ("emotion_means", "grand_mean", "residual_norm"):
            value = getattr(self, name)
            if value is not None:
                tensors[name] = np.ascontiguousarray(value, dtype=np.float32)
        partial = out / (TENSORS + ".partial")
        try:
            save_file(tensors, str(partial))
            os.replace(partial, out / TENSORS)
        finally:
            partial.unlink(missing_ok=True)
        files = {TENSORS: file_record(out / TENSORS)}
        metadata = dict(self.metadata, emotions=self.emotions, layers=self.layers, relative_depths=self.relative_depths,
                        files=files)  # fmt: skip
        partial = out / (METADATA + ".partial")
        partial.write_text(json.dumps(metadata, indent=2, default=_json_default) + "\n")
        os.replace(partial, out / METADATA)  # written last: a directory with metadata.json is complete
        return out


def cosine_matrix(rows: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows of a matrix, in float64."""
    rows = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit = rows / np.where(norms == 0, 1.0, norms)
    return unit @ unit.T


def check_vectors(vectors: np.ndarray, emotions: list[str], layers: list[int], source: str) -> None:
    """One-line errors for wrong shapes and non-finite values."""
    if vectors.ndim != 3:
        raise EmovecError(f"{source}: vectors must be [emotions, layers, d], got shape {vectors.shape}")
    if vectors.shape[0] != len(emotions):
        raise EmovecError(f"{source}: {vectors.shape[0]} vectors but {len(emotions)} emotion names")
    if vectors.shape[1] != len(layers):
        raise EmovecError(f"{source}: vectors have {vectors.shape[1]} layers but {len(layers)} layer indices")
    if len(set(emotions)) != len(emotions):
        raise EmovecError(f"{source}: duplicate emotion names")
    finite = np.isfinite(vectors)
    if not finite.all():
        e, k, _ = np.argwhere(~finite)[0]
        raise EmovecError(f"{source}: vectors contain NaN or inf (first at emotion {emotions[e]!r}, layer {layers[k]})")


def _check_file(path: Path, record: dict | None, verify: bool) -> None:
    """Size (always) and sha256 (memoised; afresh with ``verify``) against the record in metadata.json."""
    if record is None:
        return  # vectors written before records existed, or by hand
    problem = record_mismatch(path, record, fresh=verify)
    if problem:
        raise EmovecError(f"{problem} in metadata.json; rebuild the vectors")


def load_vectors(path: str | Path, verify: bool = False) -> EmotionVectors:
    """Load a vectors directory (or its ``vectors.safetensors``) or a community ``.npz``."""
    path = Path(path)
    if not path.exists():
        raise EmovecError(f"{path}: vectors not found")
    if path.suffix == ".npz":
        return _load_npz(path)
    directory = path.parent if path.is_file() else path
    if not (directory / TENSORS).exists():
        raise EmovecError(f"{path}: no {TENSORS} (expected a vectors directory or an .npz file)")
    try:
        metadata = json.loads((directory / METADATA).read_text())
    except (OSError, ValueError) as err:
        raise EmovecError(f"{directory / METADATA}: unreadable ({err})") from None
    _check_file(directory / TENSORS, metadata.get("files", {}).get(TENSORS), verify)
    try:
        tensors = load_file(str(directory / TENSORS))
    except (OSError, ValueError, SafetensorError) as err:
        raise EmovecError(f"{directory / TENSORS}: unreadable ({err})") from None
    if "vectors" not in tensors:
        raise EmovecError(f"{directory / TENSORS}: tensor 'vectors' is missing")
    if not isinstance(metadata, dict):
        raise EmovecError(f"{directory / METADATA}: not an emovec vectors metadata file")
    try:
        check_vectors(tensors["vectors"], list(metadata.get("emotions", [])),
                      [int(k) for k in metadata.get("layers", [])], str(directory / METADATA))  # fmt: skip
    except (TypeError, ValueError) as err:
        raise EmovecError(f"{directory / METADATA}: unreadable emotions or layers ({err})") from None
    return EmotionVectors(
        vectors=tensors["vectors"],
        emotions=list(metadata.get("emotions", [])),
        layers=[int(k) for k in metadata.get("layers", [])],
        relative_depths=metadata.get("relative_depths"),
        emotion_means=tensors.get("emotion_means"),
        grand_mean=tensors.get("grand_mean"),
        residual_norm=tensors.get("residual_norm"),
        metadata={k: v for k, v in metadata.items() if k not in ("emotions", "layers", "relative_depths")},
    )


def _load_npz(path: Path) -> EmotionVectors:
    try:
        data = np.load(path, allow_pickle=False)
        arrays = {key: data[key] for key in data.files}
    except ValueError as err:
        raise EmovecError(f"{path}: holds Python objects (pickle), which are not loaded; store strings as a "
                          f"unicode array ({err})") from None  # fmt: skip
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise EmovecError(f"{path}: not a readable .npz file ({err})") from None
    if "vectors" in arrays:
        vectors, means = arrays["vectors"], None
    elif "means" in arrays:
        means = arrays["means"].astype(np.float64)
        if means.ndim != 3:
            raise EmovecError(f"{path}: 'means' must be [emotions, layers, d], got shape {means.shape}")
        vectors = means - means.mean(axis=0, keepdims=True)
    else:
        raise EmovecError(f"{path}: needs an array 'vectors' or 'means' [emotions, layers, d]")
    for key in ("emotions", "layers"):
        if key not in arrays:
            raise EmovecError(f"{path}: array {key!r} is missing")
    emotions = [str(e) for e in arrays["emotions"].tolist()]
    layers = [int(k) for k in np.asarray(arrays["layers"]).tolist()]
    check_vectors(vectors, emotions, layers, str(path))
    top = max(layers) if layers and max(layers) > 0 else None
    return EmotionVectors(
        vectors=vectors.astype(np.float32),
        emotions=emotions,
        layers=layers,
        relative_depths=None if top is None else [k / top for k in layers],  # assumes the last layer is the last block
        emotion_means=None if means is None else means.astype(np.float32),
        grand_mean=None if means is None else means.mean(axis=0).astype(np.float32),
        metadata={"source": str(path), "format": "npz"},
    )


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)
