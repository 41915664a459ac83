"""Steered generation in left-padded batches: each row carries its own added vectors and steered spans.

Greedy decoding gives the same text for a row whether it is generated alone or in a batch (the steering
hooks never touch padding and count positions from the KV cache's length). Sampled text depends on the seed
and on which rows share a batch (one random stream per batch): rows are batched by seed, and
``batch_size=1`` makes every sampled row reproducible on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from emovec.errors import EmovecError
from emovec.extraction.batching import plan_batches
from emovec.extraction.engine import pad_batch
from emovec.models.loaded import LoadedModel
from emovec.progress import progress_bar
from emovec.steering.hooks import steering


@dataclass(frozen=True)
class Prompt:
    """A prompt formatted and tokenized for generation, with each token's character span in ``text``."""

    text: str
    formatted: str
    ids: list[int]
    spans: list[tuple[int, int]]  # per token: its characters in ``text`` ((0, 0) outside it)


def prepare_prompt(tokenizer, text: str, chat: bool = True) -> Prompt:
    """Format ``text`` as a user turn with the generation prompt (``chat``) or as raw text, and tokenize it."""
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            name = getattr(tokenizer, "name_or_path", "this model")
            raise EmovecError(f"{name}: the tokenizer has no chat template; steer raw prompts (no --chat)")
        formatted = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                  add_generation_prompt=True)  # fmt: skip
        start = formatted.find(text)
        encoded = tokenizer(formatted, add_special_tokens=False, return_offsets_mapping=True)
    else:
        formatted, start = text, 0
        encoded = tokenizer(formatted, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    spans = []
    for a, b in encoded["offset_mapping"]:
        if start < 0 or b <= start or a >= start + len(text) or a == b:
            spans.append((0, 0))
        else:
            spans.append((max(a, start) - start, min(b, start + len(text)) - start))
    return Prompt(text=text, formatted=formatted, ids=ids, spans=spans)


def span_mask(prompt: Prompt, ranges: list[tuple[int, int]]) -> np.ndarray:
    """[tokens] bool: the tokens of ``prompt`` that overlap any character range ``[start, end)`` of its text."""
    mask = np.zeros(len(prompt.ids), dtype=bool)
    for start, end in ranges:
        if not 0 <= start < end <= len(prompt.text):
            raise EmovecError(f"span {start}:{end} is outside the prompt's {len(prompt.text)} characters")
        mask |= np.array([a < end and b > start and a != b for a, b in prompt.spans], dtype=bool)
    return mask


@dataclass(frozen=True)
class Generation:
    """One generated reply: its text, new token ids and whether it ended with an end-of-sequence token."""

    text: str
    token_ids: list[int]
    finished: bool


def generate(
    model: LoadedModel,
    prompts: list[Prompt],
    additions: np.ndarray,
    layers: list[int],
    *,
    phase: str = "response",
    spans: list[np.ndarray | None] | None = None,
    max_new_tokens: int = 48,
    min_new_tokens: int = 0,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seeds: list[int] | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> list[Generation]:
    """Generate a reply per prompt with ``additions[i]`` [L, d] added at ``layers`` (``phase`` or ``spans[i]``)."""
    if not model.is_decoder:
        raise EmovecError(f"{model.name}: an encoder cannot generate text; steer a causal language model")
    n = len(prompts)
    seeds = seeds if seeds is not None else [0] * n
    spans = spans if spans is not None else [None] * n
    lengths = np.array([len(p.ids) for p in prompts])
    tokenizer = model.tokenizer
    eos = _eos_ids(model)
    results: list[Generation | None] = [None] * n
    by_seed = [np.flatnonzero(np.array(seeds) == seed) for seed in sorted(set(seeds))]
    batches = [b for rows in by_seed for b in plan_batches(rows, lengths, batch_size=batch_size)]
    with progress_bar("generating", total=n, unit="replies", enabled=progress) as advance:
        for rows in batches:
            input_ids, mask = pad_batch([prompts[r].ids for r in rows], model.pad_token_id, "left", model.device)
            width = input_ids.shape[1]
            token_mask = None
            if any(spans[r] is not None for r in rows):
                token_mask = np.zeros((len(rows), width), dtype=bool)
                for b, r in enumerate(rows):
                    if spans[r] is not None:
                        token_mask[b, width - len(prompts[r].ids):] = spans[r]
            sample = temperature > 0
            options = {"do_sample": sample, "max_new_tokens": max_new_tokens, "pad_token_id": model.pad_token_id}
            if min_new_tokens:
                options["min_new_tokens"] = min_new_tokens
            if sample:
                options.update(temperature=temperature, top_p=top_p)
            else:
                options.update(temperature=None, top_p=None, top_k=None)
            torch.manual_seed(int(seeds[rows[0]]))
            with steering(model, additions=additions[rows], layers=layers, phase=phase, token_mask=token_mask), \
                    torch.inference_mode():  # fmt: skip
                output = model.model.generate(input_ids=input_ids, attention_mask=mask, **options)
            for b, r in enumerate(rows):
                new = output[b, width:].tolist()
                cut = next((i for i, t in enumerate(new) if t in eos), None)
                kept = new if cut is None else new[:cut]
                text = tokenizer.decode(kept, skip_special_tokens=True)
                results[r] = Generation(text=text, token_ids=kept, finished=cut is not None)
            advance(len(rows), int(lengths[rows].sum()))
    return results  # type: ignore[return-value]


def _eos_ids(model: LoadedModel) -> set[int]:
    ids = getattr(model.model.generation_config, "eos_token_id", None)
    if ids is None:
        ids = model.tokenizer.eos_token_id
    ids = ids if isinstance(ids, (list, tuple)) else [ids]
    return {int(i) for i in ids if i is not None}
