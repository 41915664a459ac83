"""Neutral-PC denoising: the top principal components of activations on neutral text, projected out of vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emovec.errors import EmovecError
from emovec.extraction.activations import load_activations


def neutral_components(neutral: str | Path, layers: list[int], variance: float) -> list[tuple[np.ndarray, float]]:
    """Per layer, the fewest top principal components [k, d] of neutral pooled activations whose cumulative
    explained variance reaches ``variance``, with the variance they explain."""
    if not 0.0 < variance <= 1.0:
        raise EmovecError(f"denoise variance must be in (0, 1], got {variance}")
    acts = load_activations(neutral, layers=layers)
    pooled = acts.means[acts.counted > 0].astype(np.float64)
    if len(pooled) < 2:
        raise EmovecError(f"{neutral}: fewer than 2 neutral stories with tokens past skip; cannot fit PCA")
    components = []
    for slot in range(len(layers)):
        centred = pooled[:, slot] - pooled[:, slot].mean(axis=0)
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        explained = singular**2 / max((singular**2).sum(), 1e-300)
        cumulative = np.cumsum(explained)
        k = int(np.searchsorted(cumulative, variance - 1e-12) + 1)
        components.append((vt[:k], float(cumulative[k - 1])))
    return components


def project_out(vectors: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Remove the span of orthonormal ``components`` [k, d] from each row of ``vectors`` [E, d]."""
    return vectors - (vectors @ components.T) @ components
