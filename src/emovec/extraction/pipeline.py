"""Extraction: a corpus and a model in, per-story pooled means at every requested layer out.

:func:`extract` writes a resumable activations directory (see :mod:`emovec.activations`);
:func:`extract_activations` returns the same arrays in memory, for notebooks.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from emovec.cache import file_record
from emovec.corpus.reader import Corpus, corpus_from_records, read_corpus
from emovec.errors import EmovecError, SettingError
from emovec.extraction.activations import (
    FORMAT,
    MANIFEST,
    SHARD_DIR,
    STORIES,
    Activations,
    check_files,
    file_problem,
    read_manifest,
    shard_name,
    shard_path,
)
from emovec.extraction.batching import plan_batches, plan_shards
from emovec.extraction.config import MAX_SHARD_STORIES, ExtractConfig, RaySettings, auto_shard_size, make_config
from emovec.extraction.distributed import RayShards
from emovec.extraction.engine import pool_batches
from emovec.extraction.memory import default_batch_tokens
from emovec.extraction.tokenization import EncodedStories
from emovec.extraction.workers import ShardArrays, compute_shard, describe_model, encode, write_shard
from emovec.locks import LOCK_NAME, exclusive_lock
from emovec.models.identity import model_identity
from emovec.models.layers import parse_layer_spec, relative_depths
from emovec.models.loaded import LoadedModel
from emovec.models.loading import check_device, load_model, resolve_source
from emovec.models.reference import model_reference_problem
from emovec.progress import progress_bar, stderr_console


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`extract` did."""

    out: Path
    manifest: dict
    skipped: bool  # True when the directory was already complete for these inputs
    shards_computed: int
    shards_reused: int


def extract(
    model: str | Path | LoadedModel,
    corpus: str | Path | Corpus,
    out: str | Path,
    *,
    revision: str | None = None,
    device: str | None = None,
    device_map: str | dict | None = None,
    max_memory: dict | None = None,
    offload_folder: str | Path | None = None,
    layers_path: str | None = None,
    trust_remote_code: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    ray: RaySettings | dict | bool | None = None,
    **settings,
) -> ExtractResult:
    """Extract pooled activations of ``corpus`` under ``model`` into ``out``; resumes and skips finished work.

    ``settings`` are the fields of :class:`emovec.config.ExtractConfig` (layers, skip_tokens, max_length,
    batch_size or max_batch_tokens, padding_side, text_format, chat_role, dtype, shard_size, accumulate).
    ``device_map="auto"`` (with ``max_memory`` and ``offload_folder``) spreads a large model over devices and
    disk. ``ray`` (``True``, a dict or :class:`~emovec.extraction.distributed.RaySettings`) runs the shards on a
    Ray cluster: same directory, same resume.
    """
    config = make_config(**settings)
    check_device(device)
    ray = _ray_settings(ray)
    if ray is not None and isinstance(model, LoadedModel):
        raise EmovecError("a Ray extraction loads the model on its workers: pass the model's name or path")
    if ray is not None and (problem := model_reference_problem(str(model))):
        raise EmovecError(problem)  # before any worker starts and retries loading it
    corpus = corpus if isinstance(corpus, Corpus) else read_corpus(corpus)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EmovecError(f"{out}: exists and is not a directory; choose another --out")
    load = {"dtype": config.dtype, "device": device, "device_map": device_map, "revision": revision,
            "layers_path": layers_path, "trust_remote_code": trust_remote_code}  # fmt: skip
    if max_memory is not None or offload_folder is not None:
        load.update(max_memory=max_memory, offload_folder=None if offload_folder is None else str(offload_folder))
    with exclusive_lock(out):
        return _extract_locked(model, corpus, out, config, load, overwrite, progress, ray)


def _ray_settings(ray) -> RaySettings | None:
    if ray is None or ray is False:
        return None
    if ray is True:
        return RaySettings()
    if isinstance(ray, RaySettings):
        return ray
    try:
        return RaySettings(**ray)
    except ValidationError as err:
        first = err.errors()[0]
        raise SettingError("ray." + ".".join(str(p) for p in first["loc"]), first["msg"]) from None


class LocalShards:
    """Shards computed in this process, one after another, with per-batch progress."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def describe(self) -> dict:
        return describe_model(self.loaded)

    def encode(self, texts: list[str], config: ExtractConfig, max_length: int) -> EncodedStories:
        return encode(self.loaded, texts, config, max_length)

    def compute(self, todo, shards, encoded, layers, config, advance) -> Iterator[tuple[int, ShardArrays]]:
        for index in todo:
            rows = shards[index]
            ids = [encoded.ids[r] for r in rows.tolist()]
            yield index, compute_shard(self.loaded, rows, ids, layers, config, advance)

    def close(self) -> None:
        pass


def _extract_locked(model, corpus, out, config, load, overwrite, progress, ray) -> ExtractResult:
    started = time.perf_counter()
    fingerprint = _fingerprint(config, corpus, _identity(model, load["revision"]))
    existing = _check_out_dir(out, fingerprint, overwrite)
    if existing is not None and existing.get("status") == "complete" and not _damaged(out, existing):
        return ExtractResult(out, existing, skipped=True, shards_computed=0, shards_reused=existing["n_shards"])

    t0 = time.perf_counter()
    if ray is not None:
        estimate = max(1, len(corpus) // (config.shard_size or MAX_SHARD_STORIES))
        engine = RayShards(model, load, ray, n_shards=estimate)
    else:
        engine = LocalShards(model if isinstance(model, LoadedModel) else load_model(model, **load))
    try:
        info = engine.describe()
        load_seconds = time.perf_counter() - t0
        if isinstance(engine, LocalShards):
            config = _default_batching(engine.loaded, config)
        layers = parse_layer_spec(config.layers, info["n_blocks"])
        t0 = time.perf_counter()
        encoded = engine.encode(corpus.texts, config, _max_length(info, config))
        tokenize_seconds = time.perf_counter() - t0
        shard_size = config.shard_size or auto_shard_size(len(layers), info["hidden_size"])
        shards = plan_shards(encoded.lengths, shard_size)

        out.mkdir(parents=True, exist_ok=True)
        (out / SHARD_DIR).mkdir(exist_ok=True)
        stories = _stories_table(corpus, encoded, config.skip_tokens)
        manifest = _manifest(config, corpus, info, layers, fingerprint, shard_size, len(shards), stories)
        previous = (existing or {}).get("files", {}) if existing and existing.get("n_shards") == len(shards) else {}
        done = [i for i in range(len(shards))
                if file_problem(out, shard_name(i), previous.get(shard_name(i)), verify=True) is None]  # fmt: skip
        manifest["files"] = {shard_name(i): previous[shard_name(i)] for i in done}
        _write_stories(out, stories)
        manifest["files"][STORIES] = file_record(out / STORIES)
        _write_json(out / MANIFEST, manifest)

        todo = [i for i in range(len(shards)) if i not in set(done)]
        if ray is not None and len(todo) < engine.workers:
            stderr_console.print(f"note: {len(todo)} shard(s) to compute for {engine.workers} Ray workers; "
                                 "pass --shard-size to split the corpus finer")  # fmt: skip
        t0 = time.perf_counter()
        stories_done = int(sum(len(shards[i]) for i in done))
        with progress_bar("extract", total=len(corpus), enabled=progress, completed=stories_done) as advance:
            per_batch = advance if isinstance(engine, LocalShards) else None
            results = (engine.compute(todo, shards, encoded, layers, config, per_batch)
                       if per_batch else engine.compute(todo, shards, encoded, layers, config))  # fmt: skip
            for index, shard in results:
                write_shard(out, index, shard)
                manifest["files"][shard_name(index)] = file_record(shard_path(out, index))
                _write_json(out / MANIFEST, manifest)  # the shard counts as done only once it is recorded
                if per_batch is None:
                    advance(len(shard.rows), int(encoded.lengths[shard.rows].sum()))
        extract_seconds = time.perf_counter() - t0
    finally:
        engine.close()

    manifest["tokens"] = _token_totals(out, len(shards), stories)
    manifest["timings"] = {
        "load_s": round(load_seconds, 3),
        "tokenize_s": round(tokenize_seconds, 3),
        "extract_s": round(extract_seconds, 3),
        "total_s": round(time.perf_counter() - started, 3),
        "shards_computed": len(todo),
        "shards_reused": len(done),
    }
    if ray is not None:
        manifest["timings"]["ray"] = {"workers": engine.workers, **engine.options}
    manifest["status"] = "complete"
    manifest["finished"] = _now()
    _write_json(out / MANIFEST, manifest)
    return ExtractResult(out, manifest, skipped=False, shards_computed=len(todo), shards_reused=len(done))


def _default_batching(loaded: LoadedModel, config: ExtractConfig) -> ExtractConfig:
    """On a CUDA device with no batch setting given, batches sized from free memory (``max_batch_tokens``)."""
    if config.batch_size is not None or config.max_batch_tokens is not None:
        return config
    sized = default_batch_tokens(loaded, config.max_length)
    if sized is None:
        return config
    tokens, free = sized
    stderr_console.print(f"note: batches of up to {tokens:,} tokens, from {free / 2**30:.1f} GiB free on "
                         f"{loaded.device} (set --max-batch-tokens or --batch-size to change)")  # fmt: skip
    return config.model_copy(update={"max_batch_tokens": tokens})


def extract_activations(
    model: str | Path | LoadedModel,
    corpus: str | Path | Corpus | list[dict] | pd.DataFrame,
    *,
    progress: bool = False,
    **settings,
) -> Activations:
    """Pooled activations in memory (the arrays :func:`extract` would write), for notebooks."""
    config = make_config(**settings)
    if not isinstance(corpus, Corpus):
        corpus = read_corpus(corpus) if isinstance(corpus, (str, Path)) else corpus_from_records(corpus)
    loaded = model if isinstance(model, LoadedModel) else load_model(model, dtype=config.dtype)
    layers = parse_layer_spec(config.layers, loaded.n_blocks)
    encoded = encode(loaded, corpus.texts, config, _max_length({"max_positions": loaded.max_positions}, config))
    stories = _stories_table(corpus, encoded, config.skip_tokens)
    means = np.empty((len(corpus), len(layers), loaded.hidden_size), dtype=np.float32)
    counted = np.zeros(len(corpus), dtype=np.int64)
    norms = np.empty((len(corpus), len(layers)), dtype=np.float32)
    batches = plan_batches(np.arange(len(corpus)), encoded.lengths, **config.batching())
    with progress_bar("extract", total=len(corpus), enabled=progress) as advance:
        for batch in pool_batches(loaded, encoded.ids, batches, layers, config.skip_tokens, config.padding_side,
                                  config.accumulate):  # fmt: skip
            means[batch.rows] = batch.means
            counted[batch.rows] = batch.counted
            norms[batch.rows] = batch.norms
            advance(len(batch.rows), int(encoded.lengths[batch.rows].sum()))
    return Activations(
        means=means,
        counted=counted,
        norms=norms,
        stories=stories,
        layers=layers,
        relative_depths=relative_depths(layers, loaded.n_blocks),
        manifest={"config": config.model_dump(), "model": {"name": loaded.name, "revision": loaded.revision}},
    )


def _max_length(info: dict, config: ExtractConfig) -> int:
    max_length, positions = config.max_length, info["max_positions"]
    if positions and max_length > positions:
        stderr_console.print(f"note: max length {max_length} exceeds the model's {positions} positions; "
                             f"using {positions}")  # fmt: skip
        return positions
    return max_length


def _token_totals(out: Path, n_shards: int, stories: pd.DataFrame) -> dict:
    from safetensors import safe_open

    processed = 0
    for index in range(n_shards):
        with safe_open(shard_path(out, index), framework="numpy") as shard:
            processed += int(shard.metadata()["padded_tokens"])
    real = int(stories["n_tokens"].sum())
    return {
        "real": real,
        "processed": processed,
        "counted": int(stories["counted"].sum()),
        "padding_overhead": round(processed / real, 4) if real else None,
    }


def _stories_table(corpus: Corpus, encoded: EncodedStories, skip: int) -> pd.DataFrame:
    table = corpus.table.drop(columns=["text"]).copy()
    for column in table.columns:
        if table[column].map(lambda v: isinstance(v, (dict, list))).any():
            table[column] = table[column].map(lambda v: json.dumps(v) if isinstance(v, (dict, list)) else v)
    lengths = encoded.lengths
    table.insert(2, "n_tokens", lengths)
    table.insert(3, "counted", np.clip(lengths - skip, 0, None))
    table.insert(4, "truncated", encoded.truncated)
    return table


def _write_stories(out: Path, stories: pd.DataFrame) -> None:
    partial = out / (STORIES + ".partial")
    stories.to_parquet(partial, index=False)
    os.replace(partial, out / STORIES)


def _identity(model: str | Path | LoadedModel, revision: str | None) -> dict:
    """The model's identity by content (weights at the same path that changed give another fingerprint)."""
    if isinstance(model, LoadedModel):
        return model_identity(model.name, model.revision, model.source.get("path") or model.name)
    name, source = resolve_source(model)
    revision = source["gguf"]["sha256"] if "gguf" in source else revision
    return model_identity(name, revision, source.get("path", name))


def _fingerprint(config: ExtractConfig, corpus: Corpus, identity: dict) -> str:
    key = {"config": config.result_defining(), "corpus": corpus.sha256, "model": identity}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _damaged(out: Path, manifest: dict) -> bool:
    """Whether a complete directory's files no longer match its manifest (then it is repaired)."""
    try:
        check_files(out, manifest)
    except EmovecError as err:
        stderr_console.print(f"note: {err}; recomputing what is damaged")
        return True
    return False


def _check_out_dir(out: Path, fingerprint: str, overwrite: bool) -> dict | None:
    """The existing manifest when ``out`` holds this same extraction; raises when it holds another."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise EmovecError(f"{out}: exists and is not a directory")
    if not (out / MANIFEST).exists():
        if any(p.name != LOCK_NAME for p in out.iterdir()):
            raise EmovecError(f"{out}: exists, is not empty and is not an activations directory; choose another --out")
        return None
    if overwrite:  # always start clean
        _clear(out)
        return None
    manifest = read_manifest(out)
    if manifest.get("fingerprint") == fingerprint:
        return manifest
    raise EmovecError(
        f"{out}: holds activations from another model, corpus or config; choose another --out or pass --overwrite"
    )


def _clear(out: Path) -> None:
    for path in (out / SHARD_DIR).glob("shard-*"):
        path.unlink()
    for name in (MANIFEST, STORIES, STORIES + ".partial"):
        (out / name).unlink(missing_ok=True)


def _manifest(config, corpus, info, layers, fingerprint, shard_size, n_shards, stories) -> dict:
    return {
        "format": FORMAT,
        "status": "running",
        "fingerprint": fingerprint,
        "config": config.model_dump(),
        "model": info["model"],
        "tokenizer": info["tokenizer"],
        "corpus": {"source": corpus.source, "sha256": corpus.sha256, "n_stories": len(corpus)},
        "layers": layers,
        "relative_depths": relative_depths(layers, info["n_blocks"]),
        "shard_size": shard_size,
        "n_shards": n_shards,
        "stories": {
            "n": len(stories),
            "no_tokens_past_skip": int((stories["counted"] == 0).sum()),
            "truncated": int(stories["truncated"].sum()),
        },
        "versions": _versions(),
        "started": _now(),
    }


def _versions() -> dict:
    import safetensors
    import torch
    import transformers

    from emovec import __version__

    return {
        "emovec": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }


def _write_json(path: Path, data: dict) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(partial, path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
