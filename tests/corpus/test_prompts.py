"""Prompt templates and topics: bundled files, user files, and one-line errors."""

from __future__ import annotations

import pytest

from emovec.corpus.generation import plan_neutral, plan_prompts
from emovec.corpus.prompts import load_template, load_topics
from emovec.errors import EmovecError


def test_bundled_templates_and_topics():
    stories, neutral = load_template("stories"), load_template("neutral")
    text = stories.render(topic="a letter arrives", n_stories=3, emotion="calm")
    assert "a letter arrives" in text and "calm" in text and "3" in text
    assert "{" not in neutral.render(topic="bus times", n_stories=2)
    topics = load_topics()
    assert len(topics) >= 100 and len(set(topics)) == len(topics)
    assert len(load_topics(kind="neutral")) >= 30


def test_user_templates_are_checked(tmp_path):
    good = tmp_path / "t.txt"
    good.write_text("Write {n_stories} stories about {topic} where someone feels {emotion}.")
    assert load_template("stories", good).source == str(good)
    bad = tmp_path / "bad.txt"
    bad.write_text("Write {n_stories} stories about {topic}.")
    with pytest.raises(EmovecError, match=r"lacks placeholder\(s\) \{emotion\}"):
        load_template("stories", bad)
    bad.write_text("Write {n_stories} {topic} {emotion} {mood}.")
    with pytest.raises(EmovecError, match=r"unknown placeholder\(s\) \{mood\}"):
        load_template("stories", bad)


def test_topics_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    with pytest.raises(EmovecError, match="empty.txt: the topics file is empty"):
        load_topics(empty)
    dup = tmp_path / "dup.txt"
    dup.write_text("a\nb\na\n")
    with pytest.raises(EmovecError, match="topic 3 is a duplicate"):
        load_topics(dup)


def test_plans_are_seeded_and_follow_the_design():
    template, topics = load_template("stories"), [f"topic {i}" for i in range(10)]
    sampled = plan_prompts(["calm", "sad"], topics, template, topics_per_emotion=3, seed=1)
    assert len(sampled) == 6 and len({j.prompt_id for j in sampled}) == 6
    assert [j.topic for j in sampled] == [j.topic for j in plan_prompts(["calm", "sad"], topics, template,
                                                                        topics_per_emotion=3, seed=1)]  # fmt: skip
    assert [j.topic for j in sampled] != [j.topic for j in plan_prompts(["calm", "sad"], topics, template,
                                                                        topics_per_emotion=3, seed=2)]  # fmt: skip
    assert len(plan_prompts(["calm"], topics, template, design="full")) == 10
    assert len(plan_neutral(7, ["x", "y"], load_template("neutral"), stories_per_prompt=3)) == 3
    with pytest.raises(EmovecError, match="only 10 topics"):
        plan_prompts(["calm"], topics, template, topics_per_emotion=11)
