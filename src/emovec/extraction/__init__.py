"""Extraction: tokenisation, batching, pooling inside hooks, the engine, the activations store and `extract`."""
