"""Choices shared by several commands, as enums typer shows in --help, and option checks."""

from __future__ import annotations

import math
from enum import Enum
from typing import Annotated

import typer


def finite(value: float | None) -> float | None:
    """A typer callback refusing nan and inf, which click's ranges let through."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


def unit_fraction(value: float) -> float:
    """A typer callback for a fraction in (0, 1]."""
    if not (math.isfinite(value) and 0 < value <= 1):
        raise typer.BadParameter(f"{value} is not in (0, 1]")
    return value


class Padding(str, Enum):
    left = "left"
    right = "right"


class TextFormat(str, Enum):
    raw = "raw"
    chat = "chat"


class ChatRole(str, Enum):
    user = "user"
    assistant = "assistant"


class DType(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class Accumulate(str, Enum):
    auto = "auto"
    float64 = "float64"
    float32 = "float32"


class Weighting(str, Enum):
    token = "token"
    story = "story"


class ExportFormat(str, Enum):
    gguf = "gguf"


class Design(str, Enum):
    sampled = "sampled"
    full = "full"


class Backend(str, Enum):
    hf = "hf"
    vllm = "vllm"


RayFlag = Annotated[bool, typer.Option("--ray", help="Run on a Ray cluster (pip install 'emovec[ray]').")]
RayAddress = Annotated[str | None, typer.Option(help="With --ray: 'auto', HOST:PORT, or unset for a local cluster.")]
Workers = Annotated[
    int | None, typer.Option(min=1, help="With --ray: model copies at once (default: one per GPU, else per 4 CPUs).")
]
GpusPerWorker = Annotated[
    float | None, typer.Option(min=0, help="With --ray: GPUs per worker (default 1 if the cluster has GPUs).")
]


def ray_settings(ray: bool, address: str | None, workers: int | None, gpus_per_worker: float | None) -> dict | None:
    """The Ray settings the options give, or None without --ray (then the other Ray options are refused)."""
    given = {"--ray-address": address, "--workers": workers, "--gpus-per-worker": gpus_per_worker}
    unused = [flag for flag, value in given.items() if value is not None]
    if not ray:
        if unused:
            raise typer.BadParameter(f"{', '.join(unused)} need --ray")
        return None
    return {"address": address, "workers": workers, "gpus_per_worker": gpus_per_worker}
