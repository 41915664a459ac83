"""Checking a model's hooked layers against its own ``hidden_states`` when it loads."""

from __future__ import annotations

import torch

from emovec.errors import EmovecError
from emovec.models.hooks import layer_hooks, run_forward
from emovec.models.loaded import LoadedModel

VALIDATION_TEXT = "A letter arrived this morning. She read it twice, folded it, and put the kettle on."


def validate_blocks(loaded: LoadedModel, text: str = VALIDATION_TEXT, atol: float = 1e-4) -> None:
    """Check every hooked layer's shape and that it equals HF ``hidden_states[k]`` for ``k`` below the last."""
    encoded = loaded.tokenizer(text, return_tensors="pt")
    inputs = {
        "input_ids": encoded["input_ids"].to(loaded.device),
        "attention_mask": encoded["attention_mask"].to(loaded.device),
    }
    captured: dict[int, torch.Tensor] = {}
    layers = list(range(loaded.n_blocks + 1))
    with layer_hooks(loaded, layers, lambda k, h: captured.__setitem__(k, h.detach().clone()), stop_early=False):
        output = run_forward(loaded, **inputs, output_hidden_states=True)
    hidden_states = getattr(output, "hidden_states", None)
    if hidden_states is None:
        hidden_states = getattr(output, "encoder_hidden_states", None)
    expected_shape = (1, inputs["input_ids"].shape[1], loaded.hidden_size)
    for layer in layers:
        got = captured.get(layer)
        if got is None or tuple(got.shape) != expected_shape:
            shape = None if got is None else tuple(got.shape)
            raise EmovecError(
                f"{loaded.name}: layer {layer} at {loaded.blocks_path} gave shape {shape}, expected {expected_shape}; "
                "pass --layers-path"
            )
    if hidden_states is None or len(hidden_states) != loaded.n_blocks + 1:
        return  # the model does not report hidden states; shapes were checked
    tolerance = atol if loaded.dtype == torch.float32 else 5e-2
    for layer in layers[:-1]:
        reference = hidden_states[layer]
        if reference.ndim == 4:
            reference = reference[loaded.altup_index or 0]
        if not torch.allclose(captured[layer].float(), reference.float(), atol=tolerance, rtol=tolerance):
            diff = (captured[layer].float() - reference.float()).abs().max().item()
            raise EmovecError(
                f"{loaded.name}: hooked layer {layer} differs from hidden_states[{layer}] (max diff {diff:.3g}); "
                f"blocks at {loaded.blocks_path} are not the residual stream; pass --layers-path"
            )
