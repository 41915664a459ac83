"""Self-rated norms: a chat model rates each emotion word's valence and arousal on a 1-7 scale.

Each rating is one user turn (the prompts below) rendered with the tokenizer's own chat template and its
generation prompt, followed by the fixed answer prefix ``Rating:``. The rating is the expected value of the
digit under the model's next-token distribution, renormalised over the seven digit tokens (no sampling);
``<dim>_digit_mass`` is the probability the digits got before renormalising (near 0: the model does not
answer with a digit). The prefix's final space is part of the prefill when the tokenizer splits ``Rating: 5``
as ``Rating: `` + ``5``, and not when it splits it as ``Rating:`` + `` 5``, so the model sees the same tokens
as in the written answer. Batches are left-padded, position ids count from each row's first real token, and
the logits are read at each row's last token.

The written CSV (``word, valence, arousal, *_digit_mass``) is a norm set: ``load_norms("csv:PATH",
scale=(1, 7))``, or ``--norms csv:PATH --norms-scale 1,7`` for ``emovec analyze``.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emovec.analysis.emotion_sets import normalize_word
from emovec.analysis.norms.loading import Norms, load_norms
from emovec.analysis.norms.matching import match_emotions
from emovec.cache import write_json_atomic
from emovec.errors import EmovecError, SettingError
from emovec.extraction.batching import plan_batches
from emovec.extraction.engine import pad_batch
from emovec.extraction.pooling import position_ids
from emovec.locks import exclusive_lock
from emovec.models.hooks import run_forward
from emovec.models.loaded import LoadedModel
from emovec.progress import progress_bar

VALENCE_PROMPT = (
    'How pleasant or unpleasant is the emotion described by the word "{word}"? Rate its valence on a scale '
    "from 1 to 7, where 1 = very unpleasant (negative), 4 = neutral and 7 = very pleasant (positive). "
    "Answer with a single digit from 1 to 7 and nothing else."
)
AROUSAL_PROMPT = (
    'How calm or excited is the emotion described by the word "{word}"? Rate its arousal on a scale '
    "from 1 to 7, where 1 = very calm (low energy), 4 = moderate and 7 = very excited (high energy). "
    "Answer with a single digit from 1 to 7 and nothing else."
)
PROMPTS = {"valence": VALENCE_PROMPT, "arousal": AROUSAL_PROMPT}
DIMENSIONS = tuple(PROMPTS)
ANSWER_PREFIX = "Rating:"
DIGITS = tuple(str(d) for d in range(1, 8))
SCALE = (1.0, 7.0)
METHOD = ("expected value of the digit under the next-token distribution after the answer prefix, renormalised "
          "over the tokens 1..7 (no sampling)")  # fmt: skip


@dataclass(frozen=True)
class AnswerFormat:
    """What is prefilled after the generation prompt, and the token id of each digit 1..7 that follows it."""

    prefill: str
    digit_ids: tuple[int, ...]
    digit_tokens: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class SelfRated:
    """Ratings (``table``: word, one column per dimension, ``<dim>_digit_mass``), settings and comparisons."""

    table: pd.DataFrame
    model: str
    settings: dict
    comparisons: list[dict] = field(default_factory=list)  # one per human norm set: per-dimension r, rho, n

    def save(self, out: str | Path) -> tuple[Path, Path]:
        """Write ``out`` (a norms CSV on the scale 1..7) and the JSON beside it; returns both paths."""
        out, meta = output_paths(out)
        missing = [d for d in ("valence", "arousal") if d not in self.table]
        if missing:
            raise EmovecError(f"a norms CSV needs valence and arousal; the ratings lack {', '.join(missing)}")
        with exclusive_lock(out):
            meta.unlink(missing_ok=True)  # the JSON is written last: present means the pair is complete
            _write_csv_atomic(self.table, out)
            write_json_atomic(meta, {"model": self.model, "csv": out.name, "n_words": len(self.table),
                                     **self.settings, "comparisons": self.comparisons})  # fmt: skip
        return out, meta


def output_paths(out: str | Path) -> tuple[Path, Path]:
    """``(rated.csv, rated.json)`` for ``--out rated.csv``; one line when ``out`` cannot be a CSV file."""
    out = Path(out).expanduser()
    if out.suffix.lower() != ".csv":
        raise SettingError("out", f"{out}: name the CSV file to write, e.g. rated.csv")
    if out.is_dir():
        raise SettingError("out", f"{out}: is a directory; name the CSV file to write")
    return out, out.with_suffix(".json")


def _write_csv_atomic(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            table.to_csv(stream, index=False, float_format="%.8g")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_chat_model(loaded: LoadedModel) -> None:
    """One line unless ``loaded`` is a decoder whose tokenizer has a chat template."""
    if not loaded.is_decoder:
        raise EmovecError(f"{loaded.name} is an encoder; self-rating needs a chat model that predicts the next token")
    if not getattr(loaded.tokenizer, "chat_template", None):
        raise EmovecError(f"{loaded.name}: the tokenizer has no chat template (a base model?); self-rating needs "
                          "a chat (instruction-tuned) model")  # fmt: skip


def render_prompt(tokenizer, prompt: str) -> str:
    """``prompt`` as one user turn in the tokenizer's chat template, with its generation prompt."""
    try:
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)  # fmt: skip
    except Exception as err:  # jinja errors from templates with their own rules
        name = getattr(tokenizer, "name_or_path", "this model")
        raise EmovecError(f"{name}: the chat template cannot render a user turn: {err}") from None


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])  # the template holds its special tokens


def answer_format(tokenizer, rendered: str, prefix: str = ANSWER_PREFIX) -> AnswerFormat:
    """The prefill after ``rendered`` (``prefix`` with or without its space) whose tokens, followed by one
    token per digit, are exactly how the tokenizer splits ``rendered + prefix + " " + digit``."""
    stem = prefix.rstrip()
    unknown = getattr(tokenizer, "unk_token_id", None)
    for prefill in (stem + " ", stem):  # "Rating: " + "5" (digits split from spaces), or "Rating:" + " 5"
        ids = _digit_ids(tokenizer, rendered, stem, prefill)
        if None not in ids and len(set(ids)) == len(DIGITS) and unknown not in ids:
            return AnswerFormat(prefill, tuple(ids), tuple(tokenizer.convert_ids_to_tokens(list(ids))))
    ids = _digit_ids(tokenizer, rendered, stem, stem + " ")
    bad = next((digit for digit, i in zip(DIGITS, ids) if i is None), None)
    what = f"{stem + ' ' + bad!r} does not end in one token {bad!r}" if bad else "digits share a token or are unknown"
    name = getattr(tokenizer, "name_or_path", "this tokenizer")
    raise EmovecError(f"{name}: the digits 1..7 are not single, distinct tokens after {stem!r} ({what}); "
                      "self-rating reads one digit token")  # fmt: skip


def _digit_ids(tokenizer, rendered: str, stem: str, prefill: str) -> list[int | None]:
    """Per digit, the one token that follows ``prefill``'s tokens in ``rendered + stem + " " + digit`` (or None)."""
    base = _encode(tokenizer, rendered + prefill)
    fulls = [_encode(tokenizer, f"{rendered}{stem} {digit}") for digit in DIGITS]
    return [full[-1] if len(full) == len(base) + 1 and full[: len(base)] == base else None for full in fulls]


def digit_probabilities(
    loaded: LoadedModel, ids: list[list[int]], digit_ids: Sequence[int], batch_size: int = 8, advance=None
) -> np.ndarray:
    """[n, 7] float64: the next-token probability (softmax over the whole vocabulary) of each digit after each
    prompt, read at the prompt's last token. Rows are length-sorted into left-padded batches."""
    takes_keep = "logits_to_keep" in _forward_parameters(loaded.model)
    digits = torch.as_tensor(list(digit_ids), dtype=torch.long)
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    out = np.zeros((len(ids), len(digit_ids)), dtype=np.float64)
    for rows in plan_batches(np.arange(len(ids)), lengths, batch_size=batch_size):
        input_ids, mask = pad_batch([ids[r] for r in rows], loaded.pad_token_id, "left", loaded.device)
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        if loaded.accepts_position_ids:
            inputs["position_ids"] = position_ids(mask)
        if takes_keep:
            inputs["logits_to_keep"] = 1
        result = run_forward(loaded, **inputs)
        logits = getattr(result, "logits", None)
        if logits is None:
            raise EmovecError(f"{loaded.name}: the model returns no next-token logits (no language-model head)")
        last = logits[:, -1].double()  # left padding: every row's last real token is the last column
        out[rows] = last.log_softmax(dim=-1)[:, digits.to(last.device)].exp().cpu().numpy()
        if advance is not None:
            advance(len(rows), int(lengths[rows].sum()))
    return out


def _forward_parameters(model) -> set[str]:
    return set(inspect.signature(model.forward).parameters)


def expected_ratings(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(expected digit on 1..7, digit mass) from [n, 7] digit probabilities."""
    mass = probabilities.sum(axis=1)
    if not (np.isfinite(mass).all() and (mass > 0).all()):
        raise EmovecError("the model gives the digits 1..7 no probability (or NaN) for some prompt")
    values = probabilities @ np.arange(1, len(DIGITS) + 1, dtype=np.float64) / mass
    return np.clip(values, *SCALE), mass


def _chat_model(model: LoadedModel | str | Path, device: str | None, dtype: str) -> LoadedModel:
    if not isinstance(model, LoadedModel):
        from emovec.models.loading import load_model

        model = load_model(model, device=device, dtype=dtype)
    check_chat_model(model)
    return model


def _check_inputs(words: Sequence[str], dimensions: Sequence[str], batch_size: int) -> tuple[list[str], list[str]]:
    if batch_size < 1:
        raise SettingError("batch_size", f"{batch_size}: needs at least 1")
    unknown = [d for d in dimensions if d not in PROMPTS]
    if unknown or not dimensions:
        raise SettingError("dimensions", f"{', '.join(unknown) or 'none'}: use some of {', '.join(PROMPTS)}")
    chosen = [normalize_word(w) for w in words]
    if not chosen or not all(chosen):
        raise EmovecError("no words to rate" if not chosen else "an empty word among the words to rate")
    if len(set(chosen)) != len(chosen):
        repeated = next(w for w in chosen if chosen.count(w) > 1)
        raise EmovecError(f"the word {repeated!r} is listed twice")
    return chosen, list(dict.fromkeys(dimensions))


def _rate(loaded: LoadedModel, words: list[str], dimensions: list[str], batch_size: int,
          progress: bool) -> tuple[pd.DataFrame, dict]:  # fmt: skip
    tokenizer = loaded.tokenizer
    rendered = [render_prompt(tokenizer, PROMPTS[dim].format(word=word)) for dim in dimensions for word in words]
    answer = answer_format(tokenizer, rendered[0])
    ids = [_encode(tokenizer, text + answer.prefill) for text in rendered]
    with progress_bar("rating", total=len(ids), unit="prompts", enabled=progress) as advance:
        values, mass = expected_ratings(digit_probabilities(loaded, ids, answer.digit_ids, batch_size, advance))
    n = len(words)
    columns = {"word": words}
    columns |= {dim: values[i * n : (i + 1) * n] for i, dim in enumerate(dimensions)}
    columns |= {f"{dim}_digit_mass": mass[i * n : (i + 1) * n] for i, dim in enumerate(dimensions)}
    info = {"prompts": {dim: PROMPTS[dim] for dim in dimensions}, "answer_prefill": answer.prefill,
            "digit_tokens": dict(zip(DIGITS, answer.digit_tokens)), "digit_ids": dict(zip(DIGITS, answer.digit_ids)),
            "example_prompt": rendered[0] + answer.prefill}  # fmt: skip
    return pd.DataFrame(columns), info


def rate_words(
    model: LoadedModel | str | Path,
    words: Sequence[str],
    *,
    dimensions: Sequence[str] = DIMENSIONS,
    batch_size: int = 8,
    device: str | None = None,
    dtype: str = "float32",
    progress: bool = True,
) -> pd.DataFrame:
    """Each word's rating on 1..7 per dimension (the expected digit) and the digits' probability mass.

    Columns: ``word`` (normalised), one per dimension, then ``<dim>_digit_mass``. ``model`` is a
    :class:`LoadedModel` or anything :func:`emovec.load_model` takes (``device``, ``dtype`` apply then).
    """
    chosen, dims = _check_inputs(words, dimensions, batch_size)
    loaded = _chat_model(model, device, dtype)
    return _rate(loaded, chosen, dims, batch_size, progress)[0]


def correlate(table: pd.DataFrame, norms: Norms) -> dict:
    """Pearson and Spearman correlation of the ratings with ``norms`` over the words both have, per dimension."""
    from scipy import stats

    matched = match_emotions(list(table["word"]), norms)
    rated = table.set_index("word").loc[matched.matched]
    result: dict = {"norms": norms.name, "source": norms.source, "version": norms.version, "n_shared": len(rated)}
    for dim in (d for d in DIMENSIONS if d in table and d in norms.dimensions):
        x, y = rated[dim].to_numpy(float), matched.values[dim].to_numpy(float)
        keep = np.isfinite(y)
        x, y = x[keep], y[keep]
        if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            result[dim] = {"n": int(len(x)), "pearson_r": None, "pearson_p": None, "spearman_rho": None,
                           "spearman_p": None}  # fmt: skip
            continue
        pearson, spearman = stats.pearsonr(x, y), stats.spearmanr(x, y)
        result[dim] = {"n": int(len(x)), "pearson_r": float(pearson.statistic), "pearson_p": float(pearson.pvalue),
                       "spearman_rho": float(spearman.statistic), "spearman_p": float(spearman.pvalue)}  # fmt: skip
    return result


def _comparison_norms(specs: Sequence[str], words: list[str], scale, cache_dir: Path | None) -> list[Norms]:
    """Each ``--compare`` set loaded, checked to share at least 3 words before any model runs."""
    chosen = []
    for spec in specs:
        try:
            norms = load_norms(spec, scale=scale if spec.partition(":")[0] == "csv" else None, cache_dir=cache_dir)
        except SettingError as err:
            raise SettingError("compare_scale", err.reason) from None
        except EmovecError as err:
            raise SettingError("compare", str(err)) from None
        shared = len(match_emotions(words, norms).matched)
        if shared < 3:
            raise SettingError("compare", f"{spec}: only {shared} of the {len(words)} words have ratings there; "
                                          "a correlation needs at least 3")  # fmt: skip
        chosen.append(norms)
    return chosen


def rate_norms(
    model: LoadedModel | str | Path,
    words: Sequence[str],
    *,
    compare: Sequence[str] = (),
    compare_scale: tuple[float, float] | None = None,
    batch_size: int = 8,
    device: str | None = None,
    dtype: str = "float32",
    progress: bool = True,
    cache_dir: Path | None = None,
) -> SelfRated:
    """Rate ``words`` (valence and arousal, 1..7) and correlate the ratings with each human norm set in
    ``compare`` (``NAME`` or ``NAME:PATH``; ``compare_scale`` is the scale of a ``csv:PATH`` set)."""
    chosen, dims = _check_inputs(words, DIMENSIONS, batch_size)
    human = _comparison_norms(compare, chosen, compare_scale, cache_dir)  # bad --compare fails before the model
    loaded = _chat_model(model, device, dtype)
    start = time.perf_counter()
    table, info = _rate(loaded, chosen, dims, batch_size, progress)
    settings = {"revision": loaded.revision, "scale": list(SCALE), "method": METHOD, **info, "batch_size": batch_size,
                "dtype": str(loaded.dtype).removeprefix("torch."), "device": str(loaded.device),
                "seconds": round(time.perf_counter() - start, 2),
                "digit_mass": {dim: {"mean": float(table[f"{dim}_digit_mass"].mean()),
                                     "min": float(table[f"{dim}_digit_mass"].min())} for dim in dims}}  # fmt: skip
    return SelfRated(table, loaded.name, settings, [correlate(table, norms) for norms in human])
