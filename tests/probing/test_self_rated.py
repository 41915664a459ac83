"""Self-rated norms: expected digits against plain HF, the CSV as a norm set, refusals, the CLI."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from emovec.analysis.norms.loading import load_norms
from emovec.cli.app import main
from emovec.errors import EmovecError
from emovec.models.loading import load_model
from emovec.models.tiny import build_tiny_model
from emovec.probing.self_rated import PROMPTS, answer_format, rate_norms, rate_words

WORDS = ["calm", "at ease", "heartbroken", "sad", "grief-stricken"]  # different lengths: batches get padding
RUSSELL_WORDS = ["happy", "sad", "calm", "tense", "bored", "delighted"]


@pytest.fixture(scope="module")
def spread_model(tmp_path_factory):
    """``spread_model(arch)``: a tiny random model with large weights, so each prompt gets its own digit
    distribution (at the default scale they are all near uniform and a padding error would hide)."""
    cache = {}

    def make(arch: str):
        if arch not in cache:
            cache[arch] = build_tiny_model(arch, tmp_path_factory.mktemp(f"{arch}-spread"),
                                           config_overrides={"initializer_range": 0.5})  # fmt: skip
        return cache[arch]

    return make


def reference_ratings(folder, words: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each prompt alone through plain HF: softmax over the vocabulary at the last token, the digits' share."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    digits = [tokenizer.convert_tokens_to_ids(str(d)) for d in range(1, 8)]
    assert len(set(digits)) == 7 and tokenizer.unk_token_id not in digits
    out = {}
    for dim, prompt in PROMPTS.items():
        values, masses = [], []
        for word in words:
            text = tokenizer.apply_chat_template([{"role": "user", "content": prompt.format(word=word)}],
                                                 tokenize=False, add_generation_prompt=True) + "Rating: "  # fmt: skip
            ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
            assert tokenizer(text + "5", add_special_tokens=False)["input_ids"] == [*ids[0].tolist(), digits[4]]
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0, -1].double()
            p = logits.softmax(dim=-1)[digits]
            masses.append(float(p.sum()))
            values.append(float((p / p.sum() * torch.arange(1, 8, dtype=torch.float64)).sum()))
        out[dim] = (np.array(values), np.array(masses))
    return out


@pytest.mark.parametrize("arch", ["llama", "gpt2"])  # rotary positions, and learned absolute ones
def test_expected_digit_equals_each_prompt_alone_under_left_padding(spread_model, arch):
    folder = spread_model(arch)
    want = reference_ratings(folder, WORDS)
    loaded = load_model(folder)
    for batch_size in (1, 3):
        got = rate_words(loaded, WORDS, batch_size=batch_size, progress=False)
        assert list(got.columns) == ["word", "valence", "arousal", "valence_digit_mass", "arousal_digit_mass"]
        assert list(got["word"]) == WORDS
        for dim, (values, masses) in want.items():
            np.testing.assert_allclose(got[dim], values, rtol=0, atol=1e-5)
            np.testing.assert_allclose(got[f"{dim}_digit_mass"], masses, rtol=1e-5, atol=1e-9)
    assert np.ptp(want["valence"][0]) > 0.05  # the prompts differ enough for the check to mean something


def test_csv_is_a_norm_set_on_the_scale_1_7(tiny_model_dir, tmp_path):
    rated = rate_norms(tiny_model_dir("llama"), RUSSELL_WORDS, compare=["russell1980"], batch_size=4, progress=False)
    csv_path, json_path = rated.save(tmp_path / "out" / "rated.csv")
    assert json_path == tmp_path / "out" / "rated.json"
    norms = load_norms(f"csv:{csv_path}", scale=(1, 7))
    assert list(norms.table.index) == RUSSELL_WORDS and norms.dimensions == ["valence", "arousal"]
    for dim in ("valence", "arousal"):
        values = rated.table.set_index("word")[dim]
        assert values.between(1, 7).all()
        np.testing.assert_allclose(norms.table[dim], (values - 1) / 3 - 1, atol=1e-6)
    document = json.loads(json_path.read_text())
    assert document["prompts"] == PROMPTS and document["answer_prefill"] == "Rating: "
    assert document["scale"] == [1.0, 7.0] and document["n_words"] == len(RUSSELL_WORDS)
    (comparison,) = document["comparisons"]
    assert comparison["norms"] == "russell1980" and comparison["n_shared"] == len(RUSSELL_WORDS)
    for dim in ("valence", "arousal"):
        stats = comparison[dim]
        assert stats["n"] == len(RUSSELL_WORDS) and -1 <= stats["pearson_r"] <= 1 and -1 <= stats["spearman_rho"] <= 1
    assert not list((tmp_path / "out").glob("*.tmp")) and not list((tmp_path / "out").glob("*.lock"))


def test_base_models_and_encoders_are_refused_in_one_line(tiny_model_dir):
    base = load_model(tiny_model_dir("llama"))
    base.tokenizer.chat_template = None
    with pytest.raises(EmovecError, match="no chat template") as info:
        rate_words(base, ["calm"], progress=False)
    assert "\n" not in str(info.value)
    with pytest.raises(EmovecError, match="is an encoder") as info:
        rate_words(tiny_model_dir("bert"), ["calm"], progress=False)
    assert "\n" not in str(info.value)


class PieceTokenizer:
    """A stand-in tokenizer: ``pattern`` cuts the text into pieces, each a token (ids assigned on first sight)."""

    name_or_path, unk_token_id = "pieces", None

    def __init__(self, pattern: str, rewrite=lambda text: text):
        self.pattern, self.rewrite, self.vocab = re.compile(pattern), rewrite, {}

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        pieces = self.pattern.findall(self.rewrite(text))
        return {"input_ids": [self.vocab.setdefault(piece, len(self.vocab)) for piece in pieces]}

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        pieces = {i: piece for piece, i in self.vocab.items()}
        return [pieces[i] for i in ids]


def test_the_digit_form_follows_how_the_tokenizer_splits_the_answer():
    split = answer_format(PieceTokenizer(r"\d|[^\d\s]+|\s"), "Q? ")  # "Rating: 5" -> "Rating:", " ", "5"
    assert split.prefill == "Rating: " and split.digit_tokens == tuple("1234567")
    joined = answer_format(PieceTokenizer(r" ?\d| ?[^\d\s]+|\s"), "Q? ")  # "Rating: 5" -> "Rating:", " 5"
    assert joined.prefill == "Rating:" and joined.digit_tokens == tuple(f" {d}" for d in range(1, 8))
    two_tokens = PieceTokenizer(r"\d|[^\d\s]+|\s", rewrite=lambda text: text.replace("7", "77"))  # "7": 2 tokens
    with pytest.raises(EmovecError, match=r"not single, distinct tokens after 'Rating:' \('Rating: 7' does not end"):
        answer_format(two_tokens, "Q? ")
    shared = PieceTokenizer(r"\d|[^\d\s]+|\s", rewrite=lambda text: re.sub(r"[1-7]", "0", text))  # one token for all
    with pytest.raises(EmovecError, match="digits share a token"):
        answer_format(shared, "Q? ")


@pytest.mark.slow
def test_bundled_smollm2_rates_words_with_digits(bundled_llm):
    loaded = bundled_llm("smollm2-135m-instruct")
    words = ["happy", "sad", "angry", "calm", "afraid", "bored", "excited", "relaxed", "depressed", "delighted",
             "tense", "sleepy"]  # fmt: skip
    got = rate_words(loaded, words, batch_size=12, progress=False)
    for dim in ("valence", "arousal"):
        assert got[dim].between(1, 7).all()
        mass = got[f"{dim}_digit_mass"]
        assert mass.between(0, 1).all() and mass.mean() > 0.5  # after "Rating: " the model answers with a digit
    alone = rate_words(loaded, words[:2], batch_size=1, progress=False)
    np.testing.assert_allclose(alone[["valence", "arousal"]], got[["valence", "arousal"]].iloc[:2], atol=1e-4)


def run(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code


def test_cli_writes_the_pair_and_prints_correlations(tiny_model_dir, tmp_path, capsys):
    words = tmp_path / "words.txt"
    words.write_text("\n".join(RUSSELL_WORDS) + "\n")
    out = tmp_path / "rated.csv"
    model = str(tiny_model_dir("llama"))
    code = run("norms", "rate", "--model", model, "--emotions", str(words), "--compare", "russell1980", "--out",
               str(out), "--batch-size", "4", "--no-progress")  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert re.search(r"vs russell1980: valence: Pearson r -?\d\.\d\d, Spearman rho -?\d\.\d\d \(n 6\)", captured.out)
    assert "Self-rated norms" in captured.out and "wrote" in captured.err
    assert list(load_norms(f"csv:{out}", scale=(1, 7)).table.index) == RUSSELL_WORDS
    assert json.loads(out.with_suffix(".json").read_text())["model"] == model


def one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--emotions", "nosuchset"], ["--emotions", "unknown emotion set 'nosuchset'"]),
        (["--compare", "nosuchnorms"], ["--compare", "unknown norm set 'nosuchnorms'"]),
        (["--compare", "csv:missing.csv", "--compare-scale", "1,7"], ["--compare", "not found"]),
        (["--out", "rated.txt"], ["--out", "name the CSV file"]),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tiny_model_dir, tmp_path, capsys, args, needles):
    base = ["norms", "rate", "--model", str(tiny_model_dir("llama")), "--out", str(tmp_path / "rated.csv")]
    assert run(*base, "--no-progress", *args) == 2
    line = one_error_line(capsys)
    for needle in needles:
        assert needle in line, line
    assert not (tmp_path / "rated.csv").exists()


def test_cli_refuses_a_model_without_chat_template(tiny_model_dir, tmp_path, capsys):
    folder = shutil.copytree(tiny_model_dir("llama"), tmp_path / "base")
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    assert run("norms", "rate", "--model", str(folder), "--out", str(tmp_path / "r.csv"), "--no-progress") == 2
    assert "no chat template" in one_error_line(capsys)
