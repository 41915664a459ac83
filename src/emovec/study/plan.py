"""A study's stages: what each computes (kind, label, content key) and where it lives; nothing runs here.

Each stage's output lives under ``<out>/stages/<kind>/<label>-<hash>``, where the hash covers the
stage's settings and the hashes of its inputs; a finished stage (``stage.json`` present) is reused, and a
changed setting recomputes only what depends on it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emovec.analysis.emotion_sets import load_emotion_set
from emovec.analysis.layer_geometry import METHOD_VERSION
from emovec.corpus.reader import read_corpus
from emovec.models.identity import model_identity
from emovec.study.spec import ModelSpec, Study
from emovec.study.stages import (
    DETECT_VERSION,
    STEER_VERSION,
    analyze_stage,
    detect_stage,
    extract_stage,
    generate_stage,
    source_corpus_stage,
    steer_stage,
    vectors_stage,
)

STAGE_FILE = "stage.json"


def _hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Stage:
    kind: str
    label: str
    key: dict
    root: Path
    action: Callable[[Stage], None] | None = None
    model: str | None = None  # the model this stage loads, if any
    result: dict = field(default_factory=dict)
    units: float = 1.0  # its size in the unit of its kind (stories for extract and generate), for the ETA
    needs: list[Stage] = field(default_factory=list)  # the stages whose outputs it reads

    @property
    def digest(self) -> str:
        return _hash({"kind": self.kind, **self.key})

    @property
    def directory(self) -> Path:
        return self.root / "stages" / self.kind / f"{self.label}-{self.digest[:10]}"

    @property
    def done(self) -> bool:
        marker = self.directory / STAGE_FILE
        return marker.exists() and json.loads(marker.read_text()).get("digest") == self.digest

    def finish(self, **result) -> None:
        self.result = result
        marker = {"kind": self.kind, "label": self.label, "digest": self.digest, "key": self.key, "result": result,
                  "ran": {"started": getattr(self, "started", None), "finished": time.time()}}  # fmt: skip
        (self.directory / STAGE_FILE).write_text(json.dumps(marker, indent=2, default=str) + "\n")

    def load_result(self) -> dict:
        return json.loads((self.directory / STAGE_FILE).read_text())["result"]


@dataclass
class Plan:
    study: Study
    out: Path
    stages: list[Stage]
    corpora: dict[str, Stage]  # corpus name -> stage providing its file (a source or generation stage)
    conditions: list[tuple[str, str]]  # (model, corpus)

    def find(self, kind: str, label: str) -> Stage:
        return next(s for s in self.stages if s.kind == kind and s.label == label)


def _model_key(spec: ModelSpec) -> dict:
    """What decides a model's activations (not where or how fast it runs); a local folder or file by content."""
    key = spec.model_dump(include={"model", "revision", "dtype", "layers_path", "trust_remote_code", "text_format"})
    if Path(spec.model).exists():
        key["content"] = model_identity(spec.model, spec.revision).get("content")
    return key


def plan_study(study: Study, out: Path) -> Plan:
    """All stages of a study with their content hashes (nothing runs)."""
    s = study.settings
    stages: list[Stage] = []
    corpora: dict[str, Stage] = {}
    neutrals: dict[str, Stage | None] = {}
    for corpus in study.corpora:
        if corpus.path is not None:
            table = read_corpus(corpus.path)
            source = Stage("corpus", corpus.name, {"sha256": table.sha256, "path": corpus.path},
                           out, source_corpus_stage(), units=len(table.table))  # fmt: skip
            neutral = None
            if corpus.neutral_path:
                table = read_corpus(corpus.neutral_path)
                neutral = Stage("corpus", f"{corpus.name}.neutral",
                                {"sha256": table.sha256, "path": corpus.neutral_path},
                                out, source_corpus_stage(), units=len(table.table))  # fmt: skip
        else:
            generator = study.model(corpus.generated_by)
            key = {"model": _model_key(generator), "emotions": _emotions_key(s.emotions), "seed": s.seed,
                   "generation": corpus.model_dump(exclude={"name", "path", "generated_by", "neutral_path",
                                                            "generation_batch_size"})}  # fmt: skip
            expected = len(load_emotion_set(s.emotions)) * corpus.topics_per_emotion * corpus.stories_per_prompt
            source = Stage("generate", corpus.name, key, out, generate_stage(corpus, generator, s),
                           model=generator.name, units=expected)  # fmt: skip
            neutral = source if corpus.neutral else None
        stages.append(source)
        if neutral is not None and neutral is not source:
            stages.append(neutral)
        corpora[corpus.name], neutrals[corpus.name] = source, neutral
    extract_key = {"layers": s.layers, "skip_tokens": s.skip_tokens, "max_length": s.max_length}
    conditions = []
    for model in study.models:
        for corpus in study.corpora:
            label = f"{model.name}__{corpus.name}"
            acts = Stage("extract", label, {"model": _model_key(model), "corpus": corpora[corpus.name].digest,
                                            **extract_key}, out, extract_stage(model, s, corpus.name, "stories"),
                         model=model.name, units=corpora[corpus.name].units,
                         needs=[corpora[corpus.name]])  # fmt: skip
            stages.append(acts)
            neutral_acts = None
            if neutrals[corpus.name] is not None:
                neutral_acts = Stage("extract", f"{label}.neutral",
                                     {"model": _model_key(model), "corpus": neutrals[corpus.name].digest,
                                      "neutral": True, **extract_key},
                                     out, extract_stage(model, s, corpus.name, "neutral"),
                                     model=model.name, units=neutrals[corpus.name].units,
                                     needs=[neutrals[corpus.name]])  # fmt: skip
                stages.append(neutral_acts)
            vectors = Stage("vectors", label, {"acts": acts.digest, "neutral": neutral_acts and neutral_acts.digest,
                                               "emotions": _emotions_key(s.emotions), "weighting": s.weighting,
                                               "denoise_variance": s.denoise_variance},
                            out, vectors_stage(s), needs=[acts] + ([neutral_acts] if neutral_acts else []))  # fmt: skip
            stages.append(vectors)
            analysis = Stage("analyze", label, {"vectors": vectors.digest, "norms": _norms_key(s.norms),
                                                "method": METHOD_VERSION,
                                                "norms_scale": s.norms_scale,
                                                **s.model_dump(include={"components", "bootstrap", "permutations",
                                                                        "readout_folds", "seed"})},
                             out, analyze_stage(s), needs=[vectors])  # fmt: skip
            stages.append(analysis)
            probing = study.probing
            if probing is not None and (probing.models is None or model.name in probing.models):
                stages.append(Stage("detect", label, {"vectors": vectors.digest, "method": DETECT_VERSION,
                                                      "seed": s.seed, **probing.model_dump()},
                                    out, detect_stage(probing, s), model=model.name, needs=[vectors]))  # fmt: skip
            steering = study.steering
            if steering is not None and (steering.models is None or model.name in steering.models):
                stages.append(Stage("steer", label, {"vectors": vectors.digest, "method": STEER_VERSION,
                                                     "seed": s.seed, **steering.model_dump()},
                                    out, steer_stage(steering, s), model=model.name, needs=[vectors]))  # fmt: skip
            conditions.append((model.name, corpus.name))
    plan = Plan(study, out, stages, corpora, conditions)
    _wire(plan, neutrals)
    return plan


def _wire(plan: Plan, neutrals: dict) -> None:
    """Give each stage a way to find the stages it reads."""
    plan._neutrals = neutrals  # type: ignore[attr-defined]
    for stage in plan.stages:
        stage.plan = plan  # type: ignore[attr-defined]


def _emotions_key(emotions: str) -> str:
    return _hash(load_emotion_set(emotions))


def _norms_key(spec: str) -> dict:
    name, _, path = spec.partition(":")
    if path and Path(path).exists():
        return {"name": name, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
    return {"name": name}


def describe(plan: Plan) -> list[dict]:
    """One row per stage: kind, label, cached or pending, directory."""
    return [{"kind": s.kind, "label": s.label, "status": "cached" if s.done else "pending",
             "directory": str(s.directory.relative_to(plan.out))} for s in plan.stages]  # fmt: skip
