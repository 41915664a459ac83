"""Choices shared by several commands, as enums typer shows in --help."""

from __future__ import annotations

from enum import Enum


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
