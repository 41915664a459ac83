"""Bundled emotion sets and word-list files."""

from __future__ import annotations

import csv

import pytest
from conftest import SHARED_DATA

from emovec.analysis.emotion_sets import EMOTION_SETS, load_emotion_set
from emovec.errors import EmovecError


def test_registry_names_and_citations():
    assert set(EMOTION_SETS) == {"anthropic171", "russell28"}
    assert "Sofroniew" in EMOTION_SETS["anthropic171"]
    assert "Russell" in EMOTION_SETS["russell28"]


def test_anthropic171_has_171_unique_lower_case_words():
    words = load_emotion_set("anthropic171")
    assert len(words) == 171
    assert len(set(words)) == 171
    assert all(word == word.lower().strip() and not word.startswith("#") for word in words)
    assert {"at ease", "on edge", "worn out", "grief-stricken", "afraid", "worthless"} <= set(words)


def test_russell28_has_the_28_circumplex_words():
    words = load_emotion_set("russell28")
    assert len(words) == 28 == len(set(words))
    assert words[0] == "happy" and words[-1] == "pleased"
    assert {"at ease", "glad", "droopy", "sleepy"} <= set(words)


def test_word_file_comments_blank_lines_case_and_spaces(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("# my emotions\n\n  Happy \nAt   Ease\n# another comment\nsad\n")
    assert load_emotion_set(str(path)) == ["happy", "at ease", "sad"]


def test_duplicate_word_names_file_and_lines(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_text("# header\nhappy\nsad\nHappy\n")
    with pytest.raises(EmovecError) as info:
        load_emotion_set(str(path))
    message = str(info.value)
    assert str(path) in message and "line 4" in message and "first on line 2" in message and "'happy'" in message
    assert "\n" not in message


def test_unknown_name_lists_bundled_sets():
    with pytest.raises(EmovecError) as info:
        load_emotion_set("anthropic170")
    message = str(info.value)
    assert "anthropic171" in message and "russell28" in message and "\n" not in message


def test_empty_list_is_an_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("# nothing here\n\n")
    with pytest.raises(EmovecError, match="no emotion words"):
        load_emotion_set(str(path))


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared reference data (../shared/data) is absent")
def test_bundled_lists_match_the_reference_data():
    lines = [line.strip() for line in (SHARED_DATA / "emotions" / "anthropic171.txt").read_text().splitlines()]
    assert load_emotion_set("anthropic171") == [line.lower() for line in lines if line]
    with (SHARED_DATA / "norms" / "russell1980" / "circumplex28.csv").open(newline="") as handle:
        assert load_emotion_set("russell28") == [row["word"] for row in csv.DictReader(handle)]
