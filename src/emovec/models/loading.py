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
from emovec.models.bundled import bundled_model
from emovec.models.gguf import converted_model, find_gguf
from emovec.models.loaded import LoadedModel
from emovec.models.validation import validate_blocks
from emovec.progress import stderr_console

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
    max_memory: dict | None = None,
    offload_folder: str | Path | None = None,
) -> LoadedModel:
    """Load a model and tokenizer and locate its residual blocks.

    ``name_or_path`` is a hub id, a local HF folder, a ``.gguf`` file (or a folder holding one), or the name
    of a bundled model (``emovec models list``: ``smollm2-135m-instruct``, ``gemma-3-270m``, ``minilm``).
    GGUF weights are dequantized once into the user cache (:mod:`emovec.models.gguf`); the model's revision is
    then the GGUF file's sha256. ``device_map`` (e.g. ``"auto"``), ``max_memory`` and ``offload_folder`` go to
    accelerate: a model larger than one device is spread over devices, CPU memory and disk.
    """
    from transformers.utils import logging as hf_logging

    check_device(device)
    name, source = resolve_source(name_or_path)
    path = source.get("path", name)
    if "gguf" in source:
        revision = source["gguf"]["sha256"]
    common = {"revision": None if "gguf" in source else revision, "trust_remote_code": trust_remote_code}
    hf_logging.disable_progress_bar()  # emovec shows its own progress; "Loading weights" bars are noise
    try:
        placement = {"device_map": device_map, "max_memory": max_memory, "offload_folder": offload_folder}
        return _load(name, path, source, common, revision, dtype, device, placement, layers_path, validate)
    finally:
        hf_logging.enable_progress_bar()


def check_device(device: str | None) -> None:
    """One line when ``device`` is not a device torch knows, or not one this machine has."""
    if device is None:
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise EmovecError(f"--device {device!r}: not a device (use cpu, cuda, cuda:1, mps ...)") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise EmovecError(f"--device {device}: no CUDA GPU is available on this machine (use --device cpu)")
        if parsed.index is not None and parsed.index >= count:
            raise EmovecError(f"--device {device}: this machine has {count} CUDA device(s)")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise EmovecError(f"--device {device}: MPS is not available on this machine")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise EmovecError(f"--device {device}: unsupported device type {parsed.type!r} (use cpu, cuda or mps)")


def resolve_source(name_or_path: str | Path) -> tuple[str, dict]:
    """``(name, source)``: the model's name in manifests, and where its files are (``path``, ``bundled``, ``gguf``)."""
    name = str(name_or_path)
    source: dict = {}
    bundled = bundled_model(name)
    if bundled is not None and not Path(name).exists():
        if bundled.notice:
            _notice_once(bundled.notice)
        name = bundled.name
        source = {"bundled": bundled.name, "package": bundled.package, "path": str(bundled.path())}
    location = Path(source.get("path", name))
    gguf_file = find_gguf(location) if location.exists() else None
    if gguf_file is not None:
        folder, gguf = converted_model(gguf_file)
        source.update(path=str(folder), gguf=gguf.as_dict())
        if bundled is None:
            name = str(gguf_file)
    return name, source


_SHOWN: set[str] = set()


def _notice_once(text: str) -> None:
    if text not in _SHOWN:
        _SHOWN.add(text)
        stderr_console.print(f"note: {text}", markup=False, highlight=False)


def _load(name, path, source, common, revision, dtype, device, placement, layers_path, validate) -> LoadedModel:
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(path, **common)
    except (OSError, ValueError) as err:
        raise EmovecError(_not_found_message(path, err)) from None
    is_decoder = _is_decoder(config)
    model = _load_weights(path, config, is_decoder, resolve_dtype(dtype), placement, common)
    if device and not placement["device_map"]:
        model.to(device)
    model.eval()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **common)
    except (OSError, ValueError) as err:
        raise EmovecError(f"cannot load the tokenizer of {name}: {_first_line(err)}") from None
    n_blocks = count_blocks(config)
    blocks_path, blocks = find_blocks(model, n_blocks, layers_path)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    loaded = LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name,
        revision=revision or getattr(config, "_commit_hash", None),
        blocks_path=blocks_path,
        blocks=blocks,
        n_blocks=min(n_blocks, len(blocks)),
        hidden_size=int(getattr(text_config, "hidden_size", 0) or getattr(text_config, "n_embd", 0)),
        is_decoder=is_decoder,
        max_positions=_max_positions(text_config),
        altup_index=getattr(text_config, "altup_active_idx", None)
        if hasattr(text_config, "altup_num_inputs")
        else None,
        accepts_position_ids="position_ids" in inspect.signature(model.forward).parameters,
        source=source,
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


def _load_weights(name, config, is_decoder, dtype, placement, common) -> nn.Module:
    import transformers

    auto_classes = ["AutoModelForCausalLM", "AutoModelForImageTextToText", "AutoModel"] if is_decoder else ["AutoModel"]
    kwargs = dict(common, dtype=dtype, config=config)
    if placement["device_map"]:
        kwargs.update({key: value for key, value in placement.items() if value is not None})
    elif placement["max_memory"] is not None or placement["offload_folder"] is not None:
        raise EmovecError("max memory and offload folder need a device map (e.g. --device-map auto)")
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


def parse_max_memory(spec: str | None) -> dict | None:
    """``"cpu=20GiB,0=70GiB"`` -> ``{"cpu": "20GiB", 0: "70GiB"}`` for accelerate (bytes may be plain integers)."""
    if spec is None or not spec.strip():
        return None
    limits: dict = {}
    for part in spec.split(","):
        key, sep, value = part.strip().partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise EmovecError(f"--max-memory {spec!r}: write DEVICE=SIZE pairs, e.g. cpu=20GiB,0=70GiB")
        if key not in ("cpu", "disk", "mps") and not key.isdigit():
            raise EmovecError(f"--max-memory {spec!r}: device {key!r} is not cpu, mps or a GPU index")
        limits[int(key) if key.isdigit() else key] = int(value) if value.isdigit() else value
    return limits
