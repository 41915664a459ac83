"""The ``emovec`` command line: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .errors import EmovecError
from .progress import stderr_console

app = typer.Typer(
    name="emovec",
    help="Find, measure and use emotion vectors inside open-weight language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Padding(str, Enum):
    left = "left"
    right = "right"


class TextFormat(str, Enum):
    raw = "raw"
    chat = "chat"


class ChatRole(str, Enum):
    user = "user"
    assistant = "assistant"


class DType(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


@app.command()
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
    device_map: Annotated[str | None, typer.Option(help="Shard the model over devices, e.g. 'auto'.")] = None,
    padding_side: Annotated[Padding, typer.Option(help="Results are identical either way.")] = Padding.right,
    text_format: Annotated[TextFormat, typer.Option(help="raw text, or the tokenizer's chat template.")] = (
        TextFormat.raw
    ),
    chat_role: Annotated[ChatRole, typer.Option(help="Role of the story turn with --text-format chat.")] = (
        ChatRole.user
    ),
    revision: Annotated[str | None, typer.Option(help="Model revision (branch, tag or commit).")] = None,
    layers_path: Annotated[str | None, typer.Option(help="Dotted path of the block list, e.g. model.layers.")] = None,
    shard_size: Annotated[int | None, typer.Option(help="Stories per shard (default: about 256 MiB each).")] = None,
    trust_remote_code: Annotated[bool, typer.Option(help="Run code from the model repository.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an output directory from other inputs.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Pool residual-stream activations of every story at every requested layer."""
    from .extract import extract as run_extract

    result = run_extract(
        model,
        corpus,
        out,
        revision=revision,
        device=device,
        device_map=device_map,
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
            f"[yellow]note:[/] {stories['no_tokens_past_skip']} stories have no token past skip={skip_tokens} "
            f"(excluded from means); {stories['truncated']} were truncated to {max_length} tokens"
        )


@app.command()
def layers(
    model: Annotated[str, typer.Option(help="Hub id or local folder of the model.")],
    spec: Annotated[str, typer.Option("--layers", help="Layer spec to resolve.")] = "all",
    layers_path: Annotated[str | None, typer.Option(help="Dotted path of the block list.")] = None,
    revision: Annotated[str | None, typer.Option(help="Model revision.")] = None,
    trust_remote_code: Annotated[bool, typer.Option(help="Run code from the model repository.")] = False,
) -> None:
    """Show where a model's blocks are, check them, and resolve a layer spec."""
    from .layers import parse_layer_spec, relative_depths
    from .model import load_model

    loaded = load_model(model, revision=revision, layers_path=layers_path, trust_remote_code=trust_remote_code)
    chosen = parse_layer_spec(spec, loaded.n_blocks)
    depths = ", ".join(f"{k} ({d:.2f})" for k, d in zip(chosen, relative_depths(chosen, loaded.n_blocks)))
    typer.echo(f"model: {loaded.name} ({type(loaded.model).__name__}, {'decoder' if loaded.is_decoder else 'encoder'})")
    typer.echo(f"blocks: {loaded.blocks_path} ({loaded.n_blocks} blocks, d = {loaded.hidden_size}); hooks checked")
    typer.echo(f"layers: {depths}")


class Weighting(str, Enum):
    token = "token"
    story = "story"


class ExportFormat(str, Enum):
    gguf = "gguf"


@app.command()
def vectors(
    activations: Annotated[Path, typer.Option(help="Activations directory written by 'emovec extract'.")],
    out: Annotated[Path, typer.Option(help="Output vectors directory.")],
    emotions: Annotated[str | None, typer.Option(help="Emotion set: anthropic171, russell28 or a file.")] = None,
    weighting: Annotated[Weighting, typer.Option(help="Token-weighted or story-weighted emotion means.")] = (
        Weighting.token
    ),
    neutral: Annotated[Path | None, typer.Option(help="Activations of a neutral corpus, for denoising.")] = None,
    denoise_variance: Annotated[float, typer.Option(help="Variance of neutral PCs to project out.")] = 0.5,
) -> None:
    """Build contrast vectors (emotion mean minus mean over emotions), optionally denoised."""
    from .emotion_sets import load_emotion_set
    from .vectors import build_vectors

    chosen = load_emotion_set(emotions) if emotions else None
    result = build_vectors(
        activations, emotions=chosen, weighting=weighting.value, neutral=neutral, denoise_variance=denoise_variance
    )
    result.save(out)
    meta = result.metadata
    e, n_layers, d = result.shape
    stderr_console.print(f"wrote {out}: {e} emotions x {n_layers} layers x {d} ({weighting.value}-weighted)")
    if meta["denoising"]["applied"]:
        removed = meta["denoising"]["n_components"]
        stderr_console.print(f"denoised: removed {min(removed)}-{max(removed)} neutral PCs per layer")
    if meta["emotions_missing_from_corpus"]:
        missing = meta["emotions_missing_from_corpus"]
        stderr_console.print(
            f"[yellow]note:[/] {len(missing)} emotions of the set have no stories: {', '.join(missing[:10])}"
        )


@app.command()
def analyze(
    vectors: Annotated[Path, typer.Option(help="Vectors directory or community .npz.")],
    norms: Annotated[str, typer.Option(help="Norm set NAME or NAME:PATH (see 'emovec norms list').")],
    out: Annotated[Path, typer.Option(help="Output directory for geometry.csv and geometry.json.")],
    components: Annotated[int, typer.Option(help="Top principal components to report.")] = 10,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over emotions (0 = none).")] = 0,
    permutations: Annotated[int, typer.Option(help="Permutations for p-values (0 = none).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    readout_folds: Annotated[int, typer.Option(help="Folds of the ridge readout (0 = leave-one-out).")] = 10,
    clusters: Annotated[int, typer.Option(help="k of k-means.")] = 10,
    aliases: Annotated[Path | None, typer.Option(help="CSV emotion,term mapping emotions to norm terms.")] = None,
    norms_scale: Annotated[str | None, typer.Option(help="Scale LO,HI of a csv norm file, e.g. 1,9.")] = None,
    activations: Annotated[Path | None, typer.Option(help="The vectors' activations, for --bootstrap-stories.")] = None,
    bootstrap_stories: Annotated[int, typer.Option(help="Bootstrap resamples of stories within emotions.")] = 0,
) -> None:
    """Measure the layer-wise geometry of emotion vectors against human valence/arousal norms."""
    from .analysis import analyze as run_analyze
    from .norms import load_aliases, load_norms
    from .vectors import load_vectors

    loaded = load_vectors(vectors)
    norm_set = load_norms(norms, scale=_parse_scale(norms_scale))
    geometry = run_analyze(
        loaded,
        norm_set,
        components=components,
        bootstrap=bootstrap,
        permutations=permutations,
        seed=seed,
        readout_folds=readout_folds,
        n_clusters=clusters,
        aliases=load_aliases(aliases) if aliases else None,
        stories=activations,
        story_bootstrap=bootstrap_stories,
    )
    geometry.save(out)
    _print_geometry(geometry)
    stderr_console.print(
        f"wrote {out}/geometry.csv and geometry.json ({len(geometry.matched)} of {len(loaded.emotions)} emotions "
        f"matched in {norm_set.name}; unmatched: {', '.join(geometry.unmatched[:10]) or 'none'})"
    )


def _parse_scale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise EmovecError(f"--norms-scale {text!r}: expected LO,HI such as 1,9") from None
    return low, high


def _print_geometry(geometry) -> None:
    from rich.console import Console
    from rich.table import Table

    data = geometry.table

    def headline(row, name: str) -> str:
        text = f"{row[name]:.3f}"
        if f"{name}_ci_low" in data:
            text += f" [{row[name + '_ci_low']:.2f}, {row[name + '_ci_high']:.2f}]"
        if f"{name}_p" in data:
            text += f" p={row[name + '_p']:.3g}"
        return text

    table = Table(title="Emotion-vector geometry by layer")
    for label in ("layer", "depth", "|r| PC1~valence", "|r| PC2~arousal", "best PC val", "readout val",
                  "readout aro", "EVR PC1"):  # fmt: skip
        table.add_column(label, justify="right")
    for _, row in data.iterrows():
        depth = (
            "-"
            if row["relative_depth"] is None or row["relative_depth"] != row["relative_depth"]
            else (f"{row['relative_depth']:.2f}")
        )
        table.add_row(
            f"{row['layer']:.0f}",
            depth,
            headline(row, "r_pc1_valence"),
            headline(row, "r_pc2_arousal"),
            f"PC{row['best_pc_valence']:.0f} ({row['best_r_valence']:.2f})",
            f"{row['readout_r_valence']:.3f}",
            f"{row['readout_r_arousal']:.3f}",
            f"{row['evr_pc1']:.3f}",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)


@app.command()
def export(
    vectors: Annotated[Path, typer.Option(help="Vectors directory or community .npz.")],
    emotion: Annotated[str, typer.Option(help="The emotion to export.")],
    out: Annotated[Path, typer.Option(help="Output file, e.g. joy.gguf.")],
    format: Annotated[ExportFormat, typer.Option("--format", help="Export format.")] = ExportFormat.gguf,
    scale: Annotated[float, typer.Option(help="Multiply the vectors by this factor.")] = 1.0,
    layers: Annotated[str, typer.Option(help="Layers to include (default all blocks).")] = "all",
    model_hint: Annotated[str | None, typer.Option(help="controlvector.model_hint (default: model class).")] = None,
) -> None:
    """Export one emotion's vectors as a llama.cpp control vector (GGUF)."""
    from .export import export_gguf
    from .layers import parse_layer_spec
    from .vectors import load_vectors

    loaded = load_vectors(vectors)
    chosen = None
    if layers != "all":
        n_blocks = int(loaded.metadata.get("n_blocks") or max(loaded.layers))
        chosen = parse_layer_spec(layers, n_blocks)
    path = export_gguf(loaded, emotion, out, scale=scale, layers=chosen, model_hint=model_hint)
    stderr_console.print(f"wrote {path} (control vector for {emotion!r}, scale {scale}); read back and checked")


@app.command()
def compare(
    a: Annotated[Path, typer.Option(help="First vectors directory or .npz.")],
    b: Annotated[Path, typer.Option(help="Second vectors directory or .npz.")],
    out: Annotated[Path, typer.Option(help="Output directory for compare.csv and cka.csv.")],
) -> None:
    """Compare two vector sets: RSA and CKA by layer, cosine of matched directions, CKA across layers."""
    from .compare import cka_matrix, compare_by_layer
    from .vectors import load_vectors

    first, second = load_vectors(a), load_vectors(b)
    out.mkdir(parents=True, exist_ok=True)
    by_layer = compare_by_layer(first, second)
    by_layer.to_csv(out / "compare.csv", index=False, float_format="%.6g")
    cka_matrix(first, second).to_csv(out / "cka.csv", float_format="%.6g")
    typer.echo(by_layer.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    stderr_console.print(f"wrote {out}/compare.csv and cka.csv")


class Design(str, Enum):
    sampled = "sampled"
    full = "full"


class Backend(str, Enum):
    hf = "hf"
    vllm = "vllm"


@app.command()
def generate(
    model: Annotated[str, typer.Option(help="Hub id or local folder of a chat model.")],
    emotions: Annotated[str, typer.Option(help="Emotion set: anthropic171, russell28 or a file.")],
    out: Annotated[Path, typer.Option(help="Output corpus (.jsonl); neutral dialogues go to <out>.neutral.jsonl.")],
    topics: Annotated[Path | None, typer.Option(help="Topics file, one per line (default: bundled 120).")] = None,
    topics_per_emotion: Annotated[int, typer.Option(help="Topics sampled per emotion (design sampled).")] = 3,
    stories_per_prompt: Annotated[int, typer.Option(help="Stories asked for in each prompt.")] = 3,
    design: Annotated[Design, typer.Option(help="sampled topics per emotion, or every topic.")] = Design.sampled,
    neutral: Annotated[int, typer.Option(help="Also write this many neutral Person/AI dialogues.")] = 0,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.8,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.")] = 0.95,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens per answer.")] = 2048,
    seed: Annotated[int, typer.Option(help="Seed for topic sampling and generation.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Prompts per generation batch.")] = 8,
    retries: Annotated[int, typer.Option(help="Retries of an answer that cannot be split into stories.")] = 2,
    backend: Annotated[Backend, typer.Option(help="hf (transformers) or vllm.")] = Backend.hf,
    template: Annotated[Path | None, typer.Option(help="Your own story prompt template.")] = None,
    filter_flagged: Annotated[bool, typer.Option(help="Drop stories flagged by quality control.")] = False,
    dtype: Annotated[DType, typer.Option(help="Weights dtype.")] = DType.bfloat16,
    device: Annotated[str | None, typer.Option(help="cpu, cuda ...")] = None,
    revision: Annotated[str | None, typer.Option(help="Model revision.")] = None,
    trust_remote_code: Annotated[bool, typer.Option(help="Run code from the model repository.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Have a chat model write an emotion-labelled story corpus (resumable, with provenance and QC)."""
    from .emotion_sets import load_emotion_set
    from .generate import GenerationSettings, HFBackend, VLLMBackend, generate_corpus, neutral_path
    from .prompts import load_template, load_topics

    chosen = load_emotion_set(emotions)
    topic_list = load_topics(topics)
    story_template = load_template("stories", template)
    settings = GenerationSettings(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed,
                                  batch_size=batch_size, retries=retries)  # fmt: skip
    if backend == Backend.vllm:
        engine = VLLMBackend(model, revision=revision, trust_remote_code=trust_remote_code)
    else:
        from .model import load_model

        engine = HFBackend(load_model(model, dtype=dtype.value, device=device, revision=revision,
                                      trust_remote_code=trust_remote_code, validate=False))  # fmt: skip
    report = generate_corpus(engine, chosen, out, topics=topic_list, topics_per_emotion=topics_per_emotion,
                             stories_per_prompt=stories_per_prompt, design=design.value, neutral=neutral,
                             settings=settings, template=story_template, filter_flagged=filter_flagged,
                             progress=progress)  # fmt: skip
    stories = report["stories"]
    quality = stories["quality"]
    stderr_console.print(
        f"wrote {out}: {stories['stories']} new stories from {stories['prompts'] - stories['skipped']} prompts "
        f"({stories['skipped']} already done, {stories['retries']} retries, {stories['failures']} failures); "
        f"{quality['flagged']} of {quality['rows']} rows flagged by QC"
        + (f", {quality['dropped']} dropped" if filter_flagged else "")
    )
    if neutral:
        stderr_console.print(f"wrote {neutral_path(out)}: {report['neutral']['stories']} new neutral dialogues")
    stderr_console.print(f"check it with: emovec corpus check {out}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("emovec-demo"),
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over emotions.")] = 1000,
    permutations: Annotated[int, typer.Option(help="Permutations for p-values.")] = 1000,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Run the embedded default study offline: MiniLM on the demo corpus, against Russell's circumplex."""
    from .demo import REAL_STUDY, run_demo

    result = run_demo(out, bootstrap=bootstrap, permutations=permutations, progress=progress)
    _print_geometry(result["geometry"])
    timings = result["timings"]
    stderr_console.print(
        f"demo finished in {timings['total_s']:.0f} s (extraction {timings['extract_s']:.0f} s, "
        f"vectors + analysis {timings['analyze_s']:.0f} s)"
    )
    typer.echo(f"\nreport: {result['report'].resolve()}")
    typer.echo(f"figures: {(result['out'] / 'figures').resolve()}  tables: {(result['out'] / 'geometry').resolve()}")
    typer.echo(f"\nThe real study on a chat model (GPU recommended):\n{REAL_STUDY}")


@app.command()
def run(
    study: Annotated[Path, typer.Argument(help="Study file (TOML), e.g. examples/demo.toml.")],
    out: Annotated[Path | None, typer.Option(help="Study directory (default: the study's 'out' or its name).")] = None,
    dry_run: Annotated[bool, typer.Option(help="List the stages and which are cached; run nothing.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Run a models x corpora study: extract, vectors, analyze, comparisons, figures and report."""
    from rich.table import Table

    from .runner import run_study

    result = run_study(study, out, dry_run=dry_run, progress=progress)
    table = Table(title=f"stages of {study}")
    for column in ("kind", "label", "status", "directory"):
        table.add_column(column)
    for stage in result["stages"]:
        status = stage["status"] if dry_run else ("reused" if stage["status"] == "cached" else stage["status"])
        table.add_row(stage["kind"], stage["label"], status, stage["directory"])
    if dry_run:
        from rich.console import Console

        Console(width=160).print(table)
        return
    counts = result["counts"]
    stderr_console.print(f"{counts['run']} stages run, {counts['cached']} reused from {result['out']}")
    results = (result["out"] / "results.csv").resolve()
    typer.echo(f"results: {results}\nreport: {result['report'].resolve()}")


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="A study directory written by 'emovec run'.")],
) -> None:
    """Write one self-contained report.html for a study directory."""
    from .study_report import write_study_report

    typer.echo(f"wrote {write_study_report(directory).resolve()}")


@app.command()
def version() -> None:
    """Print the emovec version."""
    from . import __version__

    typer.echo(__version__)


def _add_subcommands() -> None:
    from .cli_corpus import corpus_app
    from .cli_norms import norms_app

    app.add_typer(norms_app, name="norms")
    app.add_typer(corpus_app, name="corpus")


_add_subcommands()


def main() -> None:
    """Entry point: run the app, turning input errors into one line and exit code 2."""
    try:
        app()
    except EmovecError as err:
        stderr_console.print(f"[red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        stderr_console.print("interrupted; re-run the same command to resume")
        sys.exit(130)
