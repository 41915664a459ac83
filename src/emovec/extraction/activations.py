"""Activation directories: per-story pooled means at every requested layer, sharded, with a manifest.

Layout of a directory written by :func:`emovec.extract`::

    manifest.json               config, model, tokenizer, corpus hash, layers, counts, timings, versions, and
                                ``files``: the size and sha256 of every file below, recorded once it is complete
    stories.parquet             one row per story in corpus order: id, emotion, n_tokens, counted, truncated, ...
    shards/shard-00000.safetensors   means [n, L, d] float32, norms [n, L] float32, rows [n], counted [n]

``rows`` index ``stories.parquet``; ``counted`` is the number of tokens in each mean (0 = no token past
skip; its mean is NaN and it is left out of emotion means); ``norms`` is the mean L2 norm of those
tokens' residual vectors (the unit of steering strength).

Readers check every file against the manifest before using it: its size always, its sha256 through the hash
memo of :mod:`emovec.cache` (a file changed in any normal way is rehashed), and afresh with ``verify=True``.
A mismatch is one line naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, ValidationError
from safetensors import SafetensorError, safe_open

from emovec.cache import record_mismatch
from emovec.errors import EmovecError

MANIFEST = "manifest.json"
STORIES = "stories.parquet"
SHARD_DIR = "shards"
FORMAT = "emovec.activations/1"


def shard_path(directory: Path, index: int) -> Path:
    return directory / SHARD_DIR / f"shard-{index:05d}.safetensors"


def shard_name(index: int) -> str:
    return f"{SHARD_DIR}/shard-{index:05d}.safetensors"


def file_problem(directory: Path, name: str, record: dict | None, verify: bool = False) -> str | None:
    """Why ``directory/name`` does not match its manifest record (None: it does)."""
    if record is None:
        return f"{directory / name}: not recorded in the manifest"
    return record_mismatch(directory / name, record, fresh=verify)


def check_files(directory: Path, manifest: dict, verify: bool = False) -> None:
    """Raise a one-line error for the first listed file that is missing, resized or changed."""
    files = manifest.get("files")
    if files is None:
        raise EmovecError(f"{directory / MANIFEST}: lists no files (written by an older emovec); re-run the "
                          "same extract command with --overwrite")  # fmt: skip
    expected = [STORIES] + [shard_name(i) for i in range(manifest["n_shards"])]
    for name in expected:
        problem = file_problem(directory, name, files.get(name), verify)
        if problem:
            raise EmovecError(f"{problem}; re-run the same extract command to repair it")


@dataclass(repr=False)
class Activations:
    """Pooled means [n_stories, n_layers, d] with their stories and layers, in corpus order."""

    means: np.ndarray
    counted: np.ndarray
    norms: np.ndarray  # [n, L] mean token L2 norm per story and layer
    stories: pd.DataFrame
    layers: list[int]
    relative_depths: list[float]
    manifest: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        n, n_layers, d = self.means.shape
        return (f"Activations({n} stories x {n_layers} layers x d={d}; {len(set(self.emotions))} emotions; "
                f"model {self.manifest.get('model', {}).get('name')})")  # fmt: skip

    @property
    def ids(self) -> list[str]:
        return self.stories["id"].tolist()

    @property
    def emotions(self) -> list[str]:
        return self.stories["emotion"].tolist()


@dataclass
class EmotionMeans:
    """Per-emotion mean activations [E, L, d] (float64) and what went into them."""

    emotions: list[str]
    means: np.ndarray
    n_stories: np.ndarray  # [E] stories used
    n_tokens: np.ndarray  # [E] tokens used
    layers: list[int]
    relative_depths: list[float]
    weighting: str
    excluded_ids: list[str]  # stories with no token past skip


def read_manifest(directory: str | Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise EmovecError(f"{directory}: not an activations directory (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EmovecError(f"{path}: unreadable manifest ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise EmovecError(f"{path}: not an emovec activations manifest (format {found!r})")
    try:
        shape = _ManifestShape.model_validate(manifest)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise EmovecError(f"{path}: field {where!r}: {first['msg']}; re-run the extract command with "
                          "--overwrite") from None  # fmt: skip
    if len(shape.layers) != len(shape.relative_depths):
        raise EmovecError(f"{path}: {len(shape.layers)} layers but {len(shape.relative_depths)} relative depths")
    return manifest


class _ModelShape(BaseModel):
    hidden_size: int = Field(ge=1)


class _ManifestShape(BaseModel):
    """The fields readers rely on; anything else in a manifest is informational."""

    status: str
    n_shards: int = Field(ge=0)
    layers: list[int] = Field(min_length=1)
    relative_depths: list[float]
    model: _ModelShape
    files: dict[str, dict] | None = None


def _complete_manifest(directory: Path, verify: bool = False) -> dict:
    manifest = read_manifest(directory)
    if manifest.get("status") != "complete":
        done = sum(shard_path(directory, i).exists() for i in range(manifest.get("n_shards", 0)))
        raise EmovecError(
            f"{directory}: extraction is incomplete ({done}/{manifest.get('n_shards')} shards); "
            "re-run the same extract command to resume"
        )
    check_files(directory, manifest, verify)
    return manifest


def read_stories(directory: Path) -> pd.DataFrame:
    """The stories table (already checked against the manifest by the caller)."""
    path = directory / STORIES
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise EmovecError(f"{path}: unreadable parquet ({str(err).splitlines()[0] if str(err) else err})") from None


@dataclass(frozen=True)
class Shard:
    """One shard's stories: ``rows`` index the stories table."""

    rows: np.ndarray
    means: np.ndarray  # [n, L', d]
    counted: np.ndarray  # [n]
    norms: np.ndarray  # [n, L']


def iter_shards(directory: str | Path, layers: list[int] | None = None, verify: bool = False) -> Iterator[Shard]:
    """Stream shards one at a time, optionally reading only some layers."""
    directory = Path(directory)
    manifest = _complete_manifest(directory, verify)
    slots = _layer_slots(manifest, layers)
    for index in range(manifest["n_shards"]):
        yield _read_shard(shard_path(directory, index), slots)


def _read_shard(path: Path, slots: list[int] | None) -> Shard:
    try:
        with safe_open(path, framework="numpy") as shard:
            norms = shard.get_tensor("norms")
            if slots is None:
                means = shard.get_tensor("means")
            else:
                means = np.stack([shard.get_slice("means")[:, slot, :] for slot in slots], axis=1)
                norms = norms[:, slots]
            return Shard(shard.get_tensor("rows"), means, shard.get_tensor("counted"), norms)
    except (SafetensorError, OSError, KeyError) as err:
        raise EmovecError(f"{path}: unreadable shard ({err}); re-run the same extract command to repair it") from None


def _layer_slots(manifest: dict, layers: list[int] | None) -> list[int] | None:
    if layers is None:
        return None
    available = manifest["layers"]
    missing = [layer for layer in layers if layer not in available]
    if missing:
        raise EmovecError(f"layers {missing} were not extracted (available: {available})")
    return [available.index(layer) for layer in layers]


def load_activations(directory: str | Path, layers: list[int] | None = None, verify: bool = False) -> Activations:
    """Load a finished activations directory into memory (optionally only some layers)."""
    directory = Path(directory)
    manifest = _complete_manifest(directory, verify)
    stories = read_stories(directory)
    chosen = layers if layers is not None else manifest["layers"]
    depth = dict(zip(manifest["layers"], manifest["relative_depths"]))
    means = np.empty((len(stories), len(chosen), manifest["model"]["hidden_size"]), dtype=np.float32)
    counted = np.zeros(len(stories), dtype=np.int64)
    norms = np.empty((len(stories), len(chosen)), dtype=np.float32)
    for index in range(manifest["n_shards"]):
        shard = _read_shard(shard_path(directory, index), _layer_slots(manifest, layers))
        means[shard.rows] = shard.means
        counted[shard.rows] = shard.counted
        norms[shard.rows] = shard.norms
    return Activations(
        means=means,
        counted=counted,
        norms=norms,
        stories=stories,
        layers=list(chosen),
        relative_depths=[depth[layer] for layer in chosen],
        manifest=manifest,
    )


def emotion_means(source: str | Path | Activations, weighting: str = "token", verify: bool = False) -> EmotionMeans:
    """Per-emotion means: token-weighted (sum of token vectors / tokens) or story-weighted (mean of means).

    Streams shards from a directory, accumulating in float64; stories with no token past skip are excluded
    and listed.
    """
    if weighting not in ("token", "story"):
        raise EmovecError(f"unknown weighting {weighting!r}; use 'token' or 'story'")
    if isinstance(source, Activations):
        stories, layers, depths = source.stories, source.layers, source.relative_depths
        chunks: Iterator[Shard] = iter([Shard(np.arange(len(stories)), source.means, source.counted, source.norms)])
    else:
        directory = Path(source)
        manifest = _complete_manifest(directory, verify)
        stories = read_stories(directory)
        layers, depths = manifest["layers"], manifest["relative_depths"]
        chunks = (_read_shard(shard_path(directory, i), None) for i in range(manifest["n_shards"]))
    emotions = sorted(set(stories["emotion"]))
    slot = {emotion: i for i, emotion in enumerate(emotions)}
    story_emotion = stories["emotion"].map(slot).to_numpy()
    sums: np.ndarray | None = None
    n_stories = np.zeros(len(emotions), dtype=np.int64)
    n_tokens = np.zeros(len(emotions), dtype=np.int64)
    for shard in chunks:
        rows, means, counted = shard.rows, shard.means, shard.counted
        if sums is None:
            sums = np.zeros((len(emotions),) + means.shape[1:], dtype=np.float64)
        used = counted > 0
        rows, means, counted = rows[used], means[used], counted[used]
        which = story_emotion[rows]
        weights = np.zeros((len(emotions), len(rows)))
        weights[which, np.arange(len(rows))] = counted if weighting == "token" else 1.0
        sums += (weights @ means.reshape(len(rows), -1).astype(np.float64)).reshape(sums.shape)
        n_stories += np.bincount(which, minlength=len(emotions))
        n_tokens += np.bincount(which, weights=counted, minlength=len(emotions)).astype(np.int64)
    assert sums is not None
    denominator = (n_tokens if weighting == "token" else n_stories).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = sums / denominator[:, None, None]
    excluded = stories["id"][stories["counted"].to_numpy() == 0].tolist()
    return EmotionMeans(
        emotions=emotions,
        means=result,
        n_stories=n_stories,
        n_tokens=n_tokens,
        layers=list(layers),
        relative_depths=list(depths),
        weighting=weighting,
        excluded_ids=excluded,
    )


def residual_norms(source: str | Path | Activations) -> np.ndarray:
    """Mean residual-stream L2 norm per layer [L] over all counted tokens (token-weighted), in float64."""
    chunks = [source] if isinstance(source, Activations) else iter_shards(source)
    total = None
    tokens = 0
    for chunk in chunks:
        used = chunk.counted > 0
        weighted = (chunk.norms[used].astype(np.float64) * chunk.counted[used, None]).sum(axis=0)
        total = weighted if total is None else total + weighted
        tokens += int(chunk.counted[used].sum())
    if not tokens:
        raise EmovecError("no story has a token past the skip offset; cannot measure residual norms")
    return total / tokens
