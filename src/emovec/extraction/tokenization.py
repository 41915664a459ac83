"""Turning stories into token ids: raw text or the model's chat template, truncated and flagged.

``raw`` tokenizes the story as it is, with the tokenizer's special tokens (e.g. BOS). ``chat`` wraps the
story as a single chat turn (role ``user`` by default, ``assistant`` on request) with the tokenizer's chat
template, without a generation prompt; template tokens count as real tokens for the skip offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emovec.errors import EmovecError

TEXT_FORMATS = ("raw", "chat")
CHAT_ROLES = ("user", "assistant")


@dataclass(frozen=True)
class EncodedStories:
    """Token ids per story (already truncated), with real lengths and truncation flags."""

    ids: list[list[int]]
    truncated: np.ndarray  # [n] bool: story was longer than max_length

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(row) for row in self.ids], dtype=np.int64)


def format_texts(tokenizer, texts: list[str], text_format: str = "raw", chat_role: str = "user") -> list[str]:
    """Apply the text format; ``chat`` needs a tokenizer with a chat template."""
    if text_format not in TEXT_FORMATS:
        raise EmovecError(f"unknown text format {text_format!r}; use one of {', '.join(TEXT_FORMATS)}")
    if text_format == "raw":
        return list(texts)
    if chat_role not in CHAT_ROLES:
        raise EmovecError(f"unknown chat role {chat_role!r}; use one of {', '.join(CHAT_ROLES)}")
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "this model")
        raise EmovecError(f"{name}: the tokenizer has no chat template; use --text-format raw")
    try:
        return [
            tokenizer.apply_chat_template(
                [{"role": chat_role, "content": text}], tokenize=False, add_generation_prompt=False
            )
            for text in texts
        ]
    except Exception as err:  # jinja2 TemplateError and friends, raised by the template itself
        raise EmovecError(f"the chat template rejected a lone {chat_role} turn: {err}") from None


CHARS_PER_TOKEN_BOUND = 16  # a prefix of 16 characters per token holds the first max_length tokens of any text


def encode_stories(
    tokenizer, texts: list[str], *, text_format: str = "raw", chat_role: str = "user", max_length: int = 512
) -> EncodedStories:
    """Tokenize formatted stories; rows longer than ``max_length`` are truncated and flagged."""
    if max_length < 1:
        raise EmovecError(f"max length must be at least 1, got {max_length}")
    limit = CHARS_PER_TOKEN_BOUND * max_length + 64
    prefixes = [text[:limit] for text in texts]  # memory bounded by max_length, not by the text
    formatted = format_texts(tokenizer, prefixes, text_format, chat_role)
    special = text_format == "raw"  # chat templates already contain BOS and friends
    full = tokenizer(formatted, add_special_tokens=special, truncation=False, verbose=False)["input_ids"]
    for i, (text, row) in enumerate(zip(texts, full)):
        if len(text) > limit and len(row) <= max_length + 8:  # tokens longer than the bound: use the whole text
            whole = format_texts(tokenizer, [text], text_format, chat_role)
            full[i] = tokenizer(whole, add_special_tokens=special, truncation=False, verbose=False)["input_ids"][0]
            formatted[i] = whole[0]
    too_long = [i for i, row in enumerate(full) if len(row) > max_length]
    ids = [list(row) for row in full]
    if too_long:  # re-tokenize with truncation so that trailing special tokens (e.g. [SEP]) are kept
        cut = tokenizer(
            [formatted[i] for i in too_long],
            add_special_tokens=special,
            truncation=True,
            max_length=max_length,
        )["input_ids"]
        for i, row in zip(too_long, cut):
            ids[i] = list(row)
    truncated = np.zeros(len(ids), dtype=bool)
    truncated[too_long] = True
    return EncodedStories(ids=ids, truncated=truncated)
