"""Layer specifications: which residual-stream layers to read.

Layer ``0`` is the embedding output (the input of block 1); layer ``k >= 1`` is the output of block ``k``
(1-based), before any final norm. A model with ``n_blocks`` blocks therefore has layers ``0..n_blocks``.
"""

from __future__ import annotations

from emovec.errors import SettingError

LAYER_SPEC_HELP = "use 'all', a list of indices such as '0,8,16', or fractions of depth such as '0.66'"


def parse_layer_spec(spec: str | int | float | list | tuple, n_blocks: int) -> list[int]:
    """Resolve a layer spec to sorted unique layer indices in ``0..n_blocks``.

    ``all`` gives every layer; integers are layer indices (negative ones count from the end, ``-1`` is the
    last block); numbers with a decimal point are fractions of depth, rounded to the nearest layer.
    """
    if isinstance(spec, (list, tuple)):
        items = [str(s) for s in spec]
    else:
        text = str(spec).strip().lower()
        if text == "all":
            return list(range(n_blocks + 1))
        items = [part.strip() for part in text.split(",")]
    if not items or any(not part for part in items):
        raise SettingError("layers", f"unknown layer spec {spec!r}: {LAYER_SPEC_HELP}")
    layers: set[int] = set()
    for part in items:
        layers.add(_parse_one(part, spec, n_blocks))
    return sorted(layers)


def _parse_one(part: str, spec: object, n_blocks: int) -> int:
    try:
        if "." in part:
            fraction = float(part)
            if not 0.0 <= fraction <= 1.0:
                raise SettingError("layers", f"layer fraction {part} in {spec!r} is outside 0..1")
            return int(round(fraction * n_blocks))
        index = int(part)
    except ValueError:
        raise SettingError("layers", f"unknown layer spec {spec!r}: {LAYER_SPEC_HELP}") from None
    if index < 0:
        index += n_blocks + 1
    if not 0 <= index <= n_blocks:
        raise SettingError("layers", f"layer {part} in {spec!r} is out of range: this model has layers 0..{n_blocks}")
    return index


def check_layer_spec(spec: str | int | float | list | tuple) -> None:
    """Check a spec's syntax (and fractions) before a model is loaded; indices are checked against the model."""
    if isinstance(spec, str) and spec.strip().lower() == "all":
        return
    parse_layer_spec(spec, n_blocks=10**9)  # every index fits; fractions and syntax are checked as usual


def relative_depths(layers: list[int], n_blocks: int) -> list[float]:
    """Relative depth of each layer: ``k / n_blocks`` (0 = embeddings, 1 = last block)."""
    return [layer / n_blocks for layer in layers]
