"""``emovec steer``: generate with emotion vectors added to the residual stream, and sweep strengths."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from emovec.cli.options import DType, finite
from emovec.errors import EmovecError
from emovec.progress import stderr_console


class Phase(str, Enum):
    prompt = "prompt"
    response = "response"
    all = "all"


def steer(
    model: Annotated[str, typer.Option(help="Hub id, local folder, .gguf or bundled name of the vectors' model.")],
    vectors: Annotated[Path, typer.Option(help="Vectors directory written by 'emovec vectors'.")],
    out: Annotated[Path, typer.Option(help="Output directory: steer.csv, steer.json, figures/sweep.png.")],
    emotion: Annotated[list[str], typer.Option(help="Emotion to steer (repeat for several).")],
    strength: Annotated[list[str], typer.Option(help="Fraction of the residual norm: 0.1, a list -0.1,0,0.1 or a "
                                                     "sweep -0.2:0.2:0.05 (one for all emotions, or one each).")],
    layers: Annotated[str | None, typer.Option(help="'0.66', '14-18', '12,14' or 'all' (every vector layer); "
                                                    "default: the vector layer nearest 2/3 depth.")] = None,
    phase: Annotated[Phase, typer.Option(help="prompt tokens, response (the prompt's last token and every "
                                              "generated token), or all.")] = Phase.response,
    prompt: Annotated[list[str] | None, typer.Option(help="A prompt (repeat for several).")] = None,
    prompts: Annotated[Path | None, typer.Option(help="Prompts: .txt (one per line) or .jsonl/.csv with a column "
                                                      "(default: emovec's 12 neutral prompts).")] = None,
    prompt_column: Annotated[str, typer.Option(help="Column of --prompts holding the prompt.")] = "prompt",
    chat: Annotated[bool, typer.Option(help="Prompts as a user turn of the chat template.")] = True,
    max_new_tokens: Annotated[int, typer.Option(help="Tokens to generate per reply.", min=1)] = 48,
    temperature: Annotated[float, typer.Option(help="0 is greedy.", min=0.0, callback=finite)] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling with --temperature > 0.", min=0.0, max=1.0)] = 1.0,
    seed: Annotated[list[int] | None, typer.Option(help="Sampling seed (repeat for several).")] = None,
    control: Annotated[bool, typer.Option(help="Add random-direction rows of the same norm.")] = True,
    readback: Annotated[bool, typer.Option(help="Read each reply back with the unsteered model (scores, "
                                                "perplexity).")] = True,
    batch_size: Annotated[int, typer.Option(help="Prompts per batch.", min=1)] = 8,
    dtype: Annotated[DType, typer.Option(help="Weights and activations dtype.")] = DType.float32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps ...")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Generate with emotion vectors added (strength x residual norm x unit vector at each steered layer), read
    the replies back with the unsteered model, and plot read-back and perplexity against strength."""
    from emovec.models.loading import load_model
    from emovec.report.steering import write_steering
    from emovec.steering.strengths import check_steerable
    from emovec.steering.sweep import bundled_prompts, plan_conditions, read_prompts, run_sweep
    from emovec.vectors.emotion_vectors import load_vectors

    if prompt and prompts:
        raise EmovecError("give --prompt or --prompts, not both")
    texts = list(prompt) if prompt else read_prompts(prompts, prompt_column) if prompts else bundled_prompts()
    conditions = plan_conditions([e.strip().lower() for e in emotion], strength, control=control)
    loaded_vectors = load_vectors(vectors)
    check_steerable(loaded_vectors, sorted({e for c in conditions for e in c.strengths}), loaded_vectors.layers)
    loaded = load_model(model, device=device, dtype=dtype.value)
    table, settings = run_sweep(loaded, loaded_vectors, texts, conditions, layers=layers, phase=phase.value,
                                chat=chat, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                seeds=seed or [0], readback=readback, batch_size=batch_size,
                                progress=progress)  # fmt: skip
    for message in settings["warnings"]:
        stderr_console.print(f"warning: {message}", highlight=False)
    write_steering(out, table, settings)
    for name, onset in (settings.get("incoherent_from") or {}).items():
        sides = [f"{v:+g}" for v in (onset["negative"], onset["positive"]) if v is not None]
        if sides:
            stderr_console.print(f"{name}: most replies are incoherent (perplexity > 8x unsteered, or repeating) at "
                                 f"strength {' and '.join(sides)}", highlight=False)  # fmt: skip
    shown = table.drop_duplicates(["condition", "strength"]).head(6)
    for _, row in shown.iterrows():
        typer.echo(f"[{row['condition']} {row['strength']:+g}] {row['text'][:100]!r}")
    stderr_console.print(f"wrote {out}: steer.csv ({len(table)} rows), steer.json"
                         + (", figures/sweep.png" if table["strength"].nunique() > 1 else ""))  # fmt: skip


def _emotion_list(text: str | None) -> list[str] | None:
    return [e.strip().lower() for e in text.split(",") if e.strip()] if text else None


def next_word(
    model: Annotated[str, typer.Option(help="Hub id, local folder, .gguf or bundled name of the vectors' model.")],
    vectors: Annotated[Path, typer.Option(help="Vectors directory written by 'emovec vectors'.")],
    out: Annotated[Path, typer.Option(help="Output directory: next_word.csv, next_word.json, figures/.")],
    emotions: Annotated[str | None, typer.Option(help="Emotions (words and vectors), comma-separated; "
                                                      "default all.")] = None,
    stems: Annotated[Path | None, typer.Option(help="Stems: .txt, one per line (default: emovec's 24).")] = None,
    strength: Annotated[float, typer.Option(help="Fraction of the residual norm.", callback=finite)] = 0.1,
    layers: Annotated[str | None, typer.Option(help="'0.66', '14-18', '12,14' or 'all'.")] = None,
    permutations: Annotated[int, typer.Option(help="Permutations for the p-value.", min=0)] = 1000,
    batch_size: Annotated[int, typer.Option(help="Rows per batch.", min=1)] = 16,
    dtype: Annotated[DType, typer.Option(help="Weights and activations dtype.")] = DType.float32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps ...")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Next-word test: the change in log-probability of each emotion word after stems such as "He feels" when
    each emotion is steered; matching words against the rest, with a permutation p."""
    from emovec.models.loading import load_model
    from emovec.report.steering import write_next_word
    from emovec.steering.next_word import next_word_test
    from emovec.steering.strengths import check_steerable
    from emovec.steering.sweep import read_prompts
    from emovec.vectors.emotion_vectors import load_vectors

    loaded_vectors = load_vectors(vectors)
    chosen = _emotion_list(emotions)
    check_steerable(loaded_vectors, chosen or loaded_vectors.emotions, loaded_vectors.layers, "emotions")
    stem_list = read_prompts(stems, "stem") if stems else None
    loaded = load_model(model, device=device, dtype=dtype.value)
    result = next_word_test(loaded, loaded_vectors, chosen, stem_list, strength=strength, layers=layers,
                            permutations=permutations, batch_size=batch_size, progress=progress)  # fmt: skip
    write_next_word(out, result)
    typer.echo(f"next-word test at strength {strength:g}, layers {result.settings['layers']}: matching words "
               f"{result.matching:+.3f} nats, non-matching {result.non_matching:+.3f} (p_perm {result.p_perm:.3g})")
    stderr_console.print(f"wrote {out}: next_word.csv, next_word.json, figures/next_word.png")


def preferences(
    model: Annotated[str, typer.Option(help="Hub id, local folder, .gguf or bundled name of the vectors' model.")],
    vectors: Annotated[Path, typer.Option(help="Vectors directory written by 'emovec vectors'.")],
    out: Annotated[Path, typer.Option(help="Output directory: activities.csv, emotions.csv, preferences.json.")],
    emotions: Annotated[str | None, typer.Option(help="Emotions to steer, comma-separated; default all.")] = None,
    strength: Annotated[float, typer.Option(help="Strength on the steered activities' tokens.",
                                            callback=finite)] = 0.5,
    layers: Annotated[str | None, typer.Option(help="'0.66', '14-18', '12,14' or 'all'.")] = None,
    per_category: Annotated[int | None, typer.Option(help="Only the first N activities of each category "
                                                          "(default: all 64).", min=1)] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of pairs for Elo intervals.", min=0)] = 200,
    batch_size: Annotated[int, typer.Option(help="Questions per batch.", min=1)] = 16,
    dtype: Annotated[DType, typer.Option(help="Weights and activations dtype.")] = DType.float32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1, mps ...")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Preference test: every ordered pair of activities as a two-option question (both orders), Elo ratings,
    their correlation with each emotion's probe, and the rating change when the emotion is steered on half the
    activities' tokens."""
    from emovec.models.loading import load_model
    from emovec.report.steering import write_preferences
    from emovec.steering.preferences import bundled_activities, preference_test
    from emovec.steering.strengths import check_steerable
    from emovec.vectors.emotion_vectors import load_vectors

    loaded_vectors = load_vectors(vectors)
    chosen = _emotion_list(emotions)
    check_steerable(loaded_vectors, chosen or loaded_vectors.emotions, loaded_vectors.layers, "emotions")
    loaded = load_model(model, device=device, dtype=dtype.value)
    result = preference_test(loaded, loaded_vectors, bundled_activities(per_category), chosen, strength=strength,
                             layers=layers, bootstrap=bootstrap, batch_size=batch_size, progress=progress)  # fmt: skip
    write_preferences(out, result)
    summary = result.summary
    cats = ", ".join(f"{c} {v:+.0f}" for c, v in sorted(summary["elo_by_category"].items(), key=lambda x: -x[1]))
    typer.echo(f"{summary['activities']} activities, {summary['questions']} questions; mean Elo by category: {cats}")
    typer.echo(f"position bias: P(A) = {result.position_bias:.2f} on average (cancelled by asking both orders)")
    typer.echo(f"steering at {strength:g} on the steered half: r(Elo change, probe-Elo r) over "
               f"{summary['emotions']} emotions = {summary['r_change_vs_probe_elo']:.2f}")
    stderr_console.print(f"wrote {out}: activities.csv, emotions.csv, preferences.json, figures/")
