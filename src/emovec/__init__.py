"""emovec: find, measure and use emotion vectors inside open-weight language models."""

from __future__ import annotations

__version__ = "0.1.0"

from .activations import Activations, EmotionMeans, emotion_means, iter_shards, load_activations, residual_norms
from .config import ExtractConfig
from .corpus import Corpus, corpus_from_records, read_corpus
from .errors import EmovecError
from .extract import ExtractResult, extract, extract_activations
from .layers import parse_layer_spec, relative_depths
from .model import LoadedModel, load_model

__all__ = [
    "Activations",
    "Corpus",
    "EmotionMeans",
    "EmovecError",
    "ExtractConfig",
    "ExtractResult",
    "LoadedModel",
    "__version__",
    "corpus_from_records",
    "emotion_means",
    "extract",
    "extract_activations",
    "iter_shards",
    "load_activations",
    "load_model",
    "parse_layer_spec",
    "read_corpus",
    "relative_depths",
    "residual_norms",
]
