"""Choices shared by several commands, as enums typer shows in --help, and option checks."""

from __future__ import annotations

import math
from enum import Enum

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
