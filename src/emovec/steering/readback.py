"""What the unsteered model reads off a prompt and its reply: centred probe scores over the reply's tokens,
and the reply's perplexity.

The prompt and reply are rendered as one user turn and one assistant turn with the chat template (or
concatenated for raw prompts); the reply's tokens are those whose characters lie inside the reply text, so
the template's own tokens are left out. Scores are the probing scores (``emovec.probe``) of the mean
activation over those tokens, centred on the vectors' grand mean; perplexity is ``exp`` of the mean
negative log-likelihood of the reply's tokens given everything before them.
"""

from __future__ import annotations

import numpy as np
import torch

from emovec.errors import EmovecError
from emovec.extraction.batching import plan_batches
from emovec.extraction.engine import pad_batch
from emovec.extraction.pooling import position_ids
from emovec.models.loaded import LoadedModel
from emovec.probing.engine import score_texts
from emovec.probing.probe import check_same_model, reference_means
from emovec.probing.texts import ProbeTexts
from emovec.vectors.emotion_vectors import EmotionVectors


def transcripts(tokenizer, prompts: list[str], replies: list[str], chat: bool = True) -> ProbeTexts:
    """Tokenized prompt + reply pairs; ``special`` marks every token outside the reply (left out of means)."""
    ids, formatted, tokens, pieces, offsets, outside = [], [], [], [], [], []
    for prompt, reply in zip(prompts, replies):
        reply = reply.strip()
        if chat:
            text = tokenizer.apply_chat_template([{"role": "user", "content": prompt},
                                                  {"role": "assistant", "content": reply}], tokenize=False)  # fmt: skip
        else:
            text = prompt + (" " if prompt and not prompt.endswith((" ", "\n")) else "") + reply
        start = text.rfind(reply) if reply else len(text)
        if start < 0:
            raise EmovecError("the chat template changed the reply text; cannot find its tokens")
        encoded = tokenizer(text, add_special_tokens=not chat, return_offsets_mapping=True)
        row = list(encoded["input_ids"])
        spans = [(int(a), int(b)) for a, b in encoded["offset_mapping"]]
        inside = np.array([b > start and a < start + len(reply) and a != b for a, b in spans], dtype=bool)
        ids.append(row)
        formatted.append(text)
        tokens.append(tokenizer.convert_ids_to_tokens(row))
        pieces.append([tokenizer.decode([t]) for t in row])
        offsets.append(spans)
        outside.append(~inside)
    return ProbeTexts(ids=ids, formatted=formatted, tokens=tokens, pieces=pieces, offsets=offsets, special=outside,
                      truncated=np.zeros(len(ids), dtype=bool))  # fmt: skip


def reply_scores(model: LoadedModel, vectors: EmotionVectors, texts: ProbeTexts, layers: list[int],
                 batch_size: int = 8) -> dict[int, np.ndarray]:  # fmt: skip
    """Cosine scores [n, E] per layer of the mean activation over each reply's tokens (NaN for empty replies)."""
    check_same_model(vectors, model)
    slots = [vectors.layers.index(k) for k in layers]
    v = vectors.vectors[:, slots].astype(np.float64)
    units = (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)
    mu = reference_means(vectors, None, layers, model)
    raw = score_texts(model, texts, layers, mu, units, "mean", batch_size, "right")
    empty = np.array([not (~s).any() for s in texts.special])
    out = {}
    for k, layer in enumerate(layers):
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = raw.dots[k] / raw.norms[k][:, None]
        scores[empty] = np.nan
        out[layer] = scores.astype(np.float32)
    return out


def reply_perplexity(model: LoadedModel, texts: ProbeTexts, batch_size: int = 8) -> np.ndarray:
    """Perplexity [n] of each reply's tokens under the (unsteered) model; NaN when a reply has no token."""
    out = np.full(len(texts.ids), np.nan)
    lengths = texts.lengths
    for rows in plan_batches(np.arange(len(texts.ids)), lengths, batch_size=batch_size):
        input_ids, mask = pad_batch([texts.ids[r] for r in rows], model.pad_token_id, "right", model.device)
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        if model.accepts_position_ids:
            inputs["position_ids"] = position_ids(mask)
        with torch.inference_mode():
            logits = model.model(**inputs, use_cache=False).logits.float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        picked = logprobs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        for b, r in enumerate(rows):
            inside = np.flatnonzero(~texts.special[r])
            inside = inside[inside >= 1]  # the first token has no prediction
            if len(inside):
                out[r] = float(np.exp(-picked[b, inside - 1].cpu().numpy().astype(np.float64).mean()))
    return out
