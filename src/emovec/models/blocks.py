"""Finding a model's residual-stream blocks and reading their outputs.

One place knows where each architecture keeps its blocks and what shape their outputs take. Decoder
layers return a tuple in some transformers versions and a bare tensor in others; Gemma 3n layers carry an
extra leading axis (the AltUp streams, of which ``altup_active_idx`` is the residual stream).
"""

from __future__ import annotations

import torch
from torch import nn

from emovec.errors import EmovecError

# Tried in order; the first that resolves to a ModuleList with the model's block count wins.
KNOWN_BLOCK_PATHS = (
    "model.language_model.layers",  # multimodal wrappers: Gemma 3/3n/4 ...ForConditionalGeneration
    "language_model.layers",  # multimodal base models
    "model.layers",  # Llama, Mistral, Qwen2/3, Gemma 2/3/4 text, OLMo2, Phi-3, Apertus (...ForCausalLM)
    "layers",  # text base models
    "transformer.h",  # GPT-2 (LM head model)
    "h",  # GPT-2 base model
    "gpt_neox.layers",  # GPT-NeoX (causal LM)
    "encoder.layer",  # BERT-style base encoders (all-MiniLM-L6-v2)
    "bert.encoder.layer",
)
_SKIP_PARTS = ("vision", "audio", "visual", "image", "speech")


def count_blocks(config) -> int:
    """Number of residual blocks in the (text part of the) model."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        value = getattr(text_config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise EmovecError(f"cannot tell how many layers {type(config).__name__} has; pass --layers-path")


def resolve_path(model: nn.Module, path: str) -> nn.Module | None:
    module: object = model
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module if isinstance(module, nn.Module) else None


def find_blocks(model: nn.Module, n_blocks: int, layers_path: str | None = None) -> tuple[str, nn.ModuleList]:
    """Return ``(path, blocks)``: the ModuleList of residual blocks, by override, known path, or search."""
    if layers_path:
        module = resolve_path(model, layers_path)
        if not isinstance(module, nn.ModuleList):
            raise EmovecError(f"--layers-path {layers_path!r} does not name a ModuleList in {type(model).__name__}")
        return layers_path, module
    for path in KNOWN_BLOCK_PATHS:
        module = resolve_path(model, path)
        if isinstance(module, nn.ModuleList) and len(module) >= n_blocks:
            return path, module
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList)
        and len(module) == n_blocks
        and not any(part in name.lower() for part in _SKIP_PARTS)
        and len({type(child) for child in module}) == 1
    ]
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(name for name, _ in candidates) or "none"
    raise EmovecError(
        f"cannot find the {n_blocks} residual blocks of {type(model).__name__} (candidates: {found}); "
        "pass --layers-path, e.g. model.layers"
    )


def block_output(output: object, altup_index: int | None = None) -> torch.Tensor:
    """The residual stream [batch, tokens, d] from whatever a block returned."""
    hidden = output[0] if isinstance(output, (tuple, list)) else output
    if not isinstance(hidden, torch.Tensor):
        hidden = getattr(hidden, "last_hidden_state", None)
        if not isinstance(hidden, torch.Tensor):
            raise EmovecError(f"a block returned {type(output).__name__}, not a tensor; pass --layers-path")
    if hidden.ndim == 4:  # Gemma 3n AltUp: [streams, batch, tokens, d]
        hidden = hidden[altup_index or 0]
    return hidden


def block_input(args: tuple, kwargs: dict, altup_index: int | None = None) -> torch.Tensor:
    """The residual stream entering a block (layer 0 when the block is the first)."""
    hidden = args[0] if args else kwargs.get("hidden_states")
    if not isinstance(hidden, torch.Tensor):
        raise EmovecError("cannot read the input of the first block; pass --layers-path")
    return block_output(hidden, altup_index)


def with_hidden(value: object, hidden: torch.Tensor, altup_index: int | None = None) -> object:
    """``value`` (a block's output or input) with its residual stream replaced by ``hidden``, same structure."""
    if isinstance(value, (tuple, list)):
        return type(value)([with_hidden(value[0], hidden, altup_index), *value[1:]])
    if not isinstance(value, torch.Tensor):
        raise EmovecError(f"a block returned {type(value).__name__}, not a tensor; cannot steer it")
    if value.ndim == 4:  # Gemma 3n AltUp: only the residual stream is changed
        value = value.clone()
        value[altup_index or 0] = hidden
        return value
    return hidden


def replace_block_input(args: tuple, kwargs: dict, hidden: torch.Tensor, altup_index: int | None = None):
    """``(args, kwargs)`` of a block call with the residual stream entering it replaced by ``hidden``."""
    if args:
        return (with_hidden(args[0], hidden, altup_index), *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": with_hidden(kwargs["hidden_states"], hidden, altup_index)}
