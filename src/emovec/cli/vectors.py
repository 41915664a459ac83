"""``emovec vectors``, ``analyze``, ``compare`` and ``export``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from emovec.cli.display import print_geometry
from emovec.cli.options import ExportFormat, Weighting, finite, unit_fraction
from emovec.errors import EmovecError
from emovec.locks import exclusive_lock
from emovec.progress import stderr_console


def vectors(
    activations: Annotated[Path, typer.Option(help="Activations directory written by 'emovec extract'.")],
    out: Annotated[Path, typer.Option(help="Output vectors directory.")],
    emotions: Annotated[str | None, typer.Option(help="Emotion set: anthropic171, russell28 or a file.")] = None,
    weighting: Annotated[Weighting, typer.Option(help="Token-weighted or story-weighted emotion means.")] = (
        Weighting.token
    ),
    neutral: Annotated[Path | None, typer.Option(help="Activations of a neutral corpus, for denoising.")] = None,
    denoise_variance: Annotated[
        float,
        typer.Option(help="Variance of neutral PCs to project out, in (0, 1].", callback=unit_fraction),
    ] = 0.5,
) -> None:
    """Build contrast vectors (emotion mean minus mean over emotions), optionally denoised."""
    from emovec.analysis.emotion_sets import load_emotion_set
    from emovec.vectors.build import build_vectors

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
            f"note: {len(missing)} emotions of the set have no stories: {', '.join(missing[:10])}"
        )


def analyze(
    vectors: Annotated[Path, typer.Option(help="Vectors directory or community .npz.")],
    norms: Annotated[str, typer.Option(help="Norm set NAME or NAME:PATH (see 'emovec norms list').")],
    out: Annotated[Path, typer.Option(help="Output directory for geometry.csv and geometry.json.")],
    components: Annotated[int, typer.Option(help="Top principal components to report.", min=2)] = 10,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over emotions (0 = none).", min=0)] = 0,
    permutations: Annotated[int, typer.Option(help="Permutations for p-values (0 = none).", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    readout_folds: Annotated[int, typer.Option(help="Folds of the ridge readout (0 = leave-one-out).")] = 10,
    clusters: Annotated[int, typer.Option(help="k of k-means (at most the number of emotions).", min=1)] = 10,
    aliases: Annotated[Path | None, typer.Option(help="CSV emotion,term mapping emotions to norm terms.")] = None,
    norms_scale: Annotated[str | None, typer.Option(help="Scale LO,HI of a csv norm file, e.g. 1,9.")] = None,
    activations: Annotated[Path | None, typer.Option(help="The vectors' activations, for --bootstrap-stories.")] = None,
    bootstrap_stories: Annotated[int, typer.Option(help="Bootstrap resamples of stories within emotions.", min=0)] = 0,
) -> None:
    """Measure the layer-wise geometry of emotion vectors against human valence/arousal norms."""
    from emovec.analysis.layer_geometry import analyze as run_analyze
    from emovec.analysis.norms.loading import load_norms
    from emovec.analysis.norms.matching import load_aliases
    from emovec.vectors.emotion_vectors import load_vectors

    loaded = load_vectors(vectors)
    norm_set = load_norms(norms, scale=_parse_scale(norms_scale))
    with exclusive_lock(out):  # for the whole run: a second analyze into OUT is refused at once
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
    print_geometry(geometry)
    stderr_console.print(
        f"wrote {out}/geometry.csv and geometry.json ({len(geometry.matched)} of {len(loaded.emotions)} emotions "
        f"matched in {norm_set.name}; unmatched: {', '.join(geometry.unmatched[:10]) or 'none'})"
    )


def export(
    vectors: Annotated[Path, typer.Option(help="Vectors directory or community .npz.")],
    emotion: Annotated[str, typer.Option(help="The emotion to export.")],
    out: Annotated[Path, typer.Option(help="Output file, e.g. joy.gguf.")],
    format: Annotated[ExportFormat, typer.Option("--format", help="Export format.")] = ExportFormat.gguf,
    scale: Annotated[float, typer.Option(help="Multiply the vectors by this factor.")] = 1.0,
    layers: Annotated[str, typer.Option(help="Layers to include (default all blocks).")] = "all",
    model_hint: Annotated[str | None, typer.Option(help="controlvector.model_hint (default: model class).")] = None,
    strength: Annotated[float | None, typer.Option(help="Write strength x residual norm x unit vector (emovec "
                                                        "steer's unit) instead of the raw vectors.",
                                                   callback=finite)] = None,
) -> None:
    """Export one emotion's vectors as a llama.cpp control vector (GGUF): emovec layer k becomes direction.(k-1),
    which llama.cpp adds to the output of its layer k-1 (emovec's layer k); layers 0 and 1 have no slot."""
    from emovec.models.layers import parse_layer_spec
    from emovec.vectors.emotion_vectors import load_vectors
    from emovec.vectors.gguf import export_gguf

    loaded = load_vectors(vectors)
    chosen = None
    if layers != "all":
        n_blocks = int(loaded.metadata.get("n_blocks") or max(loaded.layers))
        chosen = parse_layer_spec(layers, n_blocks)
    path = export_gguf(loaded, emotion, out, scale=scale, layers=chosen, model_hint=model_hint, strength=strength)
    unit = f"strength {strength}" if strength is not None else f"scale {scale}"
    stderr_console.print(f"wrote {path} (control vector for {emotion!r}, {unit}); read back and checked")


def compare(
    a: Annotated[Path, typer.Option(help="First vectors directory or .npz.")],
    b: Annotated[Path, typer.Option(help="Second vectors directory or .npz.")],
    out: Annotated[Path, typer.Option(help="Output directory for compare.csv and cka.csv.")],
) -> None:
    """Compare two vector sets: RSA and CKA by layer, cosine of matched directions, CKA across layers."""
    from emovec.analysis.compare import cka_matrix, compare_by_layer
    from emovec.vectors.emotion_vectors import load_vectors

    first, second = load_vectors(a), load_vectors(b)
    by_layer, cka = compare_by_layer(first, second), cka_matrix(first, second)
    with exclusive_lock(out):
        for name, table, index in (("compare.csv", by_layer, False), ("cka.csv", cka, True)):
            partial = out / f"{name}.partial"
            table.to_csv(partial, index=index, float_format="%.6g")
            partial.replace(out / name)
    typer.echo(by_layer.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    stderr_console.print(f"wrote {out}/compare.csv and cka.csv")


def _parse_scale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise EmovecError(f"--norms-scale {text!r}: expected LO,HI such as 1,9") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise EmovecError(f"--norms-scale {text!r}: needs finite LO < HI such as 1,9")
    return low, high
