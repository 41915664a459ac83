"""emovec: find, measure and use emotion vectors inside open-weight language models."""

from __future__ import annotations

__version__ = "0.1.0"

from .activations import Activations, EmotionMeans, emotion_means, iter_shards, load_activations, residual_norms
from .analysis import Geometry, analyze
from .compare import cka_matrix, compare_by_layer, direction_cosines
from .config import ExtractConfig
from .corpus import Corpus, corpus_from_records, read_corpus
from .emotion_sets import load_emotion_set
from .errors import EmovecError
from .export import export_gguf
from .extract import ExtractResult, extract, extract_activations
from .layers import parse_layer_spec, relative_depths
from .model import LoadedModel, load_model
from .norms import Norms, load_norms, match_emotions
from .vectors import EmotionVectors, build_vectors, load_vectors

__all__ = [
    "Activations",
    "Corpus",
    "EmotionMeans",
    "EmotionVectors",
    "EmovecError",
    "ExtractConfig",
    "ExtractResult",
    "Geometry",
    "LoadedModel",
    "Norms",
    "__version__",
    "analyze",
    "build_vectors",
    "cka_matrix",
    "compare_by_layer",
    "corpus_from_records",
    "direction_cosines",
    "emotion_means",
    "export_gguf",
    "extract",
    "extract_activations",
    "iter_shards",
    "load_activations",
    "load_emotion_set",
    "load_model",
    "load_norms",
    "load_vectors",
    "match_emotions",
    "parse_layer_spec",
    "read_corpus",
    "relative_depths",
    "residual_norms",
]
