"""Story splitting on answers in the formats models actually produce."""

from __future__ import annotations

import pytest

from emovec.corpus.splitting import split_stories

A, B, C = "She opened the letter slowly.", "The train was late again, and 2 dogs barked.", "He fixed the tap."


@pytest.mark.parametrize(
    "answer",
    [
        f"1. {A}\n\n2. {B}\n\n3. {C}",
        f"1) {A}\n2) {B}\n3) {C}",
        f"Here are three stories:\n\n**Story 1: The Letter**\n{A}\n\n**Story 2: Late**\n{B}\n\n**Story 3**\n{C}\n\n"
        "I hope you enjoy these!",
        f"### Story 1\n{A}\n### Story 2\n{B}\n### Story 3\n{C}",
        f"**1. The Letter**\n{A}\n\n**2. Late**\n{B}\n\n**3. Tap**\n{C}",
        f"Story 1 - {A}\nStory 2 - {B}\nStory 3 - {C}",
        f"Sure! Here you go:\n\n{A}\n\n{B}\n\n{C}",
        f"The Letter\n\n{A}\n\nLate\n\n{B}\n\nTap\n\n{C}",
        f"{A}\n---\n{B}\n---\n{C}",
        f"1.\n{A}\n2.\n{B}\n3.\n{C}\n",
    ],
)
def test_formats_split_into_the_three_stories(answer):
    assert split_stories(answer, 3) == [A, B, C]


@pytest.mark.parametrize("answer", ["", "1. Only one story here.", f"1. {A}\n2. {B}", "word " * 50])
def test_unsplittable_answers_return_none(answer):
    assert split_stories(answer, 3) is None


def test_one_story_is_the_whole_answer():
    assert split_stories(f"  {A}  ", 1) == [A]
