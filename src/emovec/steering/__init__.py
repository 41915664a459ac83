"""Steering: add emotion vectors to the residual stream while a model runs, and measure what changes.

``strengths`` (strength specs and the added vectors, in residual-norm units), ``hooks`` (the ``steering``
context manager: which positions are steered, under the KV cache and padding), ``generation`` (batched steered
generation), ``readback`` (what the unsteered model reads off a text: probe scores, perplexity), ``text_stats``
(distinct-2, repetition), ``sweep`` (strength sweeps with a random-direction control), ``next_word`` and
``preferences`` (causal tests).
"""
