"""``emovec generate``: a chat model writes an emotion-labelled corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emovec.cli.options import Backend, Design, DType
from emovec.progress import stderr_console


def generate(
    model: Annotated[str, typer.Option(help="Hub id or local folder of a chat model.")],
    emotions: Annotated[str, typer.Option(help="Emotion set: anthropic171, russell28 or a file.")],
    out: Annotated[Path, typer.Option(help="Output corpus (.jsonl); neutral dialogues go to <out>.neutral.jsonl.")],
    topics: Annotated[Path | None, typer.Option(help="Topics file, one per line (default: bundled 120).")] = None,
    topics_per_emotion: Annotated[int, typer.Option(help="Topics sampled per emotion (design sampled).", min=1)] = 3,
    stories_per_prompt: Annotated[int, typer.Option(help="Stories asked for in each prompt.", min=1)] = 3,
    design: Annotated[Design, typer.Option(help="sampled topics per emotion, or every topic.")] = Design.sampled,
    neutral: Annotated[int, typer.Option(help="Also write this many neutral Person/AI dialogues.", min=0)] = 0,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.8,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.")] = 0.95,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer.")] = 2048,
    seed: Annotated[int, typer.Option(help="Seed for topic sampling and generation.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Prompts per generation batch.")] = 8,
    retries: Annotated[int, typer.Option(help="Retries of an answer that cannot be split into stories.")] = 2,
    backend: Annotated[Backend, typer.Option(help="hf (transformers) or vllm.")] = Backend.hf,
    template: Annotated[Path | None, typer.Option(help="Your own story prompt template.")] = None,
    filter_flagged: Annotated[bool, typer.Option(help="Drop stories flagged by quality control.")] = False,
    dtype: Annotated[DType, typer.Option(help="Weights dtype.")] = DType.bfloat16,
    device: Annotated[str | None, typer.Option(help="cpu, cuda ...")] = None,
    revision: Annotated[str | None, typer.Option(help="Model revision.")] = None,
    trust_remote_code: Annotated[bool, typer.Option(help="Run code from the model repository.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Have a chat model write an emotion-labelled story corpus (resumable, with provenance and QC)."""
    from emovec.analysis.emotion_sets import load_emotion_set
    from emovec.corpus.backends import HFBackend, VLLMBackend
    from emovec.corpus.generation import GenerationSettings, generate_corpus, neutral_path
    from emovec.corpus.prompts import load_template, load_topics

    chosen = load_emotion_set(emotions)
    topic_list = load_topics(topics)
    story_template = load_template("stories", template)
    settings = GenerationSettings(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed,
                                  batch_size=batch_size, retries=retries)  # fmt: skip
    if backend == Backend.vllm:
        engine = VLLMBackend(model, revision=revision, trust_remote_code=trust_remote_code)
    else:
        from emovec.models.loading import load_model

        engine = HFBackend(load_model(model, dtype=dtype.value, device=device, revision=revision,
                                      trust_remote_code=trust_remote_code, validate=False))  # fmt: skip
    report = generate_corpus(engine, chosen, out, topics=topic_list, topics_per_emotion=topics_per_emotion,
                             stories_per_prompt=stories_per_prompt, design=design.value, neutral=neutral,
                             settings=settings, template=story_template, filter_flagged=filter_flagged,
                             progress=progress)  # fmt: skip
    stories = report["stories"]
    quality = stories["quality"]
    stderr_console.print(
        f"wrote {out}: {stories['stories']} new stories from {stories['prompts'] - stories['skipped']} prompts "
        f"({stories['skipped']} already done, {stories['retries']} retries, {stories['failures']} failures); "
        f"{quality['flagged']} of {quality['rows']} rows flagged by QC"
        + (f", {quality['dropped']} dropped" if filter_flagged else "")
    )
    if neutral:
        stderr_console.print(f"wrote {neutral_path(out)}: {report['neutral']['stories']} new neutral dialogues")
    stderr_console.print(f"check it with: emovec corpus check {out}")
