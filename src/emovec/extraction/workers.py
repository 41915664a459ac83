"""What runs where the model is: describe it, tokenize the corpus, pool one shard of stories.

:func:`emovec.extraction.pipeline.extract` calls these in its own process, and a Ray worker
(:mod:`emovec.extraction.distributed`) calls the same functions on a cluster, so both write the same shards.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from emovec.extraction.activations import shard_path
from emovec.extraction.batching import plan_batches
from emovec.extraction.config import ExtractConfig
from emovec.extraction.engine import pool_batches
from emovec.extraction.tokenization import EncodedStories, encode_stories
from emovec.models.loaded import LoadedModel

Advance = Callable[[int, int], None]  # (stories, tokens) done


@dataclass(frozen=True)
class ShardArrays:
    """One shard's pooled means, as stored in ``shards/shard-NNNNN.safetensors``."""

    rows: np.ndarray  # [n] story indices, in the shard's (length) order
    means: np.ndarray  # [n, L, d] float32
    norms: np.ndarray  # [n, L] float32
    counted: np.ndarray  # [n] int64
    padded_tokens: int


def describe_model(loaded: LoadedModel) -> dict:
    """What the manifest records about a loaded model and its tokenizer, plus the sizes extraction needs."""
    return {
        "n_blocks": loaded.n_blocks,
        "hidden_size": loaded.hidden_size,
        "max_positions": loaded.max_positions,
        "model": {
            "name": loaded.name,
            "revision": loaded.revision,
            "class": type(loaded.model).__name__,
            "blocks_path": loaded.blocks_path,
            "n_blocks": loaded.n_blocks,
            "hidden_size": loaded.hidden_size,
            "dtype": str(loaded.dtype).removeprefix("torch."),
            "device": str(loaded.device),
            "is_decoder": loaded.is_decoder,
            "source": loaded.source,
        },
        "tokenizer": {
            "name": getattr(loaded.tokenizer, "name_or_path", None),
            "class": type(loaded.tokenizer).__name__,
            "vocab_size": len(loaded.tokenizer),
            "default_padding_side": getattr(loaded.tokenizer, "padding_side", None),
        },
    }


def encode(loaded: LoadedModel, texts: list[str], config: ExtractConfig, max_length: int) -> EncodedStories:
    """The corpus's token ids under this model's tokenizer and the configured text format."""
    return encode_stories(
        loaded.tokenizer, texts, text_format=config.text_format, chat_role=config.chat_role, max_length=max_length
    )


def compute_shard(
    loaded: LoadedModel,
    rows: np.ndarray,
    ids: list[list[int]],
    layers: list[int],
    config: ExtractConfig,
    advance: Advance | None = None,
) -> ShardArrays:
    """Pool one shard: ``rows`` are its story indices in shard order, ``ids`` their token ids in the same order."""
    local = np.arange(len(rows))
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    means = np.empty((len(rows), len(layers), loaded.hidden_size), dtype=np.float32)
    counted = np.zeros(len(rows), dtype=np.int64)
    norms = np.empty((len(rows), len(layers)), dtype=np.float32)
    padded = 0
    batches = plan_batches(local, lengths, **config.batching())  # shard order is length order: same batches
    for batch in pool_batches(loaded, ids, batches, layers, config.skip_tokens, config.padding_side,
                              config.accumulate):  # fmt: skip
        means[batch.rows] = batch.means
        counted[batch.rows] = batch.counted
        norms[batch.rows] = batch.norms
        padded += batch.padded_tokens
        if advance is not None:
            advance(len(batch.rows), int(lengths[batch.rows].sum()))
    return ShardArrays(np.asarray(rows, dtype=np.int64), means, norms, counted, padded)


def write_shard(out: Path, index: int, shard: ShardArrays) -> Path:
    """Write a shard atomically: it exists under its name only when complete."""
    path = shard_path(out, index)
    partial = path.with_suffix(".partial")
    save_file(
        {"means": shard.means, "norms": shard.norms, "rows": shard.rows, "counted": shard.counted},
        str(partial),
        metadata={"padded_tokens": str(shard.padded_tokens)},
    )
    os.replace(partial, path)
    return path
