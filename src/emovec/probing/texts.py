"""Texts to probe, formatted and tokenized, with each token's string, character offsets and read positions.

``reply-start`` is the last token of the chat template's generation prompt: the text is one user turn,
rendered with ``add_generation_prompt=True``, and the read position is the last token of that rendering.
The generation prompt itself comes from the tokenizer's template (the part that ``add_generation_prompt``
appends), never from a hard-coded string; a template without one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emovec.errors import EmovecError
from emovec.extraction.tokenization import format_texts

POSITIONS = ("tokens", "mean", "last", "reply-start")


@dataclass(frozen=True)
class ProbeTexts:
    """Tokenized texts: ids per text, what was tokenized, token strings and character spans in it."""

    ids: list[list[int]]
    formatted: list[str]
    tokens: list[list[str]]
    pieces: list[list[str]]  # each token decoded on its own, for display
    offsets: list[list[tuple[int, int]]]
    special: list[np.ndarray]  # [T_i] bool: the token is one of the tokenizer's special tokens
    truncated: np.ndarray  # [n] bool

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(row) for row in self.ids], dtype=np.int64)


def generation_prompt(tokenizer, role: str = "user") -> str:
    """What the chat template appends for ``add_generation_prompt=True`` after a ``role`` turn."""
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "this model")
        raise EmovecError(f"{name}: the tokenizer has no chat template, so there is no reply-start position")
    turn = [{"role": role, "content": "x"}]
    without = tokenizer.apply_chat_template(turn, tokenize=False, add_generation_prompt=False)
    with_prompt = tokenizer.apply_chat_template(turn, tokenize=False, add_generation_prompt=True)
    if not with_prompt.startswith(without) or len(with_prompt) == len(without):
        name = getattr(tokenizer, "name_or_path", "this model")
        raise EmovecError(f"{name}: the chat template adds no generation prompt after a {role} turn, so there is "
                          "no reply-start position; use --positions last")  # fmt: skip
    return with_prompt[len(without):]


def prepare_texts(
    tokenizer, texts: list[str], *, text_format: str = "raw", chat_role: str = "user", positions: str = "tokens",
    max_length: int = 512,
) -> ProbeTexts:  # fmt: skip
    """Format (raw, chat, or chat with the generation prompt for ``reply-start``) and tokenize ``texts``."""
    if positions not in POSITIONS:
        raise EmovecError(f"--positions {positions!r}: use one of {', '.join(POSITIONS)}")
    if positions == "reply-start":
        generation_prompt(tokenizer, chat_role)
        formatted = [tokenizer.apply_chat_template([{"role": chat_role, "content": t}], tokenize=False,
                                                   add_generation_prompt=True) for t in texts]  # fmt: skip
        special = False
    else:
        formatted = format_texts(tokenizer, texts, text_format, chat_role)
        special = text_format == "raw"
    encoded = tokenizer(formatted, add_special_tokens=special, truncation=False, verbose=False,
                        return_offsets_mapping=getattr(tokenizer, "is_fast", False))  # fmt: skip
    specials = set(getattr(tokenizer, "all_special_ids", []) or [])
    ids, tokens, pieces, offsets, flags, truncated = [], [], [], [], [], []
    for i, row in enumerate(encoded["input_ids"]):
        row = list(row)
        spans = list(encoded["offset_mapping"][i]) if "offset_mapping" in encoded else [(0, 0)] * len(row)
        if len(row) > max_length:
            if positions == "reply-start":
                raise EmovecError(f"text {i + 1}: {len(row)} tokens with the chat template, more than --max-length "
                                  f"{max_length}; the reply-start position would be cut off")  # fmt: skip
            row, spans = row[:max_length], spans[:max_length]
        truncated.append(len(row) < len(encoded["input_ids"][i]))
        ids.append(row)
        tokens.append(tokenizer.convert_ids_to_tokens(row))
        pieces.append([tokenizer.decode([t]) for t in row])
        offsets.append([(int(a), int(b)) for a, b in spans])
        flags.append(np.array([t in specials for t in row], dtype=bool))
    return ProbeTexts(ids=ids, formatted=formatted, tokens=tokens, pieces=pieces, offsets=offsets, special=flags,
                      truncated=np.array(truncated, dtype=bool))  # fmt: skip
