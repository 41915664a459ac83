"""Generation end to end with a tiny random chat model, and with scripted answers for retries and failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emovec import load_model
from emovec.corpus.backends import HFBackend
from emovec.corpus.generation import GenerationSettings, failures_path, generate_corpus, neutral_path
from emovec.corpus.prompts import load_template
from emovec.errors import EmovecError

TOPICS = ["a letter arrives", "a plan changes", "someone returns", "the power goes out"]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(load_model(tiny_model_dir("qwen2")))


def settings(**kw) -> GenerationSettings:
    return GenerationSettings(**{"max_new_tokens": 16, "seed": 5, "batch_size": 3, **kw})


def test_tiny_chat_model_end_to_end_is_seeded(backend, tmp_path):
    calls = []
    original = backend.loaded.tokenizer.apply_chat_template

    def spy(messages, **kw):
        calls.append(messages)
        return original(messages, **kw)

    backend.loaded.tokenizer.apply_chat_template = spy
    try:
        report = generate_corpus(backend, ["calm", "sad"], tmp_path / "a.jsonl", topics=TOPICS, topics_per_emotion=2,
                                 stories_per_prompt=1, neutral=2, settings=settings(), progress=False)  # fmt: skip
    finally:
        backend.loaded.tokenizer.apply_chat_template = original
    assert report["stories"]["stories"] == 4 and report["neutral"]["stories"] == 2
    assert calls and calls[0][0]["role"] == "user" and "feels calm" in calls[0][0]["content"]
    got = rows(tmp_path / "a.jsonl")
    assert {r["emotion"] for r in got} == {"calm", "sad"} and all(r["text"] for r in got)
    for key in ("generator", "prompt_sha256", "topic", "seed", "temperature", "top_p", "created", "qc"):
        assert key in got[0]
    assert rows(neutral_path(tmp_path / "a.jsonl"))[0]["emotion"] == "neutral"
    generate_corpus(backend, ["calm", "sad"], tmp_path / "b.jsonl", topics=TOPICS, topics_per_emotion=2,
                    stories_per_prompt=1, settings=settings(), progress=False)  # fmt: skip
    assert [r["text"] for r in rows(tmp_path / "b.jsonl")] == [r["text"] for r in got]  # same seed, same corpus
    generate_corpus(backend, ["calm", "sad"], tmp_path / "c.jsonl", topics=TOPICS, topics_per_emotion=2,
                    stories_per_prompt=1, settings=settings(seed=6), progress=False)  # fmt: skip
    assert [r["text"] for r in rows(tmp_path / "c.jsonl")] != [r["text"] for r in got]


class Interrupting:
    """Wraps a backend and stops the run (like Ctrl-C) after ``after`` batches."""

    def __init__(self, inner, after: int):
        self.inner, self.after, self.name = inner, after, inner.name

    @property
    def model_id(self):
        return self.inner.model_id

    def generate(self, prompts, settings, seed):
        if self.after == 0:
            raise KeyboardInterrupt
        self.after -= 1
        return self.inner.generate(prompts, settings, seed)


def test_interrupted_generation_resumes_to_the_same_corpus(backend, tmp_path):
    args = dict(topics=TOPICS, topics_per_emotion=3, stories_per_prompt=1, settings=settings(batch_size=1),
                progress=False)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        generate_corpus(Interrupting(backend, after=2), ["calm", "sad"], tmp_path / "x.jsonl", **args)
    assert len(rows(tmp_path / "x.jsonl")) == 2
    report = generate_corpus(backend, ["calm", "sad"], tmp_path / "x.jsonl", **args)
    assert report["stories"]["skipped"] == 2 and report["stories"]["stories"] == 4
    generate_corpus(backend, ["calm", "sad"], tmp_path / "y.jsonl", **args)
    resumed, straight = rows(tmp_path / "x.jsonl"), rows(tmp_path / "y.jsonl")
    assert sorted((r["id"], r["text"]) for r in resumed) == sorted((r["id"], r["text"]) for r in straight)
    more = generate_corpus(backend, ["calm", "sad", "happy"], tmp_path / "x.jsonl", **args)  # appendable
    assert more["stories"]["skipped"] == 6 and more["stories"]["stories"] == 3


class Scripted:
    """A backend that returns prepared answers in order."""

    name = "scripted"
    model_id = ("scripted", None)

    def __init__(self, answers):
        self.answers = list(answers)

    def generate(self, prompts, settings, seed):
        return [self.answers.pop(0) for _ in prompts]


def test_unparseable_answers_are_retried_then_recorded(tmp_path):
    good = "1. " + " ".join(["calm"] * 3 + ["word"] * 50) + "\n2. " + " ".join(["other"] * 60)
    # batch size 1, retried prompts go to the back: calm#0, sad#0, calm#1, sad#1, sad#2
    backend = Scripted(["one blob", "one blob", good, "still one blob", "one blob"])
    report = generate_corpus(
        backend,
        ["calm", "sad"],
        tmp_path / "s.jsonl",
        topics=TOPICS[:1],
        topics_per_emotion=1,
        stories_per_prompt=2,
        settings=settings(batch_size=1, retries=2),
        progress=False,
    )
    counts = report["stories"]
    assert counts["stories"] == 2 and counts["failures"] == 1 and counts["retries"] == 3
    failed = rows(failures_path(tmp_path / "s.jsonl"))
    assert len(failed) == 1 and failed[0]["emotion"] == "sad" and failed[0]["attempt"] == 2
    stored = rows(tmp_path / "s.jsonl")
    assert stored[0]["qc"]["leak"] == "calm" and stored[1]["qc"]["leak"] is None  # leakage flagged
    filtered = generate_corpus(Scripted([]), ["calm", "sad"], tmp_path / "s.jsonl", topics=TOPICS[:1],
                               topics_per_emotion=1, stories_per_prompt=2, settings=settings(), filter_flagged=True,
                               progress=False)  # fmt: skip
    assert filtered["stories"]["quality"]["dropped"] == 1 and len(rows(tmp_path / "s.jsonl")) == 1


def test_model_without_chat_template_is_refused(minilm_dir):
    with pytest.raises(EmovecError, match="no chat template"):
        HFBackend(load_model(minilm_dir))


def test_vllm_backend_when_installed(tiny_model_dir, tmp_path):
    pytest.importorskip("vllm", reason="vllm is not installed (optional extra)")
    from emovec.corpus.backends import VLLMBackend

    backend = VLLMBackend(str(tiny_model_dir("qwen2")))
    report = generate_corpus(backend, ["calm"], tmp_path / "v.jsonl", topics=TOPICS, topics_per_emotion=1,
                             stories_per_prompt=1, settings=settings(), progress=False)  # fmt: skip
    assert report["stories"]["stories"] == 1


def test_bundled_template_is_used_by_default(backend, tmp_path):
    generate_corpus(backend, ["calm"], tmp_path / "d.jsonl", topics=TOPICS, topics_per_emotion=1, stories_per_prompt=1,
                    settings=settings(), progress=False)  # fmt: skip
    assert rows(tmp_path / "d.jsonl")[0]["prompt_sha256"] == load_template("stories").sha256


def fake_vllm(hf_backend):
    """A stand-in for the ``vllm`` module with the API emovec calls (``LLM``, ``SamplingParams``, ``LLM.chat``),
    answering with the Hugging Face backend, so both backends' rows can be compared field by field."""
    import types

    module = types.ModuleType("vllm")
    seen: dict = {}

    class SamplingParams:
        def __init__(self, temperature, top_p, max_tokens, seed):
            self.settings = GenerationSettings(temperature=temperature, top_p=top_p, max_new_tokens=max_tokens)
            self.seed = seed

    class LLM:
        def __init__(self, model, revision=None, trust_remote_code=False, **engine):
            seen.update(model=model, revision=revision, trust_remote_code=trust_remote_code)

        def chat(self, conversations, params, use_tqdm=True):
            assert all(len(c) == 1 and c[0]["role"] == "user" for c in conversations) and use_tqdm is False
            texts = hf_backend.generate([c[0]["content"] for c in conversations], params.settings, params.seed)
            output = types.SimpleNamespace
            return [output(outputs=[output(text=t)]) for t in texts]

    module.LLM, module.SamplingParams, module.seen = LLM, SamplingParams, seen
    return module


def test_vllm_backend_keeps_the_hf_format_and_qc(backend, monkeypatch, tmp_path):
    from emovec.corpus.backends import VLLMBackend

    module = fake_vllm(backend)
    monkeypatch.setitem(__import__("sys").modules, "vllm", module)
    vllm_backend = VLLMBackend("some/model", revision="abc")
    assert module.seen == {"model": "some/model", "revision": "abc", "trust_remote_code": False}
    for name, engine in (("hf", backend), ("vllm", vllm_backend)):
        generate_corpus(engine, ["calm", "sad"], tmp_path / f"{name}.jsonl", topics=TOPICS, topics_per_emotion=2,
                        stories_per_prompt=1, neutral=1, settings=settings(), progress=False)  # fmt: skip
    for path in (lambda n: tmp_path / f"{n}.jsonl", lambda n: neutral_path(tmp_path / f"{n}.jsonl")):
        hf, vllm = rows(path("hf")), rows(path("vllm"))
        assert len(hf) == len(vllm) > 0
        for a, b in zip(hf, vllm):
            assert a.keys() == b.keys()
            assert b["backend"] == "vllm" and b["generator"] == "some/model"
            varying = {"backend", "generator", "generator_revision", "created"}
            assert {k: v for k, v in a.items() if k not in varying} == {k: v for k, v in b.items() if k not in varying}
