"""What each kind of study stage does: source corpora, generation, extraction, vectors and analysis.

Each function returns the action a :class:`~emovec.study.plan.Stage` runs; the action reads the stages it
depends on through ``stage.plan`` and records its result with ``stage.finish``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emovec.study.plan import Plan, Stage
    from emovec.study.spec import CorpusSpec, ModelSpec

def _corpus_file(stage: Stage, neutral: bool = False) -> Path:
    if stage.kind == "generate":
        from emovec.corpus.generation import neutral_path

        path = stage.directory / "corpus.jsonl"
        return neutral_path(path) if neutral else path
    return Path(stage.key["path"])


def source_corpus_stage():
    def run(stage: Stage) -> None:
        stage.directory.mkdir(parents=True, exist_ok=True)
        stage.finish(path=stage.key["path"])

    return run


def generate_stage(corpus: CorpusSpec, generator: ModelSpec, s):
    def run(stage: Stage) -> None:
        from emovec.analysis.emotion_sets import load_emotion_set
        from emovec.corpus.backends import HFBackend
        from emovec.corpus.generation import GenerationSettings, generate_corpus
        from emovec.corpus.prompts import load_topics

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


def extract_stage(model: ModelSpec, s, corpus_name: str, which: str):
    def run(stage: Stage) -> None:
        from emovec.extraction.pipeline import extract

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
                         dtype=model.dtype, progress=stage.progress, **batching)  # fmt: skip
        stage.finish(stories=result.manifest["stories"], tokens=result.manifest["tokens"])

    return run


def vectors_stage(s):
    def run(stage: Stage) -> None:
        from emovec.analysis.emotion_sets import load_emotion_set
        from emovec.vectors.build import build_vectors

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


def analyze_stage(s):
    def run(stage: Stage) -> None:
        from emovec.analysis.layer_geometry import analyze
        from emovec.analysis.norms.loading import load_norms
        from emovec.vectors.emotion_vectors import load_vectors

        plan: Plan = stage.plan  # type: ignore[attr-defined]
        vectors = load_vectors(plan.find("vectors", stage.label).directory)
        norms = load_norms(s.norms, scale=s.norms_scale)
        geometry = analyze(vectors, norms, components=s.components, bootstrap=s.bootstrap,
                           permutations=s.permutations, seed=s.seed, readout_folds=s.readout_folds)  # fmt: skip
        geometry.save(stage.directory)
        stage.finish(summary=geometry.summary, matched=len(geometry.matched), unmatched=geometry.unmatched)

    return run


DETECT_VERSION = 2  # bump when what the detect stage computes changes


def detect_stage(probing, s):
    """Detection batteries on the condition's vectors and, for the report, a token probe of the passages."""

    def run(stage: Stage) -> None:
        from emovec.probing.battery import bundled_scenarios, bundled_templates
        from emovec.probing.detect import detect_intensity, detect_scenarios
        from emovec.probing.probe import probe
        from emovec.report.detection import best_layer, write_detection
        from emovec.vectors.emotion_vectors import load_vectors

        plan: Plan = stage.plan  # type: ignore[attr-defined]
        vectors = load_vectors(plan.find("vectors", stage.label).directory)
        loaded = stage.loaded_model  # type: ignore[attr-defined]
        battery = intensity = per_template = emotions = None
        templates = bundled_templates()
        reference = probing.reference
        if "scenarios" in probing.batteries:
            battery = detect_scenarios(loaded, vectors, bundled_scenarios(), permutations=probing.permutations,
                                       reference=reference,
                                       random_sets=probing.random_sets, seed=s.seed, progress=stage.progress)  # type: ignore[attr-defined]
        if "templates" in probing.batteries:
            intensity, per_template, emotions = detect_intensity(loaded, vectors, templates, reference=reference,
                                                                 progress=stage.progress)  # type: ignore[attr-defined]
        write_detection(stage.directory, battery, intensity, per_template, templates, emotions)
        summary: dict = {}
        if battery is not None:
            layer = best_layer(battery.table)
            row = battery.table.set_index("layer").loc[layer]
            summary = {"layer": layer, **{k: float(v) for k, v in row.items()}}
        if probing.passages:
            layer = summary.get("layer", vectors.layers[round(0.66 * (len(vectors.layers) - 1))])
            probe(loaded, vectors, probing.passages, layers=[int(layer)],
                  progress=False).save(stage.directory / "probe")  # fmt: skip
        stage.finish(scenarios=summary)

    return run


STEER_VERSION = 1  # bump when what the steer stage computes changes


def steer_stage(steering, s):
    """A strength sweep (with its random-direction control) on the condition's vectors, read back unsteered."""

    def run(stage: Stage) -> None:
        from emovec.report.steering import sweep_summary, write_steering
        from emovec.steering.sweep import bundled_prompts, plan_conditions, run_sweep
        from emovec.vectors.emotion_vectors import load_vectors

        plan: Plan = stage.plan  # type: ignore[attr-defined]
        vectors = load_vectors(plan.find("vectors", stage.label).directory)
        conditions = plan_conditions(steering.emotions, [steering.strengths], control=steering.control)
        table, settings = run_sweep(stage.loaded_model, vectors, steering.prompts or bundled_prompts()[:2],  # type: ignore[attr-defined]
                                    conditions, layers=steering.layers, phase=steering.phase,
                                    max_new_tokens=steering.max_new_tokens, seeds=[s.seed],
                                    progress=stage.progress)  # type: ignore[attr-defined]
        write_steering(stage.directory, table, settings)
        stage.finish(layers=settings["layers"], summary=sweep_summary(table))

    return run
