"""Forward hooks that hand each requested layer's residual stream to a callback, inside a ``with`` block.

The model is never left modified: hooks are removed on exit, also after an error. After the last
requested layer the forward pass is stopped, so later blocks, the final norm and the LM head never run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from emovec.models.blocks import block_input, block_output
from emovec.models.loaded import LoadedModel

LayerCallback = Callable[[int, torch.Tensor], None]


class StopForward(Exception):
    """Raised by the last hook to end a forward pass early; caught by :func:`run_forward`."""


@contextmanager
def layer_hooks(
    loaded: LoadedModel, layers: list[int], callback: LayerCallback, stop_early: bool = True
) -> Iterator[None]:
    """Call ``callback(layer, hidden[B, T, d])`` for each layer in ``layers`` during forward passes."""
    last = max(layers)
    handles = []
    altup = loaded.altup_index

    def finish(layer: int, hidden: torch.Tensor) -> None:
        callback(layer, hidden)
        if stop_early and layer == last:
            raise StopForward

    if 0 in layers:

        def pre_hook(module, args, kwargs):
            finish(0, block_input(args, kwargs, altup))

        handles.append(loaded.blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True))
    for layer in layers:
        if layer == 0:
            continue

        def post_hook(module, args, output, layer=layer):
            finish(layer, block_output(output, altup))

        handles.append(loaded.blocks[layer - 1].register_forward_hook(post_hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def run_forward(loaded: LoadedModel, **inputs: torch.Tensor) -> object | None:
    """Run the model without gradients or cache; returns its output, or None if a hook stopped it."""
    with torch.inference_mode():
        try:
            return loaded.model(**inputs, use_cache=False) if loaded.is_decoder else loaded.model(**inputs)
        except StopForward:
            return None
