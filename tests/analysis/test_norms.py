"""Norm sets: strict loaders for each official format, rescaling to [-1, 1], the cache, and matching."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from emovec.analysis.emotion_sets import load_emotion_set
from emovec.analysis.norms.loading import load_norms
from emovec.analysis.norms.matching import load_aliases, match_emotions
from emovec.analysis.norms.registry import NORM_SETS
from emovec.errors import EmovecError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "norms"
V1 = FIXTURES / "nrc_vad_v1.txt"
V21 = FIXTURES / "nrc_vad_v2.1.txt"
WARRINER = FIXTURES / "warriner.csv"
CUSTOM = FIXTURES / "custom.csv"


def one_line_error(call, *needles: str) -> str:
    with pytest.raises(EmovecError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, message
    return message


# ---------------------------------------------------------------- registry


def test_registry_entries_record_their_provenance():
    assert set(NORM_SETS) == {"russell1980", "warriner2013", "nrc-vad-v1", "nrc-vad-v2.1", "csv"}
    for name in ("warriner2013", "nrc-vad-v1", "nrc-vad-v2.1"):
        entry = NORM_SETS[name]
        assert entry.licensed and not entry.bundled
        assert entry.url.startswith("https://") and entry.terms_url.startswith("https://")
        assert entry.citation and entry.version and entry.licence and entry.filename
    assert NORM_SETS["nrc-vad-v1"].scale == (0.0, 1.0)
    assert NORM_SETS["nrc-vad-v2.1"].scale == (-1.0, 1.0)
    assert NORM_SETS["warriner2013"].scale == (1.0, 9.0)
    assert NORM_SETS["nrc-vad-v2.1"].url.endswith(".zip") and NORM_SETS["nrc-vad-v2.1"].archive_glob
    assert NORM_SETS["warriner2013"].url.endswith("Ratings_Warriner_et_al.csv")
    assert NORM_SETS["russell1980"].bundled and not NORM_SETS["russell1980"].licensed
    assert NORM_SETS["csv"].scale is None


# ---------------------------------------------------------------- each format, rescaled by hand


def test_nrc_v1_no_header_zero_one_scale():
    norms = load_norms(f"nrc-vad-v1:{V1}")
    assert norms.name == "nrc-vad-v1" and norms.version == "1.0 (2018)" and "Mohammad" in norms.citation
    assert norms.source == str(V1) and norms.original_scale == (0.0, 1.0)
    assert norms.dimensions == ["valence", "arousal", "dominance"]
    assert len(norms.table) == 12
    # 2 * (x - 0) / (1 - 0) - 1
    assert norms.table.loc["happy"].tolist() == pytest.approx([0.92, 0.464, 0.37])
    assert norms.table.loc["sad", "dominance"] == pytest.approx(-0.672)
    assert norms.table.loc["zorbish"].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert "proud" in norms.table.index and "Proud" not in norms.table.index


def test_nrc_v1_accepts_a_header_line(tmp_path):
    path = tmp_path / "v1.txt"
    path.write_text("Word\tValence\tArousal\tDominance\n" + V1.read_text())
    assert load_norms(f"nrc-vad-v1:{path}").table.equals(load_norms(f"nrc-vad-v1:{V1}").table)


def test_nrc_v21_header_minus_one_one_and_multi_word_terms():
    norms = load_norms(f"nrc-vad-v2.1:{V21}")
    assert norms.version == "2.1 (2025)" and norms.original_scale == (-1.0, 1.0)
    assert len(norms.table) == 13
    assert norms.table.loc["at ease"].tolist() == pytest.approx([0.7, -0.6, 0.3])
    assert norms.table.loc["on edge", "arousal"] == pytest.approx(0.68)
    assert norms.table.loc["worn out", "valence"] == pytest.approx(-0.42)
    assert norms.table.loc["blissful", "valence"] == 1.0 and norms.table.loc["furious", "valence"] == -1.0


def test_warriner_official_layout_one_to_nine():
    norms = load_norms(f"warriner2013:{WARRINER}")
    assert norms.version == "2013" and norms.original_scale == (1.0, 9.0) and "Warriner" in norms.citation
    # 2 * (x - 1) / 8 - 1
    assert norms.table.loc["happy"].tolist() == pytest.approx([0.5, -0.5, 0.0])
    assert norms.table.loc["sad"].tolist() == pytest.approx([-0.7, -0.3, -0.45])
    # the word "null" is a word, not a missing value; NA in unused columns (V.SD.M) is ignored
    assert norms.table.loc["null", "valence"] == pytest.approx(-0.2)
    # 'aids' and 'AIDS' are case variants: the lower-case spelling wins
    assert norms.table.loc["aids", "valence"] == pytest.approx(2 * (3.4 - 1) / 8 - 1)
    assert len(norms.table) == 11


def test_custom_csv_with_stated_scale():
    norms = load_norms(f"csv:{CUSTOM}", scale=(1, 7))
    assert norms.name == "csv" and norms.version is None and norms.original_scale == (1.0, 7.0)
    assert norms.dimensions == ["valence", "arousal"]
    # 2 * (x - 1) / 6 - 1
    assert norms.table.loc["calm"].tolist() == pytest.approx([0.8, -0.8])
    assert norms.table.loc["furious"].tolist() == pytest.approx([-0.9, 0.9])
    assert norms.table.loc["at ease", "valence"] == pytest.approx(0.7)
    assert list(norms.table.index) == ["calm", "at ease", "furious", "hopeful", "nervous"]


def test_custom_tsv_with_term_column_and_dominance(tmp_path):
    path = tmp_path / "mine.tsv"
    path.write_text("term\tarousal\tvalence\tdominance\nOn  Edge\t80\t20\t35\n")
    norms = load_norms(f"csv:{path}", scale=(0, 100))
    assert norms.dimensions == ["valence", "arousal", "dominance"]
    assert norms.table.loc["on edge"].tolist() == pytest.approx([-0.6, 0.6, -0.3])


def test_russell_bundled_circumplex():
    norms = load_norms("russell1980")
    assert norms.source == "bundled" and "Russell" in norms.citation and norms.original_scale == (-1.0, 1.0)
    assert norms.dimensions == ["valence", "arousal"]
    assert len(norms.table) == 28
    assert norms.table.loc["happy"].tolist() == pytest.approx([0.991, 0.136])
    assert norms.table.loc["sleepy"].tolist() == pytest.approx([0.033, -0.999])
    data = Path(__file__).parents[2] / "src" / "emovec" / "data" / "norms" / "russell1980.csv"
    rows = list(csv.DictReader(line for line in data.read_text().splitlines() if not line.startswith("#")))
    assert len(rows) == 28
    for row in rows:
        angle = math.radians(float(row["angle_deg"]))
        assert norms.table.loc[row["word"], "valence"] == pytest.approx(math.cos(angle), abs=1e-3)
        assert norms.table.loc[row["word"], "arousal"] == pytest.approx(math.sin(angle), abs=1e-3)


# ---------------------------------------------------------------- malformed files: file, line and field named


@pytest.mark.parametrize(
    ("spec", "fixture", "needles"),
    [
        ("nrc-vad-v2.1", "nrc_v21_bad_header.txt", ("line 1", "field 1", "'term'", "'word'")),
        ("nrc-vad-v2.1", "nrc_v21_out_of_range.txt", ("line 4", "field 'arousal'", "1.5", "-1..1")),
        ("nrc-vad-v2.1", "nrc_vad_v1.txt", ("line 1", "nrc-vad-v1:PATH")),
        ("nrc-vad-v1", "nrc_v1_wrong_columns.txt", ("line 2", "expected 4", "found 3")),
        ("nrc-vad-v1", "nrc_v1_non_numeric.txt", ("line 4", "field 'dominance'", "'high' is not a number")),
        ("nrc-vad-v1", "nrc_vad_v2.1.txt", ("line 1", "nrc-vad-v2.1:PATH")),
        ("warriner2013", "warriner_missing_column.csv", ("line 1", "A.Mean.Sum")),
        ("warriner2013", "warriner_non_numeric.csv", ("line 3", "field 'A.Mean.Sum'", "'NA' is not a number")),
        ("csv", "custom_missing_column.csv", ("line 1", "arousal")),
        ("csv", "custom_duplicate.csv", ("line 5", "field 'term'", "repeats line 2")),
    ],
)
def test_malformed_file_gives_one_line_naming_file_line_field(spec, fixture, needles):
    path = FIXTURES / fixture
    one_line_error(lambda: load_norms(f"{spec}:{path}", scale=(1, 7) if spec == "csv" else None), str(path), *needles)


def test_nrc_v1_value_outside_zero_one(tmp_path):
    path = tmp_path / "v1.txt"
    path.write_text("happy\t0.9\t0.5\t0.5\nsad\t-0.2\t0.3\t0.1\n")
    one_line_error(lambda: load_norms(f"nrc-vad-v1:{path}"), str(path), "line 2", "field 'valence'", "0..1")


def test_custom_csv_outside_stated_scale_and_wrong_width(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("word,valence,arousal\ncalm,6,2\nangry,2,8\n")
    one_line_error(lambda: load_norms(f"csv:{path}", scale=(1, 7)), str(path), "line 3", "field 'arousal'", "1..7")
    path.write_text("word,valence,arousal\ncalm,6,2,9\n")
    one_line_error(lambda: load_norms(f"csv:{path}", scale=(1, 7)), str(path), "line 2", "expected 3", "found 4")
    path.write_text("word,valence,arousal\n,6,2\n")
    one_line_error(lambda: load_norms(f"csv:{path}", scale=(1, 7)), "line 2", "field 'word'", "empty term")


def test_csv_needs_a_scale_and_fixed_sets_refuse_another():
    one_line_error(lambda: load_norms(f"csv:{CUSTOM}"), "scale")
    one_line_error(lambda: load_norms(f"warriner2013:{WARRINER}", scale=(0, 1)), "fixed scale 1..9")
    assert load_norms(f"warriner2013:{WARRINER}", scale=(1, 9)).original_scale == (1.0, 9.0)
    one_line_error(lambda: load_norms(f"csv:{CUSTOM}", scale=(7, 1)), "LO < HI")


def test_spec_errors(tmp_path):
    one_line_error(lambda: load_norms("anew1999"), "unknown norm set", "nrc-vad-v2.1", "csv:PATH")
    one_line_error(lambda: load_norms(str(CUSTOM)), "unknown norm set")
    one_line_error(lambda: load_norms(f"russell1980:{CUSTOM}"), "bundled")
    one_line_error(lambda: load_norms(f"nrc-vad-v2.1:{tmp_path / 'missing.txt'}"), "not found", "missing.txt")
    one_line_error(lambda: load_norms("csv", scale=(1, 7)), "csv:PATH")


# ---------------------------------------------------------------- the user cache


def test_licensed_set_without_path_or_cache_says_what_to_do(tmp_path):
    message = one_line_error(
        lambda: load_norms("nrc-vad-v2.1", cache_dir=tmp_path),
        "nrc-vad-v2.1:PATH",
        "emovec norms fetch nrc-vad-v2.1 --accept-terms",
        "https://saifmohammad.com/WebPages/nrc-vad.html",
    )
    assert str(tmp_path) in message


def test_licensed_set_loads_from_cache_dir_and_env(tmp_path, monkeypatch):
    folder = tmp_path / "norms" / "warriner2013"
    folder.mkdir(parents=True)
    (folder / "Ratings_Warriner_et_al.csv").write_bytes(WARRINER.read_bytes())
    norms = load_norms("warriner2013", cache_dir=tmp_path)
    assert norms.source == str(folder / "Ratings_Warriner_et_al.csv")
    assert norms.table.loc["happy", "valence"] == pytest.approx(0.5)
    monkeypatch.setenv("EMOVEC_CACHE", str(tmp_path))
    assert load_norms("warriner2013").source == norms.source


# ---------------------------------------------------------------- matching


def test_match_multi_word_unmatched_and_input_order():
    norms = load_norms(f"nrc-vad-v2.1:{V21}")
    emotions = ["worn out", "happy", "grief-stricken", "at ease", "zzz", "on edge", "sad"]
    result = match_emotions(emotions, norms)
    assert result.matched == ["worn out", "happy", "at ease", "on edge", "sad"]
    assert result.unmatched == ["grief-stricken", "zzz"]
    assert list(result.values.index) == result.matched
    assert list(result.values.columns) == ["valence", "arousal", "dominance"]
    assert result.values.loc["at ease"].tolist() == pytest.approx([0.7, -0.6, 0.3])
    assert result.values.loc["worn out", "arousal"] == pytest.approx(-0.7)


def test_match_is_lower_case_exact():
    norms = load_norms(f"nrc-vad-v1:{V1}")
    result = match_emotions(["Happy", "PROUD", "happiness", "calm "], norms)
    assert result.matched == ["Happy", "PROUD", "calm "]
    assert result.unmatched == ["happiness"]
    assert result.values.loc["PROUD", "valence"] == pytest.approx(0.76)


def test_alias_map_is_applied_first():
    norms = load_norms(f"nrc-vad-v2.1:{V21}")
    aliases = load_aliases(FIXTURES / "aliases.csv")
    assert aliases == {"grief-stricken": "grief stricken", "worn-out": "worn out", "joyous": "blissful"}
    result = match_emotions(["grief-stricken", "joyous", "worn-out", "happy", "elated"], norms, aliases)
    assert result.matched == ["grief-stricken", "joyous", "worn-out", "happy"]
    assert result.unmatched == ["elated"]
    assert result.terms["grief-stricken"] == "grief stricken"
    assert result.values.loc["grief-stricken"].tolist() == pytest.approx([-0.9, 0.2, -0.7])
    assert result.values.loc["joyous", "valence"] == 1.0
    # an alias to a term the norms lack leaves the emotion unmatched, even if the emotion itself is there
    assert match_emotions(["happy"], norms, {"happy": "glee"}).unmatched == ["happy"]


def test_alias_file_errors(tmp_path):
    path = FIXTURES / "aliases_duplicate.csv"
    one_line_error(lambda: load_aliases(path), str(path), "line 4", "field 'emotion'", "line 2")
    bad = tmp_path / "aliases.csv"
    bad.write_text("word,norm\nx,y\n")
    one_line_error(lambda: load_aliases(bad), str(bad), "line 1", "emotion,term")
    bad.write_text("emotion,term\nx,y,z\n")
    one_line_error(lambda: load_aliases(bad), str(bad), "line 2", "expected 2")
    bad.write_text("emotion,term\nx,\n")
    one_line_error(lambda: load_aliases(bad), str(bad), "line 2", "field 'term'")


def test_duplicate_emotion_is_an_error():
    norms = load_norms("russell1980")
    one_line_error(lambda: match_emotions(["happy", "Happy"], norms), "duplicate emotion")


# ---------------------------------------------------------------- facts about the real data (shared/data/README.md)

needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared reference data (../shared/data) is absent")


@needs_shared
def test_warriner_covers_126_of_the_171_words():
    norms = load_norms(f"warriner2013:{SHARED_DATA / 'norms' / 'warriner2013' / 'Ratings_Warriner_et_al.csv'}")
    assert len(norms.table) == 13915 - 10  # ten case-variant pairs (aids/AIDS, tv/TV, ...) collapse
    assert norms.table.min().min() >= -1 and norms.table.max().max() <= 1
    result = match_emotions(load_emotion_set("anthropic171"), norms)
    assert len(result.matched) == 126
    assert {"alarmed", "at ease", "grief-stricken"} <= set(result.unmatched)
    # Warriner does list some multi-word terms ('action figure' ...), just none of the 171's
    assert "action figure" in norms.table.index
    assert not {"at ease", "on edge", "worn out"} & set(result.matched)


@needs_shared
def test_russell_covers_27_of_the_171_words_all_but_glad():
    result = match_emotions(load_emotion_set("anthropic171"), load_norms("russell1980"))
    assert len(result.matched) == 27
    russell = set(load_emotion_set("russell28"))
    assert russell - set(result.matched) == {"glad"}


@needs_shared
def test_bundled_russell_numbers_equal_the_reference_table():
    norms = load_norms("russell1980")
    with (SHARED_DATA / "norms" / "russell1980" / "circumplex28.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 28
    for row in rows:
        assert norms.table.loc[row["word"], "valence"] == float(row["valence_cos"])
        assert norms.table.loc[row["word"], "arousal"] == float(row["arousal_sin"])
