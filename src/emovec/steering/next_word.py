"""The next-word test: does steering toward an emotion raise the probability that its own word comes next?

For stems that end where an emotion word would come ("He feels", bundled in ``data/steering/stems.json``), the
log-probability of each emotion word (``" " + word``, all its tokens) is computed without steering and with each
emotion steered (every token of the stem and the word, at the given strength and layers). ``change[e, w]`` is the
mean over stems of the steered minus the unsteered log-probability of word ``w`` when steering ``e``; the
diagonal (matching words) against the rest (non-matching) is the test, with a permutation p-value (the
words' order shuffled against the emotions').
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

import numpy as np

from emovec.errors import EmovecError
from emovec.models.loaded import LoadedModel
from emovec.progress import progress_bar
from emovec.steering.hooks import steering_layers
from emovec.steering.scoring import continuation_logprobs
from emovec.steering.strengths import added_vectors, check_steerable
from emovec.vectors.emotion_vectors import EmotionVectors


def bundled_stems() -> list[str]:
    """The 24 sentence stems written for emovec."""
    return json.loads(files("emovec.data").joinpath("steering/stems.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class NextWordResult:
    """``base`` [stems, words] log-probabilities; ``change`` [emotions, words] mean steered minus base."""

    emotions: list[str]
    stems: list[str]
    base: np.ndarray
    change: np.ndarray
    matching: float
    non_matching: float
    p_perm: float
    settings: dict


def next_word_test(
    model: LoadedModel, vectors: EmotionVectors, emotions: list[str] | None = None, stems: list[str] | None = None,
    *, strength: float = 0.1, layers: str | list[int] | None = None, permutations: int = 1000, seed: int = 0,
    batch_size: int = 16, progress: bool = True,
) -> NextWordResult:  # fmt: skip
    """Run the test for ``emotions`` (default: all of the vectors') on ``stems`` (default: bundled)."""
    from emovec.probing.probe import check_same_model

    check_same_model(vectors, model)
    emotions = list(emotions or vectors.emotions)
    stems = list(stems or bundled_stems())
    if len(emotions) < 2:
        raise EmovecError("the next-word test needs at least two emotions")
    chosen = steering_layers(vectors, layers, model.n_blocks)
    check_steerable(vectors, emotions, chosen)
    tok = model.tokenizer
    stem_ids = [tok(s)["input_ids"] for s in stems]
    word_ids = []
    for word in emotions:
        full = tok(stems[0] + " " + word)["input_ids"]
        if full[: len(stem_ids[0])] != stem_ids[0]:
            raise EmovecError(f"the tokenizer merges {word!r} into the stem's last token; cannot score it")
        word_ids.append(tok(" " + word, add_special_tokens=False)["input_ids"])
    pairs = [(s, w) for s in range(len(stems)) for w in range(len(emotions))]
    prefixes = [stem_ids[s] for s, _ in pairs]
    continuations = [word_ids[w] for _, w in pairs]
    total = len(pairs) * (len(emotions) + 1)
    with progress_bar("next-word test", total=total, unit="rows", enabled=progress) as advance:
        base = continuation_logprobs(model, prefixes, continuations, batch_size=batch_size, advance=advance)
        change = np.zeros((len(emotions), len(emotions)))
        for e, emotion in enumerate(emotions):
            added = added_vectors(vectors, {emotion: strength}, chosen)
            steered = continuation_logprobs(model, prefixes, continuations, layers=chosen, batch_size=batch_size,
                                            additions=np.broadcast_to(added, (len(pairs), *added.shape)),
                                            advance=advance)  # fmt: skip
            change[e] = (steered - base).reshape(len(stems), len(emotions)).mean(axis=0)
    diagonal = np.eye(len(emotions), dtype=bool)
    matching, non_matching = float(change[diagonal].mean()), float(change[~diagonal].mean())
    observed = matching - non_matching
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(permutations):
        order = rng.permutation(len(emotions))
        shuffled = change[:, order]
        null.append(shuffled[diagonal].mean() - shuffled[~diagonal].mean())
    p = (1 + int((np.array(null) >= observed).sum())) / (1 + permutations) if permutations else float("nan")
    settings = {"model": model.name, "strength": strength, "layers": chosen, "stems": len(stems),
                "phase": "all (stem and word tokens)", "permutations": permutations}  # fmt: skip
    return NextWordResult(emotions, stems, base.reshape(len(stems), len(emotions)), change, matching,
                          non_matching, float(p), settings)  # fmt: skip
