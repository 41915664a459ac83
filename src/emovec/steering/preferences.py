"""The preference test: which of two activities does the model choose, what do its emotion probes say about
each activity, and does steering on an activity's tokens move its rating?

Every ordered pair of activities is asked as a two-option question (a user turn in the chat format), the reply
prefilled up to the option letter (``PREFILL``); the preference is read from the logits of the two letters,
``P(A) = softmax(logit A, logit B)``. Both orders are asked and averaged (``P(i over j) = (P(A | i, j) +
P(B | j, i)) / 2``), so position bias cancels. Bradley-Terry on the Elo scale gives each activity a rating, with
bootstrap intervals over pairs. Per emotion: the Pearson correlation over activities between rating and the
emotion's probe score on the activity's text (mean over its tokens, centred on the activities' own mean).
Then half the activities (every other one, in file order) are steered: the emotion's vector at ``strength``
is added on that activity's tokens wherever it appears in a question; the change of their mean rating per
emotion is correlated, across emotions, with the probe-rating correlation (the Anthropic paper: r = 0.85).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import pandas as pd

from emovec.analysis.preferences import bootstrap_elo, bradley_terry
from emovec.errors import EmovecError
from emovec.models.loaded import LoadedModel
from emovec.progress import progress_bar
from emovec.steering.hooks import steering_layers
from emovec.steering.scoring import next_token_logprobs
from emovec.steering.strengths import added_vectors, check_steerable
from emovec.vectors.emotion_vectors import EmotionVectors

QUESTION = "Which would you rather do?\n(A) {a}\n(B) {b}\nAnswer with the letter of one option."
PREFILL = "I would rather do option ("


def bundled_activities(per_category: int | None = None) -> pd.DataFrame:
    """The 64 activities in 8 categories written for emovec (the first ``per_category`` of each)."""
    rows = json.loads(files("emovec.data").joinpath("steering/activities.json").read_text(encoding="utf-8"))
    table = pd.DataFrame(rows)
    if per_category is not None:
        table = table.groupby("category", sort=False).head(per_category).reset_index(drop=True)
    return table


@dataclass(frozen=True)
class Questions:
    """Every ordered pair as a prefilled question: token ids, the two letters' ids, and each option's tokens."""

    pairs: np.ndarray  # [Q, 2] activity indices (A, B)
    ids: list[list[int]]
    letters: list[int]
    option_tokens: list[tuple[np.ndarray, np.ndarray]]  # per question: bool masks of option A's and B's tokens


def build_questions(tokenizer, texts: list[str]) -> Questions:
    """Format and tokenize every ordered pair of ``texts``."""
    if not getattr(tokenizer, "chat_template", None):
        raise EmovecError("the preference test needs a chat model: the tokenizer has no chat template")
    letters = []
    probe = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False,
                                          add_generation_prompt=True) + PREFILL  # fmt: skip
    base = tokenizer(probe, add_special_tokens=False)["input_ids"]
    for letter in "AB":
        full = tokenizer(probe + letter, add_special_tokens=False)["input_ids"]
        if full[: len(base)] != base or len(full) != len(base) + 1:
            raise EmovecError(f"the tokenizer does not read option letter {letter!r} as one token after the prefill")
        letters.append(full[-1])
    pairs, ids, options = [], [], []
    for a in range(len(texts)):
        for b in range(len(texts)):
            if a == b:
                continue
            formatted = tokenizer.apply_chat_template(
                [{"role": "user", "content": QUESTION.format(a=texts[a], b=texts[b])}], tokenize=False,
                add_generation_prompt=True) + PREFILL  # fmt: skip
            encoded = tokenizer(formatted, add_special_tokens=False, return_offsets_mapping=True)
            spans = encoded["offset_mapping"]
            masks = []
            for label, text in (("(A) ", texts[a]), ("(B) ", texts[b])):
                start = formatted.find(label + text) + len(label)
                stop = start + len(text)
                masks.append(np.array([x < stop and y > start and x != y for x, y in spans], dtype=bool))
            pairs.append((a, b))
            ids.append(list(encoded["input_ids"]))
            options.append((masks[0], masks[1]))
    return Questions(np.array(pairs), ids, letters, options)


def pair_preferences(questions: Questions, logprobs: np.ndarray, n_items: int) -> tuple[np.ndarray, ...]:
    """Unordered pairs ``(i, j, P(i over j))`` from both orders, and the mean P(A) (position bias)."""
    p_a = np.exp(logprobs[:, 0] - np.logaddexp(logprobs[:, 0], logprobs[:, 1]))
    index = {(int(a), int(b)): k for k, (a, b) in enumerate(questions.pairs)}
    i, j, p = [], [], []
    for a in range(n_items):
        for b in range(a + 1, n_items):
            i.append(a)
            j.append(b)
            p.append((p_a[index[(a, b)]] + (1 - p_a[index[(b, a)]])) / 2)
    return np.array(i), np.array(j), np.array(p), float(p_a.mean())


@dataclass(frozen=True)
class PreferenceResult:
    activities: pd.DataFrame  # id, category, text, steered, elo, elo_low, elo_high, score_<emotion> ...
    emotions: pd.DataFrame  # emotion, probe_elo_r, elo_change_steered, elo_change_unsteered
    position_bias: float
    summary: dict


def preference_test(
    model: LoadedModel, vectors: EmotionVectors, activities: pd.DataFrame | None = None,
    emotions: list[str] | None = None, *, strength: float = 0.5, layers: str | list[int] | None = None,
    bootstrap: int = 200, seed: int = 0, batch_size: int = 16, progress: bool = True,
) -> PreferenceResult:  # fmt: skip
    """Ratings of ``activities`` (default: bundled), probe-rating correlations and steered rating changes."""
    from emovec.probing.probe import check_same_model, probe

    check_same_model(vectors, model)
    table = (activities if activities is not None else bundled_activities()).reset_index(drop=True).copy()
    if len(table) < 4:
        raise EmovecError(f"the preference test needs at least 4 activities, got {len(table)}")
    emotions = list(emotions or vectors.emotions)
    chosen = steering_layers(vectors, layers, model.n_blocks)
    check_steerable(vectors, emotions, chosen)
    n = len(table)
    texts = table["text"].tolist()
    table["steered"] = np.arange(n) % 2 == 0  # every other activity (the bundled ones are grouped by category)
    questions = build_questions(model.tokenizer, texts)
    steered_items = table["steered"].to_numpy()
    touched = [k for k, (a, b) in enumerate(questions.pairs) if steered_items[a] or steered_items[b]]
    masks = [questions.option_tokens[k][0] * steered_items[questions.pairs[k][0]]
             | questions.option_tokens[k][1] * steered_items[questions.pairs[k][1]] for k in touched]  # fmt: skip
    total = len(questions.ids) + len(emotions) * len(touched)
    with progress_bar("preference test", total=total, unit="questions", enabled=progress) as advance:
        base = next_token_logprobs(model, questions.ids, questions.letters, batch_size=batch_size, advance=advance)
        i, j, p, bias = pair_preferences(questions, base, n)
        elo = bradley_terry(p, i, j, n)
        spread = bootstrap_elo(p, i, j, n, bootstrap, seed) if bootstrap else None
        rows = []
        for emotion in emotions:
            added = added_vectors(vectors, {emotion: strength}, chosen)
            steered = base.copy()
            steered[touched] = next_token_logprobs(
                model, [questions.ids[k] for k in touched], questions.letters, layers=chosen,
                additions=np.broadcast_to(added, (len(touched), *added.shape)), token_masks=masks,
                batch_size=batch_size, advance=advance)  # fmt: skip
            si, sj, sp, _ = pair_preferences(questions, steered, n)
            change = bradley_terry(sp, si, sj, n) - elo
            rows.append({"emotion": emotion, "elo_change_steered": float(change[steered_items].mean()),
                         "elo_change_unsteered": float(change[~steered_items].mean())})  # fmt: skip
    table["elo"] = elo
    if spread is not None:
        table["elo_low"], table["elo_high"] = np.percentile(spread, [2.5, 97.5], axis=0)
    read_layer = max(chosen)
    scores = probe(model, vectors.select(emotions), texts, layers=[read_layer], positions="mean",
                   reference="texts", progress=False).scores[read_layer]  # fmt: skip
    for e, emotion in enumerate(emotions):
        table[f"score_{emotion}"] = scores[:, e]
    by_emotion = pd.DataFrame(rows)
    by_emotion.insert(1, "probe_elo_r", [float(np.corrcoef(scores[:, e], elo)[0, 1]) for e in range(len(emotions))])
    r = float(np.corrcoef(by_emotion["probe_elo_r"], by_emotion["elo_change_steered"])[0, 1]) if len(
        emotions) > 2 else float("nan")  # fmt: skip
    summary = {"model": model.name, "activities": n, "questions": len(questions.ids), "emotions": len(emotions),
               "strength": strength, "layers": chosen, "probe_layer": read_layer, "position_bias_p_a": bias,
               "r_change_vs_probe_elo": r, "bootstrap": bootstrap,
               "elo_by_category": table.groupby("category")["elo"].mean().round(1).to_dict()
               if "category" in table else {}}  # fmt: skip
    return PreferenceResult(table, by_emotion, bias, summary)
