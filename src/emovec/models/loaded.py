"""A loaded model with its residual blocks located: what every stage that runs a model receives."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(repr=False)
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
    source: dict = field(default_factory=dict)  # where the files came from: path, bundled package, GGUF file

    def __repr__(self) -> str:
        kind = "decoder" if self.is_decoder else "encoder"
        return (f"LoadedModel({self.name!r}, {type(self.model).__name__}, {kind}, {self.n_blocks} blocks at "
                f"{self.blocks_path}, d={self.hidden_size}, {str(self.dtype).removeprefix('torch.')} on {self.device})")

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(repr(self))}</p>"

    @property
    def device(self) -> torch.device:
        """Where inputs go: the first device of a device map (not "disk" or "meta"), else the weights' device."""
        device_map = getattr(self.model, "hf_device_map", None)
        if device_map:
            placed = [d for d in device_map.values() if d not in ("disk", "meta")]
            first = placed[0] if placed else "cpu"
            return torch.device(f"cuda:{first}" if isinstance(first, int) else first)
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
