"""Steered generations over emotions x strengths x prompts x seeds, with a random-direction control, read back
by the unsteered model (probe scores over the reply, perplexity) and checked for repetition.

Conditions (``plan_conditions``): one strength spec per emotion, each a single number, steers all of them at
once (one condition); one spec (a number, a list or a range) sweeps each emotion on its own over its values;
one spec per emotion sweeps each over its own values. Every non-zero strength of a single-emotion sweep gets a
control: a random direction per layer with the same added norm (``condition = "random"``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from emovec.errors import SettingError
from emovec.models.loaded import LoadedModel
from emovec.progress import progress_bar
from emovec.steering.generation import generate, prepare_prompt
from emovec.steering.hooks import steering_layers
from emovec.steering.readback import reply_perplexity, reply_scores, transcripts
from emovec.steering.strengths import added_vectors, check_steerable, parse_strengths, random_like, warn_if_large
from emovec.steering.text_stats import distinct_n, repetition_rate
from emovec.vectors.emotion_vectors import EmotionVectors

CONTROL = "random"


@dataclass(frozen=True)
class Condition:
    """What one row steers: ``strengths`` {emotion: s}, or a random direction of the same norm (``control``)."""

    label: str
    strengths: dict[str, float] = field(default_factory=dict)
    strength: float = 0.0  # the swept value
    control: bool = False


def plan_conditions(emotions: list[str], strengths: list[str], control: bool = True) -> list[Condition]:
    """The conditions for ``--emotion`` / ``--strength`` options (see the module docstring)."""
    if not emotions:
        raise SettingError("emotion", "name at least one emotion to steer")
    values = [parse_strengths(s) for s in strengths]
    if not values:
        raise SettingError("strength", "give a strength, e.g. 0.1 or a sweep -0.2:0.2:0.05")
    if len(emotions) > 1 and len(values) == len(emotions) and all(len(v) == 1 for v in values):
        mix = {e: v[0] for e, v in zip(emotions, values)}
        label = "+".join(f"{e}{s:+g}" for e, s in mix.items())
        return [Condition(label, mix, strength=float("nan"))]
    if len(values) == 1:
        values = values * len(emotions)
    elif len(values) != len(emotions):
        raise SettingError("strength", f"{len(values)} strengths for {len(emotions)} emotions: give one strength "
                                       "(or sweep) for all, or one per emotion")  # fmt: skip
    out = [Condition(e, {e: s}, strength=s) for e, vs in zip(emotions, values) for s in vs]
    if control:
        swept = sorted({s for vs in values for s in vs if s != 0})
        out += [Condition(CONTROL, {emotions[0]: s}, strength=s, control=True) for s in swept]
    return out


def run_sweep(
    model: LoadedModel, vectors: EmotionVectors, prompts: list[str], conditions: list[Condition], *,
    layers: str | list[int] | None = None, phase: str = "response", chat: bool = True, max_new_tokens: int = 48,
    temperature: float = 0.0, top_p: float = 1.0, seeds: list[int] | None = None, readback: bool = True,
    readback_layers: list[int] | None = None, batch_size: int = 8, progress: bool = True,
) -> tuple[pd.DataFrame, dict]:  # fmt: skip
    """One row per (prompt, condition, seed): the text, read-back scores, perplexity, distinct-2, repetition."""
    from emovec.probing.probe import check_same_model

    check_same_model(vectors, model)
    chosen = steering_layers(vectors, layers, model.n_blocks)
    emotions = sorted({e for c in conditions if not c.control for e in c.strengths})
    check_steerable(vectors, emotions, chosen)
    seeds = seeds or [0]
    prepared = [prepare_prompt(model.tokenizer, p, chat) for p in prompts]
    warnings_seen: list[str] = []
    rows, adds, unique, where = [], [], {}, []
    for c_index, condition in enumerate(conditions):
        added = added_vectors(vectors, condition.strengths, chosen)
        if condition.control:
            added = random_like(added, seed=10_000 + c_index)
        message = warn_if_large(vectors, added, chosen)
        if message and message not in warnings_seen:
            warnings_seen.append(message)
        for p_index, prompt in enumerate(prompts):
            for seed in seeds:
                key = (p_index, seed, hashlib.sha1(np.ascontiguousarray(added).tobytes()).hexdigest())
                if key not in unique:  # strength 0 of every emotion is one generation
                    unique[key] = len(adds)
                    adds.append((p_index, seed, added))
                where.append(unique[key])
                rows.append({"prompt_id": p_index + 1, "prompt": prompt, "condition": condition.label,
                             "strength": condition.strength, "seed": seed, "control": condition.control})  # fmt: skip
    generations = generate(model, [prepared[p] for p, _, _ in adds], np.stack([a for _, _, a in adds]), chosen,
                           phase=phase, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                           seeds=[s for _, s, _ in adds], batch_size=batch_size, progress=progress)  # fmt: skip
    table = pd.DataFrame(rows)
    table["text"] = [generations[i].text for i in where]
    table["n_tokens"] = [len(generations[i].token_ids) for i in where]
    table["finished"] = [generations[i].finished for i in where]
    table["distinct_2"] = [distinct_n(t, 2) for t in table["text"]]
    table["repetition"] = [repetition_rate(t, 3) for t in table["text"]]
    read_layers = readback_layers or chosen
    if readback:
        texts = transcripts(model.tokenizer, [prompts[p] for p, _, _ in adds], [g.text for g in generations], chat)
        with progress_bar("reading back", total=2, unit="passes", enabled=progress) as advance:
            scores = reply_scores(model, vectors.select(emotions), texts, read_layers, batch_size)
            advance(1, 0)
            perplexity = reply_perplexity(model, texts, batch_size)
            advance(1, 0)
        table["perplexity"] = perplexity[where]
        last = max(read_layers)
        for j, emotion in enumerate(emotions):
            table[f"score_{emotion}"] = scores[last][where, j]
        table["readback"] = [row.get(f"score_{row['condition']}", np.nan) for _, row in table.iterrows()]
        table["coherent"] = coherent(table)
    settings = {"model": model.name, "vectors_model": vectors.metadata.get("model"), "layers": chosen,
                "phase": phase, "chat": chat, "max_new_tokens": max_new_tokens, "temperature": temperature,
                "top_p": top_p, "seeds": seeds, "emotions": emotions, "readback_layer": max(read_layers),
                "residual_norm": {int(k): float(vectors.residual_norm[vectors.layers.index(k)]) for k in chosen},
                "warnings": warnings_seen, "generations": len(adds),
                "incoherent_from": incoherence_onsets(table) if readback else None}  # fmt: skip
    return table, settings


PERPLEXITY_RATIO = 8.0  # a reply is incoherent above 8x its prompt's unsteered (greedy) perplexity
MAX_REPETITION = 0.3  # or when more than 30% of its word trigrams repeat


def coherent(table: pd.DataFrame) -> pd.Series:
    """Per row: perplexity within ``PERPLEXITY_RATIO`` x the prompt's unsteered reply (strength 0; else its
    lowest) and at most ``MAX_REPETITION`` repeated trigrams."""
    zero = table[(table["strength"] == 0) & ~table["control"]]
    base = (zero if len(zero) else table).groupby("prompt_id")["perplexity"].min()
    limit = table["prompt_id"].map(base) * PERPLEXITY_RATIO
    return (table["perplexity"] <= limit) & ~(table["repetition"] > MAX_REPETITION)


def incoherence_onsets(table: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Per emotion: the smallest positive and negative strength at which most replies are incoherent."""
    out = {}
    for emotion, rows in table[~table["control"]].groupby("condition"):
        share = rows.groupby("strength")["coherent"].mean()
        up = [x for x in share.index if x > 0 and share[x] < 0.5]
        down = [x for x in share.index if x < 0 and share[x] < 0.5]
        out[str(emotion)] = {"positive": float(min(up)) if up else None, "negative": float(max(down)) if down else None}
    return out


def bundled_prompts() -> list[str]:
    """The neutral prompts written for emovec's sweeps and demo (``data/steering/prompts.json``)."""
    import json
    from importlib.resources import files

    return json.loads(files("emovec.data").joinpath("steering/prompts.json").read_text(encoding="utf-8"))


def read_prompts(path, column: str = "prompt") -> list[str]:
    """Prompts from a .txt (one per non-empty line) or a .jsonl/.csv column."""
    from pathlib import Path

    from emovec.errors import EmovecError
    from emovec.probing.inputs import read_table

    path = Path(path)
    if path.suffix == ".txt" and path.is_file():
        try:
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as err:
            raise EmovecError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        if not lines:
            raise EmovecError(f"{path}: the file is empty")
        return lines
    return read_table(path, column, "--prompt-column")["text"].tolist()
