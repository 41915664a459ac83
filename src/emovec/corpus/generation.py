"""Corpus generation: a chat model writes emotion-labelled stories (and neutral dialogues), with provenance.

The plan is a pure function of the settings: for each emotion, ``topics_per_emotion`` topics sampled
with the seed (``design='sampled'``) or every topic (``'full'``), each asking for ``stories_per_prompt``
stories. Every prompt has a content id; rows already in the output are skipped, so an interrupted run
resumes and a larger design appends. Answers that cannot be split into the requested number of stories
are retried with a new seed up to ``retries`` times, then recorded in ``<out>.failures.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from emovec.corpus.prompts import PromptTemplate, load_template, load_topics
from emovec.corpus.quality import corpus_report
from emovec.corpus.splitting import split_stories
from emovec.errors import EmovecError
from emovec.locks import exclusive_lock

NEUTRAL = "neutral"


@dataclass(frozen=True)
class PromptJob:
    prompt_id: str
    kind: str  # "stories" or "neutral"
    emotion: str
    topic: str
    n_stories: int
    prompt: str


@dataclass(frozen=True)
class GenerationSettings:
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 2048
    seed: int = 0
    batch_size: int = 8
    retries: int = 2

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise EmovecError(f"--temperature {self.temperature}: must be > 0 (sampling; emovec does not write "
                              "corpora greedily)")  # fmt: skip
        if not (0 < self.top_p <= 1):
            raise EmovecError(f"--top-p {self.top_p}: must be in (0, 1]")
        for name, low in (("max_new_tokens", 1), ("batch_size", 1), ("retries", 0)):
            if getattr(self, name) < low:
                raise EmovecError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least {low}")


def plan_prompts(
    emotions: list[str],
    topics: list[str],
    template: PromptTemplate,
    *,
    topics_per_emotion: int = 3,
    stories_per_prompt: int = 3,
    design: str = "sampled",
    seed: int = 0,
) -> list[PromptJob]:
    """One prompt per (emotion, topic): topics sampled per emotion with the seed, or all of them."""
    if design not in ("sampled", "full"):
        raise EmovecError(f"unknown design {design!r}; use 'sampled' or 'full'")
    if stories_per_prompt < 1 or topics_per_emotion < 1:
        raise EmovecError("stories per prompt and topics per emotion must be at least 1")
    if design == "sampled" and topics_per_emotion > len(topics):
        raise EmovecError(f"{topics_per_emotion} topics per emotion requested but only {len(topics)} topics given")
    jobs = []
    for emotion in emotions:
        chosen = topics if design == "full" else random.Random(f"{seed}:{emotion}").sample(topics, topics_per_emotion)
        for topic in chosen:
            prompt = template.render(topic=topic, n_stories=stories_per_prompt, emotion=emotion)
            jobs.append(_job("stories", emotion, topic, stories_per_prompt, prompt, template))
    return jobs


def plan_neutral(n: int, topics: list[str], template: PromptTemplate, stories_per_prompt: int = 3) -> list[PromptJob]:
    """Prompts for ``n`` neutral dialogues, cycling through the neutral topics."""
    jobs = []
    for i in range(math.ceil(n / stories_per_prompt)):
        topic = topics[i % len(topics)]
        prompt = template.render(topic=topic, n_stories=stories_per_prompt)
        jobs.append(_job("neutral", NEUTRAL, f"{topic} [{i}]", stories_per_prompt, prompt, template))
    return jobs


def _job(kind, emotion, topic, n, prompt, template) -> PromptJob:
    key = json.dumps([kind, emotion, topic, n, template.sha256])
    return PromptJob(hashlib.sha1(key.encode()).hexdigest()[:12], kind, emotion, topic, n, prompt)


def done_prompt_ids(out: Path) -> set[str]:
    """Prompt ids with stories in ``out`` or recorded as failures."""
    done: set[str] = set()
    for path in (out, failures_path(out)):
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    done.add(json.loads(line)["prompt_id"])
    return done


def _check_same_settings(out: Path, current: dict) -> None:
    """Refuse to resume or append to a corpus written with another model or other sampling settings."""
    for path in (out, failures_path(out)):
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise EmovecError(f"{path}: line {number}: not valid JSON; cannot resume into it") from None
            differ = [f"{k} {row.get(k)!r} (now {v!r})" for k, v in current.items() if k in row and row[k] != v]
            if differ:
                raise EmovecError(f"{path}: line {number} was written with other settings: {', '.join(differ[:3])}; "
                                  "resuming would mix them: choose another --out")  # fmt: skip
            return  # one row is enough: every row of a file is written by one run's settings or refused here


def failures_path(out: Path) -> Path:
    return out.with_name(out.name + ".failures.jsonl")


def run_generation(
    backend,
    jobs: list[PromptJob],
    out: str | Path,
    settings: GenerationSettings,
    template: PromptTemplate,
    advance: Callable[[int], None] | None = None,
) -> dict:
    """Generate every job not yet in ``out``; append stories as they come. Returns counts."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model, revision = backend.model_id
    written_with = {"generator": model, "generator_revision": revision, "backend": backend.name,
                    "temperature": settings.temperature, "top_p": settings.top_p,
                    "max_new_tokens": settings.max_new_tokens, "prompt_sha256": template.sha256}  # fmt: skip
    _check_same_settings(out, written_with)
    done = done_prompt_ids(out)
    pending = [(job, 0) for job in jobs if job.prompt_id not in done]
    counts = {"prompts": len(jobs), "skipped": len(jobs) - len(pending), "stories": 0, "retries": 0, "failures": 0}
    with out.open("a", encoding="utf-8") as stories, failures_path(out).open("a", encoding="utf-8") as failed:
        while pending:
            batch, pending = pending[: settings.batch_size], pending[settings.batch_size :]
            seed = _batch_seed(settings.seed, batch)
            answers = backend.generate([job.prompt for job, _ in batch], settings, seed)
            for (job, attempt), answer in zip(batch, answers):
                parts = split_stories(answer, job.n_stories)
                if parts is None and attempt < settings.retries:
                    pending.append((job, attempt + 1))
                    counts["retries"] += 1
                    continue
                common = {"prompt_id": job.prompt_id, "generator": model, "generator_revision": revision,
                          "backend": backend.name, "prompt_template": template.source,
                          "prompt_sha256": template.sha256, "topic": job.topic, "seed": seed, "attempt": attempt,
                          "temperature": settings.temperature, "top_p": settings.top_p,
                          "max_new_tokens": settings.max_new_tokens, "created": _now()}  # fmt: skip
                if parts is None:
                    failed.write(json.dumps({**common, "emotion": job.emotion, "answer": answer}) + "\n")
                    counts["failures"] += 1
                else:
                    for k, text in enumerate(parts):
                        row = {"id": f"{job.prompt_id}-{k}", "emotion": job.emotion, "text": text,
                               "story_index": k, **common}  # fmt: skip
                        stories.write(json.dumps(row, ensure_ascii=False) + "\n")
                    counts["stories"] += len(parts)
                if advance:
                    advance(1)
            stories.flush()
            failed.flush()
    return counts


def _batch_seed(seed: int, batch: list[tuple[PromptJob, int]]) -> int:
    key = f"{seed}:" + ",".join(f"{job.prompt_id}/{attempt}" for job, attempt in batch)
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)


def apply_quality(out: str | Path, filter_flagged: bool = False, **bounds) -> dict:
    """Add a ``qc`` record to every row of ``out`` (rewritten atomically); optionally drop flagged rows."""
    out = Path(out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        return {"rows": 0, "flagged": 0, "dropped": 0}
    table = pd.DataFrame(rows)
    checked = table[table["emotion"] != NEUTRAL] if (table["emotion"] != NEUTRAL).any() else table
    flags = corpus_report(checked[["id", "emotion", "text"]], **bounds).flags.set_index("id")
    kept, flagged = [], 0
    for row in rows:
        if row["id"] in flags.index:
            f = flags.loc[row["id"]]
            qc = {"leak": _missing_as_none(f["leak"]), "n_words": int(f["n_words"]),
                  "too_short": bool(f["too_short"]), "too_long": bool(f["too_long"]),
                  "duplicate_of": _missing_as_none(f["duplicate_of"]),
                  "near_duplicate_of": _missing_as_none(f["near_duplicate_of"])}  # fmt: skip
            row["qc"] = qc
            bad = bool(qc["leak"] or qc["too_short"] or qc["too_long"] or qc["duplicate_of"] or qc["near_duplicate_of"])
            flagged += bad
            if bad and filter_flagged:
                continue
        kept.append(row)
    partial = out.with_name(out.name + ".partial")
    partial.write_text("".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in kept),
                       encoding="utf-8")  # fmt: skip
    os.replace(partial, out)
    return {"rows": len(rows), "flagged": flagged, "dropped": len(rows) - len(kept)}


def _missing_as_none(value):
    return None if value is None or (isinstance(value, float) and value != value) else value


def generate_corpus(
    model,
    emotions: list[str],
    out: str | Path,
    *,
    topics: list[str] | None = None,
    topics_per_emotion: int = 3,
    stories_per_prompt: int = 3,
    design: str = "sampled",
    neutral: int = 0,
    settings: GenerationSettings | None = None,
    template: PromptTemplate | None = None,
    neutral_template: PromptTemplate | None = None,
    filter_flagged: bool = False,
    progress: bool = True,
) -> dict:
    """Plan, generate (resuming), and quality-check a corpus; neutral dialogues go to ``<out>.neutral.jsonl``."""
    settings = settings or GenerationSettings()
    template = template or load_template("stories")
    topics = topics if topics is not None else load_topics()
    jobs = plan_prompts(emotions, topics, template, topics_per_emotion=topics_per_emotion,
                        stories_per_prompt=stories_per_prompt, design=design, seed=settings.seed)  # fmt: skip
    backend = model
    out = Path(out)
    if out.is_dir():
        raise EmovecError(f"{out}: is a directory; --out names the corpus file to write (e.g. corpus.jsonl)")
    with exclusive_lock(out):  # one writer per corpus file
        return _generate_locked(backend, jobs, out, settings, template, filter_flagged, neutral, neutral_template,
                                stories_per_prompt, progress)  # fmt: skip


def _generate_locked(backend, jobs, out, settings, template, filter_flagged, neutral, neutral_template,
                     stories_per_prompt, progress) -> dict:  # fmt: skip
    from emovec.progress import progress_bar

    report: dict = {}
    with progress_bar("generate", total=len(jobs), unit="prompts", enabled=progress) as advance:
        report["stories"] = run_generation(backend, jobs, out, settings, template, lambda n: advance(n))
    report["stories"]["quality"] = apply_quality(out, filter_flagged)
    if neutral:
        neutral_template = neutral_template or load_template("neutral")
        neutral_jobs = plan_neutral(neutral, load_topics(kind="neutral"), neutral_template, stories_per_prompt)
        neutral_out = neutral_path(out)
        with progress_bar("neutral", total=len(neutral_jobs), unit="prompts", enabled=progress) as advance:
            report["neutral"] = run_generation(backend, neutral_jobs, neutral_out, settings, neutral_template,
                                               lambda n: advance(n))  # fmt: skip
    return report


def neutral_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".neutral" + (out.suffix or ".jsonl"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
