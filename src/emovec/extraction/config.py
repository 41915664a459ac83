"""Extraction settings, validated once, shared by the Python API, the CLI and the manifest."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from emovec.errors import EmovecError, SettingError
from emovec.models.layers import check_layer_spec

DEFAULT_BATCH_SIZE = 8
SHARD_BYTES = 256 * 1024 * 1024  # target size of one shard of pooled means
MAX_SHARD_STORIES = 1024  # and at most this many stories: a kill loses at most one shard, workers share the rest


class ExtractConfig(BaseModel):
    """Everything that decides what an extraction computes, plus how it runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layers: str = "all"
    skip_tokens: int = Field(50, ge=0)
    max_length: int = Field(512, ge=1)
    batch_size: int | None = Field(None, ge=1)
    max_batch_tokens: int | None = Field(None, ge=1)
    padding_side: Literal["left", "right"] = "right"
    text_format: Literal["raw", "chat"] = "raw"
    chat_role: Literal["user", "assistant"] = "user"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    shard_size: int | None = Field(None, ge=1)
    accumulate: Literal["auto", "float64", "float32"] = "auto"  # auto: float64 on CPU, float32 on accelerators

    @model_validator(mode="after")
    def _one_batching_rule(self) -> ExtractConfig:
        if self.batch_size is not None and self.max_batch_tokens is not None:
            raise ValueError("give either batch_size or max_batch_tokens, not both")
        return self

    def batching(self) -> dict:
        """Keyword arguments for :func:`emovec.batching.plan_batches`."""
        if self.max_batch_tokens is not None:
            return {"max_batch_tokens": self.max_batch_tokens}
        return {"batch_size": self.batch_size or DEFAULT_BATCH_SIZE}

    def result_defining(self) -> dict:
        """Settings that change the stored numbers (batching, padding side and accumulation change only rounding)."""
        return self.model_dump(exclude={"batch_size", "max_batch_tokens", "padding_side", "accumulate"})


def make_config(**settings) -> ExtractConfig:
    """Build an :class:`ExtractConfig`, turning validation errors into one line."""
    try:
        config = ExtractConfig(**settings)
    except ValidationError as err:
        first = err.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in first["loc"])
        raise (SettingError(where, message) if where else EmovecError(message)) from None
    check_layer_spec(config.layers)
    return config


def auto_shard_size(n_layers: int, hidden_size: int) -> int:
    """Stories per shard: one shard of float32 means is about 256 MiB, and holds at most 1024 stories."""
    return max(1, min(MAX_SHARD_STORIES, SHARD_BYTES // max(1, n_layers * hidden_size * 4)))


class RaySettings(BaseModel):
    """Where and how wide a Ray run goes (CLI ``--ray``; study ``[settings] ray = {...}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str | None = None  # None: join a running ray.init() or start a local cluster; "auto"; "HOST:PORT"
    workers: int | None = Field(None, ge=1)  # default: one per gpus_per_worker GPUs, else one per 4 CPUs
    gpus_per_worker: float | None = Field(None, ge=0)  # default: 1 when the cluster has GPUs, else 0
