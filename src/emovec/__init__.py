"""emovec: find, measure and use emotion vectors inside open-weight language models.

The public API is imported lazily: ``import emovec`` is fast and does not import torch; a name is loaded
from its subpackage the first time it is used, so ``emovec.analyze`` never pulls in a model stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    "Activations": "emovec.extraction.activations",
    "EmotionMeans": "emovec.extraction.activations",
    "emotion_means": "emovec.extraction.activations",
    "iter_shards": "emovec.extraction.activations",
    "load_activations": "emovec.extraction.activations",
    "residual_norms": "emovec.extraction.activations",
    "ExtractConfig": "emovec.extraction.config",
    "ExtractResult": "emovec.extraction.pipeline",
    "extract": "emovec.extraction.pipeline",
    "extract_activations": "emovec.extraction.pipeline",
    "Corpus": "emovec.corpus.reader",
    "corpus_from_records": "emovec.corpus.reader",
    "read_corpus": "emovec.corpus.reader",
    "LoadedModel": "emovec.models.loaded",
    "load_model": "emovec.models.loading",
    "parse_layer_spec": "emovec.models.layers",
    "relative_depths": "emovec.models.layers",
    "EmotionVectors": "emovec.vectors.emotion_vectors",
    "load_vectors": "emovec.vectors.emotion_vectors",
    "build_vectors": "emovec.vectors.build",
    "export_gguf": "emovec.vectors.gguf",
    "Geometry": "emovec.analysis.layer_geometry",
    "analyze": "emovec.analysis.layer_geometry",
    "cka_matrix": "emovec.analysis.compare",
    "compare_by_layer": "emovec.analysis.compare",
    "direction_cosines": "emovec.analysis.compare",
    "load_emotion_set": "emovec.analysis.emotion_sets",
    "Norms": "emovec.analysis.norms.loading",
    "load_norms": "emovec.analysis.norms.loading",
    "match_emotions": "emovec.analysis.norms.matching",
    "ProbeResult": "emovec.probing.probe",
    "probe": "emovec.probing.probe",
    "steering": "emovec.steering.hooks",
    "run_sweep": "emovec.steering.sweep",
    "plan_conditions": "emovec.steering.sweep",
    "SelfRated": "emovec.probing.self_rated",
    "rate_norms": "emovec.probing.self_rated",
    "rate_words": "emovec.probing.self_rated",
    "run_study": "emovec.study.runner",
    "EmovecError": "emovec.errors",
    "SettingError": "emovec.errors",
}

__all__ = sorted([*_API, "__version__"])


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'emovec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from emovec.analysis.compare import cka_matrix, compare_by_layer, direction_cosines
    from emovec.analysis.emotion_sets import load_emotion_set
    from emovec.analysis.layer_geometry import Geometry, analyze
    from emovec.analysis.norms.loading import Norms, load_norms
    from emovec.analysis.norms.matching import match_emotions
    from emovec.corpus.reader import Corpus, corpus_from_records, read_corpus
    from emovec.errors import EmovecError
    from emovec.extraction.activations import (
        Activations,
        EmotionMeans,
        emotion_means,
        iter_shards,
        load_activations,
        residual_norms,
    )
    from emovec.extraction.config import ExtractConfig
    from emovec.extraction.pipeline import ExtractResult, extract, extract_activations
    from emovec.models.layers import parse_layer_spec, relative_depths
    from emovec.models.loaded import LoadedModel
    from emovec.models.loading import load_model
    from emovec.probing.self_rated import SelfRated, rate_norms, rate_words
    from emovec.study.runner import run_study
    from emovec.vectors.build import build_vectors
    from emovec.vectors.emotion_vectors import EmotionVectors, load_vectors
    from emovec.vectors.gguf import export_gguf
