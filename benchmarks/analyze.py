"""Benchmark ``emovec analyze`` at the seed paper's scale: 171 emotions x 35 layers x 1536 dimensions.

Writes a community ``.npz`` of synthetic vectors (low-rank structure plus noise, like real emotion vectors)
with a planted valence/arousal structure at mid depth
(Russell-style norms written for the benchmark, in the ``csv`` format), then times the CLI end to end
(``--bootstrap 1000 --permutations 1000``) and, in the same run, the point estimates alone as a baseline.
Target (issue 3): the full run under 60 s on 2 CPU cores.

    .venv/bin/python benchmarks/analyze.py [--emotions 171 --layers 35 --dim 1536 --bootstrap 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from emovec.analysis.emotion_sets import load_emotion_set


def write_inputs(folder: Path, n_emotions: int, n_layers: int, dim: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    words = load_emotion_set("anthropic171")
    emotions = (words * (n_emotions // len(words) + 1))[:n_emotions]
    emotions = [w if i < len(words) else f"{w}-{i}" for i, w in enumerate(emotions)]
    valence, arousal = rng.uniform(-1, 1, n_emotions), rng.uniform(-1, 1, n_emotions)
    # Like real emotion vectors: low-rank structure (30 factors, decaying variance) plus moderate noise; valence
    # and arousal are factors whose strength peaks at mid depth.
    factors = np.linalg.qr(rng.normal(size=(dim, 32)))[0].T
    scales = 3.0 / np.sqrt(np.arange(1, 31))
    depth = np.linspace(0, 1, n_layers)
    strength = np.exp(-(((depth - 0.5) / 0.25) ** 2))
    vectors = np.empty((n_emotions, n_layers, dim))
    for layer in range(n_layers):
        latent = rng.normal(size=(n_emotions, 30)) * scales
        structure = latent @ factors[2:]
        affect = 4 * strength[layer] * (np.outer(valence, factors[0]) + 0.6 * np.outer(arousal, factors[1]))
        vectors[:, layer] = structure + affect + 0.03 * rng.normal(size=(n_emotions, dim))
    npz = folder / "vectors.npz"
    np.savez(npz, vectors=vectors.astype(np.float32), emotions=np.array(emotions), layers=np.arange(n_layers))
    norms = folder / "norms.csv"
    norms.write_text("word,valence,arousal\n" + "".join(f"{e},{v:.4f},{a:.4f}\n" for e, v, a in
                                                        zip(emotions, valence, arousal)))  # fmt: skip
    return npz, norms


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "emovec", *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"emovec {' '.join(args)} failed:\n{result.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emotions", type=int, default=171)
    parser.add_argument("--layers", type=int, default=35)
    parser.add_argument("--dim", type=int, default=1536)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=1000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        npz, norms = write_inputs(folder, options.emotions, options.layers, options.dim)
        common = ["analyze", "--vectors", str(npz), "--norms", f"csv:{norms}", "--norms-scale", "-1,1"]
        baseline = timed([*common, "--out", str(folder / "point")])
        full = timed([*common, "--out", str(folder / "full"), "--bootstrap", str(options.bootstrap),
                      "--permutations", str(options.permutations)])  # fmt: skip
        import pandas as pd

        table = pd.read_csv(folder / "full" / "geometry.csv")
        peak = table.loc[table["r_pc1_valence"].idxmax()]
    print(f"input: {options.emotions} emotions x {options.layers} layers x {options.dim}, {os.cpu_count()} CPU cores")
    print(f"point estimates only (baseline):                {baseline:6.1f} s")
    print(f"--bootstrap {options.bootstrap} --permutations {options.permutations}:           {full:6.1f} s "
          f"({full / baseline:.1f}x baseline; target < 60 s: {'met' if full < 60 else 'NOT met'})")  # fmt: skip
    print(f"planted peak found at layer {int(peak['layer'])} (depth {peak['relative_depth']:.2f}), |r| PC1~valence "
          f"{peak['r_pc1_valence']:.3f} [{peak['r_pc1_valence_ci_low']:.3f}, {peak['r_pc1_valence_ci_high']:.3f}], "
          f"p_max {peak['r_pc1_valence_p_max']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
