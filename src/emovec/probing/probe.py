"""``probe``: centred scores of emotion vectors on any text, per token or per text, at chosen layers.

A score at layer ``k`` for emotion ``e`` is, with ``h`` the residual stream (the same layer convention as
extraction), ``mu_k`` the reference mean and ``v_e`` the emotion vector::

    projection = (h - mu_k) . v_e / |v_e|          cosine = projection / |h - mu_k|

``mu_k`` defaults to (``reference=None`` or ``"grand_mean"``) the vectors' ``grand_mean`` (the mean over
emotions of the extraction corpus's emotion means); ``reference`` takes an activations directory instead (e.g.
a neutral corpus: the mean of its pooled story means), or ``"texts"``: the mean of the probed texts' own reads
at the same position (one read per text), which removes the offset between story tokens and, say, the reply-
start token. Centring is what keeps a few "hub" emotions from winning every text: uncentred, every activation
shares the large common component that all emotion means carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emovec.errors import EmovecError, SettingError
from emovec.models.layers import parse_layer_spec
from emovec.models.loaded import LoadedModel
from emovec.probing.engine import score_texts
from emovec.probing.texts import POSITIONS, prepare_texts
from emovec.progress import progress_bar
from emovec.vectors.emotion_vectors import EmotionVectors, load_vectors

SCORES = ("cosine", "projection")


@dataclass(repr=False)
class ProbeResult:
    """Scores per layer: ``scores[layer]`` is a list of [T_i, E] arrays (``tokens``) or one [n, E] array."""

    ids: list[str]
    texts: list[str]
    formatted: list[str]
    tokens: list[list[str]]
    pieces: list[list[str]]
    offsets: list[list[tuple[int, int]]]
    layers: list[int]
    emotions: list[str]
    positions: str
    score: str
    scores: dict[int, object]
    settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"ProbeResult({len(self.ids)} texts; {len(self.emotions)} emotions; layers {self.layers}; "
                f"{self.positions}, {self.score})")  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        """One row per (text, token, layer) for ``tokens``, else per (text, layer); one column per emotion."""
        frames = []
        for layer in self.layers:
            values = self.scores[layer]
            if self.positions == "tokens":
                table = pd.DataFrame(np.concatenate(values) if values else np.zeros((0, len(self.emotions))),
                                     columns=self.emotions)  # fmt: skip
                meta = pd.DataFrame({
                    "text_id": [i for i, row in zip(self.ids, self.tokens) for _ in row],
                    "token_index": [k for row in self.tokens for k in range(len(row))],
                    "token": [t for row in self.tokens for t in row],
                    "start": [a for row in self.offsets for a, _ in row],
                    "end": [b for row in self.offsets for _, b in row],
                })  # fmt: skip
            else:
                table = pd.DataFrame(values, columns=self.emotions)
                meta = pd.DataFrame({"text_id": self.ids})
            meta.insert(len(meta.columns), "layer", layer)
            frames.append(pd.concat([meta, table], axis=1))
        return pd.concat(frames, ignore_index=True)

    def save(self, out: str | Path, emotion: str | None = None) -> Path:
        """Write ``scores.parquet``, ``probe.html`` and ``probe.json`` (written last: the run is complete)."""
        from emovec.cache import write_json_atomic
        from emovec.locks import exclusive_lock
        from emovec.probing.page import probe_page

        out = Path(out)
        with exclusive_lock(out):
            (out / "probe.json").unlink(missing_ok=True)
            partial = out / "scores.parquet.partial"
            self.to_frame().to_parquet(partial, index=False)
            partial.replace(out / "scores.parquet")
            (out / "probe.html.partial").write_text(probe_page(self, emotion), encoding="utf-8")
            (out / "probe.html.partial").replace(out / "probe.html")
            write_json_atomic(out / "probe.json", {
                "ids": self.ids, "layers": self.layers, "emotions": self.emotions, "positions": self.positions,
                "score": self.score, "settings": self.settings, "formatted": self.formatted, "texts": self.texts,
                "pieces": self.pieces,
            })  # fmt: skip
        return out

    def top(self, layer: int, k: int = 5) -> list[list[tuple[str, float]]]:
        """The top ``k`` emotions of each text (pooled positions) at ``layer``."""
        values = np.asarray(self.scores[layer])
        order = np.argsort(-values, axis=1)[:, :k]
        return [[(self.emotions[j], float(values[i, j])) for j in row] for i, row in enumerate(order)]


def load_probe(directory: str | Path) -> ProbeResult:
    """Read a probe written by :meth:`ProbeResult.save` (``probe.json`` marks it complete)."""
    import json

    directory = Path(directory)
    if not (directory / "probe.json").exists():
        raise EmovecError(f"{directory}: no probe.json (not a probe directory, or an interrupted write)")
    meta = json.loads((directory / "probe.json").read_text())
    frame = pd.read_parquet(directory / "scores.parquet")
    emotions = meta["emotions"]
    scores: dict[int, object] = {}
    for layer in meta["layers"]:
        part = frame[frame["layer"] == layer]
        if meta["positions"] == "tokens":
            scores[layer] = [part[part["text_id"] == i][emotions].to_numpy(np.float32) for i in meta["ids"]]
        else:
            scores[layer] = part[emotions].to_numpy(np.float32)
    first = frame[frame["layer"] == meta["layers"][0]]
    tokens = [first[first["text_id"] == i]["token"].tolist() for i in meta["ids"]] if "token" in first else []
    offsets = ([list(zip(first[first["text_id"] == i]["start"], first[first["text_id"] == i]["end"]))
                for i in meta["ids"]] if "start" in first else [])  # fmt: skip
    return ProbeResult(ids=meta["ids"], texts=meta["texts"], formatted=meta["formatted"], tokens=tokens,
                       pieces=meta["pieces"], offsets=offsets, layers=meta["layers"], emotions=emotions,
                       positions=meta["positions"], score=meta["score"], scores=scores,
                       settings=meta["settings"])  # fmt: skip


def probe(
    model: LoadedModel | str | Path,
    vectors: EmotionVectors | str | Path,
    texts: str | list[str],
    *,
    ids: list[str] | None = None,
    layers: str | int | list[int] = "0.66",
    text_format: str = "raw",
    chat_role: str = "user",
    positions: str = "tokens",
    score: str = "cosine",
    emotions: list[str] | None = None,
    reference: str | Path | None = None,
    batch_size: int = 8,
    padding_side: str = "right",
    max_length: int = 512,
    device: str | None = None,
    dtype: str = "float32",
    progress: bool = True,
) -> ProbeResult:
    """Score ``texts`` against emotion vectors (see the module docstring for the formula).

    ``layers`` is a layer spec resolved against the model; ``"all"`` means every layer the vectors have.
    """
    if score not in SCORES:
        raise SettingError("score", f"{score!r}: use one of {', '.join(SCORES)}")
    if positions not in POSITIONS:
        raise SettingError("positions", f"{positions!r}: use one of {', '.join(POSITIONS)}")
    if batch_size < 1:
        raise SettingError("batch_size", f"{batch_size}: needs at least 1")
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise EmovecError("no texts to probe")
    ids = [str(i) for i in (ids if ids is not None else range(1, len(texts) + 1))]
    if len(ids) != len(texts):
        raise EmovecError(f"{len(ids)} ids for {len(texts)} texts")
    chosen = vectors if isinstance(vectors, EmotionVectors) else load_vectors(vectors)
    if emotions is not None:
        unknown = [e for e in emotions if e not in chosen.emotions]
        if unknown:
            raise SettingError("emotions", f"not among the vectors' emotions: {', '.join(unknown[:10])}")
        chosen = chosen.select(list(emotions))
    if not isinstance(model, LoadedModel):
        from emovec.models.loading import load_model

        model = load_model(model, device=device, dtype=dtype)
    check_same_model(chosen, model)
    every = isinstance(layers, str) and layers.strip().lower() == "all"
    wanted = list(chosen.layers) if every else parse_layer_spec(layers, model.n_blocks)  # all: every vector layer
    missing = [k for k in wanted if k not in chosen.layers]
    if missing:
        raise SettingError("layers", f"layer(s) {', '.join(map(str, missing))} are not among the vectors' layers "
                                     f"({_span(chosen.layers)})")  # fmt: skip
    slots = [chosen.layers.index(k) for k in wanted]
    if str(reference).replace("-", "_") == "grand_mean":
        reference = None
    own_mean = str(reference) == "texts"
    if own_mean and positions == "tokens":
        raise SettingError("reference", "'texts' (the probed texts' own mean) needs one read per text: "
                                        "--positions mean, last or reply-start")  # fmt: skip
    mu = np.zeros((len(wanted), model.hidden_size)) if own_mean else reference_means(chosen, reference, wanted, model)
    v = chosen.vectors[:, slots].astype(np.float64)
    length = np.linalg.norm(v, axis=-1, keepdims=True)
    if (length == 0).any():
        raise EmovecError("a vector has zero length at a probed layer")
    units = (v / length).astype(np.float32)
    if own_mean:  # read the activations themselves (an identity basis), then centre them on their own mean
        units = np.tile(np.eye(model.hidden_size, dtype=np.float32)[:, None, :], (1, len(wanted), 1))
    prepared = prepare_texts(model.tokenizer, texts, text_format=text_format, chat_role=chat_role,
                             positions=positions, max_length=max_length)  # fmt: skip
    with progress_bar("probing", total=len(texts), unit="texts", enabled=progress) as advance:
        raw = score_texts(model, prepared, wanted, mu, units, positions, batch_size, padding_side, advance)
    scores = {}
    for k, layer in enumerate(wanted):
        if own_mean:
            centred = raw.dots[k].astype(np.float64) - raw.dots[k].astype(np.float64).mean(axis=0)
            unit = v[:, k] / length[:, k]
            scores[layer] = _final(centred @ unit.T, np.linalg.norm(centred, axis=1), score)
        elif positions == "tokens":
            scores[layer] = [_final(d, n, score) for d, n in zip(raw.dots[k], raw.norms[k])]
        else:
            scores[layer] = _final(raw.dots[k], raw.norms[k], score)
    return ProbeResult(
        ids=ids, texts=texts, formatted=prepared.formatted, tokens=prepared.tokens, pieces=prepared.pieces,
        offsets=prepared.offsets,
        layers=wanted, emotions=list(chosen.emotions), positions=positions, score=score, scores=scores,
        settings={"model": model.name, "vectors_model": chosen.metadata.get("model"), "text_format": text_format,
                  "chat_role": chat_role, "reference": str(reference) if reference else "grand_mean",
                  "max_length": max_length, "truncated": int(prepared.truncated.sum())},
    )  # fmt: skip


def _final(dots: np.ndarray, norms: np.ndarray, score: str) -> np.ndarray:
    if score == "projection":
        return dots
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms[..., None] > 0, dots / norms[..., None], 0.0).astype(np.float32)


def _span(layers: list[int]) -> str:
    if layers == list(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}..{layers[-1]}"
    return ",".join(map(str, layers))


def check_same_model(vectors: EmotionVectors, model: LoadedModel) -> None:
    """Refuse vectors of another hidden size, depth or model with one line."""
    d = vectors.vectors.shape[2]
    built = vectors.metadata.get("model")
    if d != model.hidden_size:
        raise EmovecError(f"the vectors have d = {d} ({built or 'unknown model'}), {model.name} has d = "
                          f"{model.hidden_size}: use vectors built from this model")  # fmt: skip
    blocks = vectors.metadata.get("n_blocks")
    if blocks is not None and blocks != model.n_blocks:
        raise EmovecError(f"the vectors come from a model with {blocks} blocks ({built}), {model.name} has "
                          f"{model.n_blocks}: use vectors built from this model")  # fmt: skip
    if built is not None and not _same_name(str(built), model.name):
        raise EmovecError(f"the vectors were built from {built}, not {model.name}: use vectors built from this model")


def _same_name(a: str, b: str) -> bool:
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def reference_means(vectors: EmotionVectors, reference, layers: list[int], model: LoadedModel) -> np.ndarray:
    """``mu`` [L, d] at ``layers``: the vectors' grand mean, or the mean pooled activation of ``reference``."""
    if reference is None:
        if vectors.grand_mean is None:
            raise EmovecError("these vectors carry no grand mean (a community .npz?): pass a reference activations "
                              "directory (--reference)")  # fmt: skip
        return np.asarray(vectors.grand_mean, dtype=np.float64)[[vectors.layers.index(k) for k in layers]]
    from emovec.extraction.activations import load_activations, read_manifest

    manifest = read_manifest(reference)
    if manifest["model"]["hidden_size"] != model.hidden_size:
        raise EmovecError(f"{reference}: activations of d = {manifest['model']['hidden_size']}, {model.name} has "
                          f"d = {model.hidden_size}")  # fmt: skip
    absent = [k for k in layers if k not in manifest["layers"]]
    if absent:
        raise EmovecError(f"{reference}: has no activations at layer(s) {', '.join(map(str, absent))}")
    acts = load_activations(reference, layers=layers)
    return np.nanmean(acts.means.astype(np.float64), axis=0)
