"""``emovec probe``: read emotion vectors off text, token by token or per text."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from emovec.cli.options import ChatRole, DType, Padding, TextFormat
from emovec.errors import EmovecError
from emovec.progress import stderr_console


class Positions(str, Enum):
    tokens = "tokens"
    mean = "mean"
    last = "last"
    reply_start = "reply-start"


class Score(str, Enum):
    cosine = "cosine"
    projection = "projection"


def probe(
    model: Annotated[str, typer.Option(help="Hub id, local folder, .gguf or bundled name of the vectors' model.")],
    vectors: Annotated[Path, typer.Option(help="Vectors directory written by 'emovec vectors'.")],
    out: Annotated[Path, typer.Option(help="Output directory: scores.parquet, probe.html, probe.json.")],
    text: Annotated[list[str] | None, typer.Option(help="A text to probe (repeat for several).")] = None,
    file: Annotated[Path | None, typer.Option(help="Texts: .jsonl or .csv with a text column, or one .txt.")] = None,
    text_column: Annotated[str, typer.Option(help="Column of --file holding the text.")] = "text",
    layers: Annotated[str, typer.Option(help="'all', indices '12,20' or fractions of depth '0.66'.")] = "0.66",
    text_format: Annotated[TextFormat, typer.Option(help="raw text, or one turn of the chat template.")] = (
        TextFormat.raw
    ),
    chat_role: Annotated[ChatRole, typer.Option(help="Role of the text's turn in the chat format.")] = ChatRole.user,
    positions: Annotated[Positions, typer.Option(help="Scores per token, or per text at the mean, the last token, "
                                                      "or where the assistant's reply starts.")] = Positions.tokens,
    score: Annotated[Score, typer.Option(help="cosine of the centred activation, or its projection.")] = (
        Score.cosine
    ),
    emotions: Annotated[str | None, typer.Option(help="Only these emotions, comma-separated.")] = None,
    reference: Annotated[str | None, typer.Option(help="Activations directory whose mean centres the scores, or "
                                                       "'texts' (the texts' own mean; default: the vectors' grand "
                                                       "mean).")] = None,
    color_by: Annotated[str | None, typer.Option(help="Emotion shown first in probe.html.")] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per batch.", min=1)] = 8,
    max_length: Annotated[int, typer.Option(help="Truncate texts to this many tokens.", min=1)] = 512,
    padding_side: Annotated[Padding, typer.Option(help="Results are identical either way.")] = Padding.right,
    dtype: Annotated[DType, typer.Option(help="Weights and activations dtype.")] = DType.float32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps ...")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Score texts against emotion vectors (centred cosine or projection) and write a token heatmap page."""
    from emovec.probing.inputs import read_table
    from emovec.probing.probe import probe as run_probe

    if (text is None) == (file is None):
        raise EmovecError("give the texts with --text or --file (one of them)")
    if file is not None:
        table = read_table(file, text_column)
        ids, texts = table["id"].tolist(), table["text"].tolist()
    else:
        ids, texts = [str(i) for i in range(1, len(text) + 1)], list(text)
    chosen = [e.strip() for e in emotions.split(",") if e.strip()] if emotions else None
    result = run_probe(model, vectors, texts, ids=ids, layers=layers, text_format=text_format.value,
                       chat_role=chat_role.value, positions=positions.value, score=score.value, emotions=chosen,
                       reference=reference, batch_size=batch_size, padding_side=padding_side.value,
                       max_length=max_length, device=device, dtype=dtype.value, progress=progress)  # fmt: skip
    result.save(out, emotion=color_by)
    if positions != Positions.tokens:
        layer = result.layers[-1]
        for text_id, top in zip(result.ids, result.top(layer, 3)):
            typer.echo(f"{text_id}: " + ", ".join(f"{e} {v:+.3f}" for e, v in top) + f"  (layer {layer})")
    stderr_console.print(f"wrote {out}: scores.parquet, probe.html ({len(texts)} texts, layers "
                         f"{', '.join(map(str, result.layers))}, {len(result.emotions)} emotions)")  # fmt: skip


class Battery(str, Enum):
    scenarios = "scenarios"
    templates = "templates"
    all = "all"
    labelled = "labelled"


def detect(
    model: Annotated[str, typer.Option(help="Hub id, local folder, .gguf or bundled name of the vectors' model.")],
    vectors: Annotated[Path, typer.Option(help="Vectors directory written by 'emovec vectors'.")],
    out: Annotated[Path, typer.Option(help="Output directory: detection.csv/.json, intensity.csv, figures.")],
    battery: Annotated[Battery, typer.Option(help="Which battery to run.")] = Battery.all,
    file: Annotated[Path | None, typer.Option(help="Your scenarios: .jsonl/.csv with text and target columns "
                                                   "(default: the bundled ones).")] = None,
    text_column: Annotated[str, typer.Option(help="Column of --file holding the text.")] = "text",
    target_column: Annotated[str, typer.Option(help="Column of --file holding the target emotion.")] = "target",
    templates: Annotated[Path | None, typer.Option(help="Intensity templates JSON (default: bundled).")] = None,
    label_column: Annotated[str | None, typer.Option(help="labelled: column of --file holding a label.")] = None,
    label_map: Annotated[Path | None, typer.Option(help="labelled: CSV label,emotion mapping labels to vectors.")] = (
        None
    ),
    ratings: Annotated[str | None, typer.Option(help="labelled: rating columns, e.g. valence,arousal.")] = None,
    norms: Annotated[str, typer.Option(help="labelled: norms that define the valence/arousal axes.")] = "russell1980",
    layers: Annotated[str, typer.Option(help="'all' (every vector layer), '12,20' or '0.66'.")] = "all",
    positions: Annotated[Positions, typer.Option(help="Where each text is read.")] = Positions.reply_start,
    text_format: Annotated[TextFormat, typer.Option(help="chat (needed for reply-start) or raw.")] = TextFormat.chat,
    reference: Annotated[str, typer.Option(help="'texts' (each battery's own mean at the read position), "
                                                "'grand-mean' (the vectors' corpus) or an activations directory.")] = (
        "texts"
    ),
    permutations: Annotated[int, typer.Option(help="Permutations of the targets for p-values.", min=0)] = 1000,
    random_sets: Annotated[int, typer.Option(help="Sets of random directions of matched norm.", min=0)] = 100,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Texts per batch.", min=1)] = 8,
    dtype: Annotated[DType, typer.Option(help="Weights and activations dtype.")] = DType.float32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps ...")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Detection batteries: implied-emotion scenarios (top-k accuracy, permutation and random nulls) and
    intensity templates (score against a number in the text)."""
    from emovec.models.loading import load_model
    from emovec.probing.battery import bundled_scenarios, bundled_templates, read_templates
    from emovec.probing.detect import detect_intensity, detect_scenarios
    from emovec.probing.inputs import read_table
    from emovec.report.detection import best_layer, write_detection
    from emovec.vectors.emotion_vectors import load_vectors

    if battery == Battery.labelled:
        _labelled(model, vectors, out, file, text_column, label_column, label_map, ratings, norms, layers, positions,
                  text_format, reference, permutations, seed, batch_size, dtype, device, progress)  # fmt: skip
        return
    if file is not None:
        table = read_table(file, text_column)
        if target_column not in table:
            raise EmovecError(f"{file}: no column {target_column!r} (choose one with --target-column)")
        texts = table.assign(target=table[target_column].astype(str).str.strip().str.lower())
    else:
        texts = bundled_scenarios()
    chosen_templates = read_templates(templates) if templates else bundled_templates()
    loaded_vectors = load_vectors(vectors)
    loaded = load_model(model, device=device, dtype=dtype.value)
    common = dict(layers=layers, positions=positions.value, text_format=text_format.value, batch_size=batch_size,
                  reference=reference, progress=progress)  # fmt: skip
    result = intensity = per_template = emotions = None
    if battery in (Battery.scenarios, Battery.all):
        result = detect_scenarios(loaded, loaded_vectors, texts, permutations=permutations, random_sets=random_sets,
                                  seed=seed, **common)  # fmt: skip
        row = result.table.loc[result.table["layer"] == best_layer(result.table)].iloc[0]
        p = f", p_perm {row['top1_p_perm']:.3g}" if "top1_p_perm" in row else ""
        r = f", random directions {row['top1_random_mean']:.2f}" if "top1_random_mean" in row else ""
        typer.echo(f"scenarios: {int(row['n'])} texts, {int(row['n_emotions'])} emotions; best layer "
                   f"{int(row['layer'])}: top-1 {row['top1']:.2f} (chance {row['chance_top1']:.2f}{r}{p}), "
                   f"top-3 {row['top3']:.2f}")  # fmt: skip
    if battery in (Battery.templates, Battery.all):
        intensity, per_template, emotions = detect_intensity(loaded, loaded_vectors, chosen_templates, **common)
        mean = intensity.groupby("layer")["signed_spearman"].mean()
        typer.echo(f"intensity: {intensity['template'].nunique()} templates; mean signed Spearman "
                   f"{mean.max():+.2f} at layer {int(mean.idxmax())} (+1: every expected emotion moves as expected)")
    write_detection(out, result, intensity, per_template, chosen_templates, emotions)
    stderr_console.print(f"wrote {out}: detection.json, figures/")


def _labelled(model, vectors, out, file, text_column, label_column, label_map, ratings, norms, layers, positions,
              text_format, reference, permutations, seed, batch_size, dtype, device, progress) -> None:  # fmt: skip
    from emovec.analysis.norms.loading import load_norms
    from emovec.models.loading import load_model
    from emovec.probing.inputs import read_table
    from emovec.probing.labelled import evaluate_labels, evaluate_ratings, read_label_map
    from emovec.report.detection import write_detection
    from emovec.vectors.emotion_vectors import load_vectors

    if file is None or (label_column is None and ratings is None):
        raise EmovecError("--battery labelled needs --file and --label-column or --ratings")
    table = read_table(file, text_column)
    if label_column is not None and label_column not in table:
        raise EmovecError(f"{file}: no column {label_column!r} (--label-column)")
    loaded_vectors = load_vectors(vectors)
    mapping = read_label_map(label_map, loaded_vectors.emotions) if label_map else None
    norm_set = load_norms(norms) if ratings else None
    loaded = load_model(model, device=device, dtype=dtype.value)
    pos = positions.value if positions != Positions.reply_start or text_format == TextFormat.chat else "mean"
    common = dict(layers=layers, positions=pos, text_format=text_format.value, permutations=permutations, seed=seed,
                  batch_size=batch_size, progress=progress)  # fmt: skip
    tables, notes = {}, {}
    if label_column is not None:
        labels, unmapped = evaluate_labels(loaded, loaded_vectors, table, label_column, mapping, reference=reference,
                                           **common)  # fmt: skip
        tables["labels"], notes["unmapped_labels"] = labels, unmapped
        best = labels.loc[labels["top1"].idxmax()]
        typer.echo(f"labels: {int(best['n'])} texts, {int(best['n_labels'])} labels; best layer {int(best['layer'])}: "
                   f"top-1 {best['top1']:.2f}, top-3 {best['top3']:.2f}, macro-F1 {best['macro_f1']:.2f}")  # fmt: skip
        if unmapped:
            typer.echo(f"unmapped labels (left out): {', '.join(unmapped)}")
    if ratings is not None:
        columns = [c.strip() for c in ratings.split(",") if c.strip()]
        rated = evaluate_ratings(loaded, loaded_vectors, norm_set, table, columns, **common)
        tables["ratings"] = rated
        for (dim, axis), group in rated.groupby(["rating", "axis"]):
            best = group.loc[group["spearman"].idxmax()]
            typer.echo(f"{dim} ({axis} axis): best Spearman {best['spearman']:+.2f} at layer {int(best['layer'])}")
    write_detection(out, None, tables=tables, notes=notes)
    stderr_console.print(f"wrote {out}: {', '.join(f'{n}.csv' for n in tables)}, detection.json")
