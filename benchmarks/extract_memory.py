"""Benchmark: whether ``emovec extract``'s memory stays flat as the corpus grows.

``emovec extract`` (the CLI, on MiniLM) runs on N and on 10N short stories, each in a fresh process started by
a tiny wrapper that reads ``RUSAGE_CHILDREN.ru_maxrss`` (the wrapper matters: a child forked straight from
this large benchmark process would report this process's size). Target: peak ratio < 1.3. Most of that peak
is the libraries and the model, so a second child per corpus (the same ``emovec.extract`` in Python) also
reports its RSS after loading, then resets the kernel's peak mark (``/proc/self/clear_refs``) and reports the
peak of the extraction alone.

Run from the repository root: ``.venv/bin/python benchmarks/extract_memory.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO, write_corpus

from emovec.models.bundled import minilm_path

# Starts the command in its argv and prints that child's own peak RSS (KiB on Linux) when it ends.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print('CHILD_MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
    "sys.exit(code)\n"
)

# Loads the model, reads the peak so far, resets the kernel's peak mark (VmHWM), runs emovec.extract (the
# function behind the CLI), then reports RSS after loading and the peak of the extraction alone (MiB).
PHASE_CHILD = """
import json, sys
from emovec import extract, load_model

def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'):
            return int(line.split()[1]) / 1024
    return None

loaded = load_model(sys.argv[1])
load_peak, after_load = status('VmHWM'), status('VmRSS')
try:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    reset = True
except OSError:
    reset = False
extract(loaded, sys.argv[2], sys.argv[3], progress=False, overwrite=True, batch_size=int(sys.argv[4]))
report = {'load_peak': load_peak, 'after_load': after_load, 'extract_peak': status('VmHWM') if reset else None}
print('PHASES ' + json.dumps(report), flush=True)
"""


def run_measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, dict, float]:
    """Run ``cmd`` under the RSS wrapper; return its peak RSS (MiB), what it reported, and wall seconds."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.call([sys.executable, "-c", RSS_WRAPPER, *cmd], stdout=out, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - t0
    text = log.read_text()
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{text[-2000:]}")
    maxrss = [int(line.split()[1]) for line in text.splitlines() if line.startswith("CHILD_MAXRSS ")][-1]
    phases = [json.loads(line[7:]) for line in text.splitlines() if line.startswith("PHASES ")]
    mib = maxrss / 1024 if sys.platform != "darwin" else maxrss / 2**20  # KiB on Linux, bytes on macOS
    return mib, (phases[-1] if phases else {}), seconds


def bench_memory(model_dir: Path, n: int, work: Path, batch_size: int) -> str:
    """Peak RSS of ``emovec extract`` on N and 10N short stories, each run in a fresh process."""
    exe = REPO / ".venv" / "bin" / "emovec"
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "emovec"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    results = []
    for size in (n, 10 * n):
        corpus = write_corpus(work / f"memory-{size}.jsonl", size, 20, 80, seed=1)
        cmd = cli + [
            "extract", "--model", str(model_dir), "--corpus", str(corpus), "--out", str(work / f"memory-cli-{size}"),
            "--batch-size", str(batch_size), "--no-progress", "--overwrite",
        ]  # fmt: skip
        peak, _, seconds = run_measured(cmd, env, work / f"memory-cli-{size}.log")
        phase_cmd = [sys.executable, "-c", PHASE_CHILD, str(model_dir), str(corpus), str(work / f"memory-py-{size}")]
        _, phases, _ = run_measured(phase_cmd + [str(batch_size)], env, work / f"memory-py-{size}.log")
        results.append((size, peak, phases, seconds))
        print(f"  {size} stories: CLI peak RSS {peak:,.0f} MiB in {seconds:.1f}s; phases {phases}", flush=True)

    def mib(value: float | None) -> str:
        return "?" if value is None else f"{value:,.0f}"

    lines = [
        "| stories | CLI peak RSS (MiB) | CLI wall s | peak while loading | RSS after load | peak during extract |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size, peak, phases, seconds in results:
        lines.append(
            f"| {size} | {peak:,.0f} | {seconds:.1f} | {mib(phases.get('load_peak'))} | "
            f"{mib(phases.get('after_load'))} | {mib(phases.get('extract_peak'))} |"
        )
    ratio = results[1][1] / results[0][1]
    verdicts = [f"CLI peak RSS, 10N / N = {ratio:.3f} (target < 1.3: {'met' if ratio < 1.3 else 'NOT met'})"]
    phase = [phases.get("extract_peak") for _, _, phases, _ in results]
    if all(phase):
        growth = phase[1] - phase[0]
        verdicts.append(
            f"peak during extract alone, 10N / N = {phase[1] / phase[0]:.3f} (+{growth:.0f} MiB for "
            f"{9 * n} more stories, {1024 * growth / (9 * n):.0f} KiB per story)"
        )
    body = "\n".join(lines) + "\n\n" + "\n".join(verdicts) + "\n"
    title = f"### memory: `emovec extract` on {model_dir.name}, a fresh process per corpus, stories of 20..80 words\n"
    print("\n" + body, flush=True)
    return title + "\n" + body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=None, help="N (default 100)")
    parser.add_argument("--batch-size", type=int, default=8, help="stories per batch (default 8)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    args = parser.parse_args(argv)
    n = args.stories or (20 if args.quick else 100)
    print(f"memory check: emovec extract on {n} and {10 * n} short stories (MiniLM)", flush=True)
    with tempfile.TemporaryDirectory(prefix="emovec-bench-") as tmp:
        section = bench_memory(minilm_path(), n, Path(tmp), args.batch_size)
    print("=" * 100 + "\n\n" + section, flush=True)


if __name__ == "__main__":
    main()
