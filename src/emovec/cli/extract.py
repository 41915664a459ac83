"""``emovec extract`` and ``emovec layers``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emovec.cli.options import (
    Accumulate,
    ChatRole,
    DType,
    GpusPerWorker,
    Padding,
    RayAddress,
    RayFlag,
    TextFormat,
    Workers,
    ray_settings,
)
from emovec.progress import stderr_console


def extract(
    model: Annotated[str, typer.Option(help="Hub id or local folder of the model.")],
    corpus: Annotated[Path, typer.Option(help="Corpus file (.jsonl or .parquet) with id, emotion, text.")],
    out: Annotated[Path, typer.Option(help="Output activations directory.")],
    layers: Annotated[str, typer.Option(help="'all', indices '0,8,16', or fractions of depth '0.66'.")] = "all",
    skip_tokens: Annotated[int, typer.Option(help="Pool tokens at positions >= this, per story.")] = 50,
    max_length: Annotated[int, typer.Option(help="Truncate stories to this many tokens.")] = 512,
    batch_size: Annotated[int | None, typer.Option(help="Stories per batch (default 8).")] = None,
    max_batch_tokens: Annotated[
        int | None, typer.Option(help="Padded tokens per batch, instead of --batch-size.")
    ] = None,
    dtype: Annotated[DType, typer.Option(help="Weights and activations dtype.")] = DType.float32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps ...")] = None,
    device_map: Annotated[str | None, typer.Option(help="Spread the model over devices and disk, e.g. 'auto'.")] = None,
    max_memory: Annotated[
        str | None, typer.Option(help="With --device-map: limits per device, e.g. 'cpu=20GiB,0=70GiB'.")
    ] = None,
    offload_folder: Annotated[
        Path | None, typer.Option(help="With --device-map: where weights that fit nowhere are offloaded.")
    ] = None,
    accumulate: Annotated[
        Accumulate, typer.Option(help="Pooling sums: float64 on CPU and float32 on GPUs when auto.")
    ] = Accumulate.auto,
    ray: RayFlag = False,
    ray_address: RayAddress = None,
    workers: Workers = None,
    gpus_per_worker: GpusPerWorker = None,
    padding_side: Annotated[Padding, typer.Option(help="Results are identical either way.")] = Padding.right,
    text_format: Annotated[TextFormat, typer.Option(help="raw text, or the tokenizer's chat template.")] = (
        TextFormat.raw
    ),
    chat_role: Annotated[ChatRole, typer.Option(help="Role of the story turn with --text-format chat.")] = (
        ChatRole.user
    ),
    revision: Annotated[str | None, typer.Option(help="Model revision (branch, tag or commit).")] = None,
    layers_path: Annotated[str | None, typer.Option(help="Dotted path of the block list, e.g. model.layers.")] = None,
    shard_size: Annotated[int | None, typer.Option(help="Stories per shard (default: 256 MiB or 1024).")] = None,
    trust_remote_code: Annotated[bool, typer.Option(help="Run code from the model repository.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an output directory from other inputs.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Pool residual-stream activations of every story at every requested layer."""
    from emovec.extraction.pipeline import extract as run_extract
    from emovec.models.loading import parse_max_memory

    result = run_extract(
        model,
        corpus,
        out,
        revision=revision,
        device=device,
        device_map=device_map,
        max_memory=parse_max_memory(max_memory),
        offload_folder=offload_folder,
        ray=ray_settings(ray, ray_address, workers, gpus_per_worker),
        layers_path=layers_path,
        trust_remote_code=trust_remote_code,
        overwrite=overwrite,
        progress=progress,
        layers=layers,
        skip_tokens=skip_tokens,
        max_length=max_length,
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        padding_side=padding_side.value,
        text_format=text_format.value,
        chat_role=chat_role.value,
        dtype=dtype.value,
        shard_size=shard_size,
        accumulate=accumulate.value,
    )
    manifest = result.manifest
    if result.skipped:
        stderr_console.print(f"{out}: already complete for these inputs and settings; nothing to do")
        return
    stories, tokens, timings = manifest["stories"], manifest["tokens"], manifest["timings"]
    resumed = f", resumed {timings['shards_reused']} finished shards" if timings["shards_reused"] else ""
    stderr_console.print(
        f"wrote {out}: {stories['n']} stories x {len(manifest['layers'])} layers x {manifest['model']['hidden_size']} "
        f"in {timings['extract_s']:.1f}s ({tokens['real'] / max(timings['extract_s'], 1e-9):,.0f} real tok/s, "
        f"padding overhead {tokens['padding_overhead']}){resumed}"
    )
    if stories["no_tokens_past_skip"] or stories["truncated"]:
        stderr_console.print(
            f"note: {stories['no_tokens_past_skip']} stories have no token past skip={skip_tokens} "
            f"(excluded from means); {stories['truncated']} were truncated to {max_length} tokens"
        )


def layers(
    model: Annotated[str, typer.Option(help="Hub id or local folder of the model.")],
    spec: Annotated[str, typer.Option("--layers", help="Layer spec to resolve.")] = "all",
    layers_path: Annotated[str | None, typer.Option(help="Dotted path of the block list.")] = None,
    revision: Annotated[str | None, typer.Option(help="Model revision.")] = None,
    trust_remote_code: Annotated[bool, typer.Option(help="Run code from the model repository.")] = False,
) -> None:
    """Show where a model's blocks are, check them, and resolve a layer spec."""
    from emovec.models.layers import parse_layer_spec, relative_depths
    from emovec.models.loading import load_model

    loaded = load_model(model, revision=revision, layers_path=layers_path, trust_remote_code=trust_remote_code)
    chosen = parse_layer_spec(spec, loaded.n_blocks)
    depths = ", ".join(f"{k} ({d:.2f})" for k, d in zip(chosen, relative_depths(chosen, loaded.n_blocks)))
    typer.echo(f"model: {loaded.name} ({type(loaded.model).__name__}, {'decoder' if loaded.is_decoder else 'encoder'})")
    typer.echo(f"blocks: {loaded.blocks_path} ({loaded.n_blocks} blocks, d = {loaded.hidden_size}); hooks checked")
    typer.echo(f"layers: {depths}")
