"""``emovec run``: every model on every corpus through extract -> vectors -> analyze, plus comparisons.

Each stage's output lives under ``<out>/stages/<kind>/<label>-<hash>``, where the hash covers the
stage's settings and the hashes of its inputs; a finished stage (``stage.json`` present) is reused, an
interrupted extraction or generation resumes, and a changed setting recomputes only what depends on it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EmovecError
from .progress import stderr_console
from .study import CorpusSpec, ModelSpec, Study

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
        marker = {"kind": self.kind, "label": self.label, "digest": self.digest, "key": self.key, "result": result}
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
    """What decides a model's activations (not where or how fast it runs)."""
    return spec.model_dump(include={"model", "revision", "dtype", "layers_path", "trust_remote_code", "text_format"})


def plan_study(study: Study, out: Path) -> Plan:
    """All stages of a study with their content hashes (nothing runs)."""
    from .corpus import read_corpus

    s = study.settings
    stages: list[Stage] = []
    corpora: dict[str, Stage] = {}
    neutrals: dict[str, Stage | None] = {}
    for corpus in study.corpora:
        if corpus.path is not None:
            source = Stage("corpus", corpus.name, {"sha256": read_corpus(corpus.path).sha256, "path": corpus.path},
                           out, _source_corpus())  # fmt: skip
            neutral = None
            if corpus.neutral_path:
                neutral = Stage("corpus", f"{corpus.name}.neutral",
                                {"sha256": read_corpus(corpus.neutral_path).sha256, "path": corpus.neutral_path},
                                out, _source_corpus())  # fmt: skip
        else:
            generator = study.model(corpus.generated_by)
            key = {"model": _model_key(generator), "emotions": _emotions_key(s.emotions), "seed": s.seed,
                   "generation": corpus.model_dump(exclude={"name", "path", "generated_by", "neutral_path",
                                                            "generation_batch_size"})}  # fmt: skip
            source = Stage("generate", corpus.name, key, out, _generate(corpus, generator, s), model=generator.name)
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
                                            **extract_key}, out, _extract(model, s, corpus.name, "stories"),
                         model=model.name)  # fmt: skip
            stages.append(acts)
            neutral_acts = None
            if neutrals[corpus.name] is not None:
                neutral_acts = Stage("extract", f"{label}.neutral",
                                     {"model": _model_key(model), "corpus": neutrals[corpus.name].digest,
                                      "neutral": True, **extract_key},
                                     out, _extract(model, s, corpus.name, "neutral"), model=model.name)  # fmt: skip
                stages.append(neutral_acts)
            vectors = Stage("vectors", label, {"acts": acts.digest, "neutral": neutral_acts and neutral_acts.digest,
                                               "emotions": _emotions_key(s.emotions), "weighting": s.weighting,
                                               "denoise_variance": s.denoise_variance},
                            out, _vectors(s))  # fmt: skip
            stages.append(vectors)
            analysis = Stage("analyze", label, {"vectors": vectors.digest, "norms": _norms_key(s.norms),
                                                "norms_scale": s.norms_scale,
                                                **s.model_dump(include={"components", "bootstrap", "permutations",
                                                                        "readout_folds", "seed"})},
                             out, _analyze(s))  # fmt: skip
            stages.append(analysis)
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
    from .emotion_sets import load_emotion_set

    return _hash(load_emotion_set(emotions))


def _norms_key(spec: str) -> dict:
    name, _, path = spec.partition(":")
    if path and Path(path).exists():
        return {"name": name, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
    return {"name": name}


def _corpus_file(stage: Stage, neutral: bool = False) -> Path:
    if stage.kind == "generate":
        from .generate import neutral_path

        path = stage.directory / "corpus.jsonl"
        return neutral_path(path) if neutral else path
    return Path(stage.key["path"])


def _source_corpus():
    def run(stage: Stage) -> None:
        stage.directory.mkdir(parents=True, exist_ok=True)
        stage.finish(path=stage.key["path"])

    return run


def _generate(corpus: CorpusSpec, generator: ModelSpec, s):
    def run(stage: Stage) -> None:
        from .emotion_sets import load_emotion_set
        from .generate import GenerationSettings, HFBackend, generate_corpus
        from .prompts import load_topics

        stage.directory.mkdir(parents=True, exist_ok=True)
        settings = GenerationSettings(temperature=corpus.temperature, top_p=corpus.top_p,
                                      max_new_tokens=corpus.max_new_tokens, seed=s.seed,
                                      batch_size=corpus.generation_batch_size)  # fmt: skip
        report = generate_corpus(HFBackend(stage.loaded_model), load_emotion_set(s.emotions),  # type: ignore[attr-defined]
                                 stage.directory / "corpus.jsonl", topics=load_topics(corpus.topics),
                                 topics_per_emotion=corpus.topics_per_emotion,
                                 stories_per_prompt=corpus.stories_per_prompt, design=corpus.design,
                                 neutral=corpus.neutral, settings=settings, progress=stage.progress)  # fmt: skip
        stage.finish(report=report)

    return run


def _extract(model: ModelSpec, s, corpus_name: str, which: str):
    def run(stage: Stage) -> None:
        from .extract import extract

        plan: Plan = stage.plan  # type: ignore[attr-defined]
        source = plan.corpora[corpus_name] if which == "stories" else plan._neutrals[corpus_name]  # type: ignore[attr-defined]
        corpus = _corpus_file(source, neutral=(which == "neutral" and source.kind == "generate"))
        batching = (
            {"max_batch_tokens": model.max_batch_tokens}
            if model.max_batch_tokens
            else ({"batch_size": model.batch_size} if model.batch_size else {})
        )
        result = extract(stage.loaded_model, corpus, stage.directory / "activations", layers=s.layers,  # type: ignore[attr-defined]
                         skip_tokens=s.skip_tokens, max_length=s.max_length, text_format=model.text_format,
                         dtype=model.dtype, overwrite=True, progress=stage.progress, **batching)  # fmt: skip
        stage.finish(stories=result.manifest["stories"], tokens=result.manifest["tokens"])

    return run


def _vectors(s):
    def run(stage: Stage) -> None:
        from .emotion_sets import load_emotion_set
        from .vectors import build_vectors

        plan: Plan = stage.plan  # type: ignore[attr-defined]
        acts = plan.find("extract", stage.label).directory / "activations"
        neutral = None
        if stage.key["neutral"]:
            neutral = plan.find("extract", f"{stage.label}.neutral").directory / "activations"
        vectors = build_vectors(acts, emotions=load_emotion_set(s.emotions), weighting=s.weighting, neutral=neutral,
                                denoise_variance=s.denoise_variance)  # fmt: skip
        vectors.save(stage.directory)
        stage.finish(emotions=len(vectors.emotions), layers=len(vectors.layers))

    return run


def _analyze(s):
    def run(stage: Stage) -> None:
        from .analysis import analyze
        from .norms import load_norms
        from .vectors import load_vectors

        plan: Plan = stage.plan  # type: ignore[attr-defined]
        vectors = load_vectors(plan.find("vectors", stage.label).directory)
        norms = load_norms(s.norms, scale=s.norms_scale)
        geometry = analyze(vectors, norms, components=s.components, bootstrap=s.bootstrap,
                           permutations=s.permutations, seed=s.seed, readout_folds=s.readout_folds)  # fmt: skip
        geometry.save(stage.directory)
        stage.finish(summary=geometry.summary, matched=len(geometry.matched), unmatched=geometry.unmatched)

    return run


def describe(plan: Plan) -> list[dict]:
    """One row per stage: kind, label, cached or pending, directory."""
    return [{"kind": s.kind, "label": s.label, "status": "cached" if s.done else "pending",
             "directory": str(s.directory.relative_to(plan.out))} for s in plan.stages]  # fmt: skip


def run_plan(plan: Plan, progress: bool = True) -> dict:
    """Run every pending stage in order, loading each model once for the stages that need it."""
    from .model import load_model

    counts = {"run": 0, "cached": 0}
    pending = [s for s in plan.stages if not s.done]
    counts["cached"] = len(plan.stages) - len(pending)
    loaded: dict[str, object] = {}
    for index, stage in enumerate(pending, start=1):
        stderr_console.print(f"[bold]stage {index}/{len(pending)}[/] {stage.kind} {stage.label}")
        if stage.model is not None:
            if stage.model not in loaded:
                loaded.clear()  # one model in memory at a time
                spec = plan.study.model(stage.model)
                loaded[stage.model] = load_model(spec.model, dtype=spec.dtype, device=spec.device,
                                                 device_map=spec.device_map, revision=spec.revision,
                                                 layers_path=spec.layers_path,
                                                 trust_remote_code=spec.trust_remote_code)  # fmt: skip
            stage.loaded_model = loaded[stage.model]  # type: ignore[attr-defined]
        stage.progress = progress  # type: ignore[attr-defined]
        if stage.kind in ("vectors", "analyze") and stage.directory.exists():
            shutil.rmtree(stage.directory)  # cheap stages restart clean
        stage.directory.mkdir(parents=True, exist_ok=True)
        stage.action(stage)
        counts["run"] += 1
    if not plan.stages:
        raise EmovecError("the study has no stages")
    return counts


def run_study(path: str | Path, out: str | Path | None = None, dry_run: bool = False, progress: bool = True) -> dict:
    """Validate, plan and run a study file; write results, figures and report.html. Returns a summary."""
    from .study import load_study

    study, text = load_study(path)
    out = Path(out or study.out or Path(path).with_suffix(""))
    plan = plan_study(study, out)
    if dry_run:
        return {"out": out, "stages": describe(plan), "dry_run": True}
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.toml").write_text(text)
    counts = run_plan(plan, progress=progress)
    from .study_figures import study_figures
    from .study_report import write_study_report
    from .study_results import write_results

    write_results(plan)
    figures = study_figures(plan)
    (out / "figures" / "captions.json").write_text(json.dumps({p.name: c for p, c in figures}, indent=1) + "\n")
    report = write_study_report(out, figures)
    return {"out": out, "stages": describe(plan), "counts": counts, "report": report, "plan": plan}
