"""Benchmark: extraction time and peak memory as the corpus grows 1x, 10x, 100x, one process vs Ray.

Each run is a fresh ``emovec extract`` process on MiniLM (synthetic stories of 20..80 words), started under
the RSS wrapper of ``extract_memory.py``: once as a single process, once with ``--ray --workers 2`` (a local Ray
cluster that the command starts and stops). Both use the same ``--shard-size`` (an eighth of the corpus), so
they write the same shards; the script checks that the two directories hold identical files (sha256). The
Ray run's memory is the driver's peak RSS plus the peak of the summed RSS of its worker processes
(``ray::*``, sampled every 0.1 s with psutil); Ray's own services (GCS, raylet) are not counted.

Run from the repository root: ``.venv/bin/python benchmarks/extract_scaling.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
from pathlib import Path

import psutil
from extract_memory import run_measured
from harness import REPO, write_corpus

from emovec.models.bundled import minilm_path


class WorkerMemory:
    """The peak of the summed RSS of Ray worker processes (``ray::...``) while a command runs."""

    def __init__(self, interval: float = 0.1) -> None:
        self.peak = 0.0
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = 0
            for proc in psutil.process_iter(["name", "memory_info"]):
                name = proc.info["name"] or ""
                if name.startswith("ray::") and proc.info["memory_info"] is not None:
                    total += proc.info["memory_info"].rss
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def files_of(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["files"]


def run_one(mode: str, size: int, corpus: Path, work: Path, env: dict, batch_size: int) -> dict:
    exe = REPO / ".venv" / "bin" / "emovec"
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "emovec"]
    out = work / f"{mode}-{size}"
    cmd = cli + ["extract", "--model", str(minilm_path()), "--corpus", str(corpus), "--out", str(out),
                 "--batch-size", str(batch_size), "--skip-tokens", "10", "--shard-size", str(math.ceil(size / 8)),
                 "--no-progress", "--overwrite"]  # fmt: skip
    if mode == "ray":
        cmd += ["--ray", "--workers", "2"]
    with WorkerMemory() as workers:
        peak, _, seconds = run_measured(cmd, env, work / f"{mode}-{size}.log")
    manifest = json.loads((out / "manifest.json").read_text())
    return {"mode": mode, "size": size, "wall": seconds, "extract": manifest["timings"]["extract_s"],
            "tokens": manifest["tokens"]["real"], "driver": peak, "workers": workers.peak if mode == "ray" else None,
            "out": out}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=None, help="N (default 50): runs N, 10N and 100N")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="N = 8, and only 1x and 10x")
    args = parser.parse_args(argv)
    n = args.stories or (8 if args.quick else 50)
    sizes = [n, 10 * n] if args.quick else [n, 10 * n, 100 * n]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", RAY_DEDUP_LOGS="0")
    print(f"scaling: emovec extract on {', '.join(map(str, sizes))} stories (MiniLM), single process vs Ray with "
          f"2 workers, {os.cpu_count()} CPUs", flush=True)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="emovec-bench-") as tmp:
        work = Path(tmp)
        for size in sizes:
            corpus = write_corpus(work / f"corpus-{size}.jsonl", size, 20, 80, seed=2)
            single = run_one("single", size, corpus, work, env, args.batch_size)
            ray = run_one("ray", size, corpus, work, env, args.batch_size)
            ray["same_files"] = files_of(single["out"]) == files_of(ray["out"])
            for row in (single, ray):
                print(f"  {row['mode']:6s} {size:6d} stories: wall {row['wall']:.1f}s, "
                      f"shards {row['extract']:.1f}s, driver peak {row['driver']:,.0f} MiB, "
                      f"workers {row['workers'] or 0:,.0f} MiB", flush=True)  # fmt: skip
            rows += [single, ray]
    lines = ["| stories | tokens | mode | wall s | shard phase s | tok/s (shard phase) | speed-up vs single (wall) | "
             "driver peak RSS MiB | workers' peak RSS MiB | same files |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for single, ray in zip(rows[::2], rows[1::2]):
        for row in (single, ray):
            ratio = single["wall"] / row["wall"]
            workers = "-" if row["workers"] is None else f"{row['workers']:,.0f}"
            same = "-" if row["mode"] == "single" else ("yes" if row["same_files"] else "NO")
            lines.append(f"| {row['size']} | {row['tokens']:,} | {row['mode']} | {row['wall']:.1f} | "
                         f"{row['extract']:.1f} | {row['tokens'] / max(row['extract'], 1e-9):,.0f} | {ratio:.2f}x | "
                         f"{row['driver']:,.0f} | {workers} | {same} |")  # fmt: skip
    print("=" * 100 + "\n\n" + "\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
