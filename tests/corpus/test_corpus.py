"""Corpus reading: JSONL and Parquet, ids, extra fields, and one-line errors naming file, row and field."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from emovec import corpus_from_records, read_corpus
from emovec.errors import EmovecError


def test_jsonl_keeps_extra_fields_and_hashes_content(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"id": 1, "emotion": "sad", "text": "A.", "topic": "rain", "meta": {"k": 1}},
            {"id": "2", "emotion": "calm", "text": "B.", "topic": "sun"}]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    corpus = read_corpus(path)
    assert corpus.ids == ["1", "2"] and corpus.emotions == ["sad", "calm"] and corpus.texts == ["A.", "B."]
    assert list(corpus.table.columns)[:4] == ["id", "emotion", "text", "topic"]
    import hashlib

    assert corpus.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_ids_are_assigned_when_no_row_has_one(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"emotion": "sad", "text": "A."}\n\n{"emotion": "sad", "text": "B."}\n')
    assert read_corpus(path).ids == ["line-1", "line-3"]


def test_ids_missing_on_some_rows_is_an_error(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "emotion": "sad", "text": "A."}\n{"emotion": "sad", "text": "B."}\n')
    with pytest.raises(EmovecError, match=r"c.jsonl: line 2: field 'id' is missing"):
        read_corpus(path)


def test_parquet_round_trip_and_errors(tmp_path):
    path = tmp_path / "c.parquet"
    pd.DataFrame({"id": ["a", "b"], "emotion": ["sad", "calm"], "text": ["A.", "B."]}).to_parquet(path)
    assert read_corpus(path).ids == ["a", "b"]
    pd.DataFrame({"id": ["a"], "text": ["A."]}).to_parquet(path)
    with pytest.raises(EmovecError, match="column 'emotion' is missing"):
        read_corpus(path)
    pd.DataFrame({"id": ["a", "b"], "emotion": ["sad", None], "text": ["A.", "B."]}).to_parquet(path)
    with pytest.raises(EmovecError, match="row 2: field 'emotion' is missing"):
        read_corpus(path)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(EmovecError, match="cannot read as Parquet"):
        read_corpus(tmp_path / "bad.parquet")


@pytest.mark.parametrize(
    "row,message",
    [({"id": "a", "emotion": "sad", "text": "  "}, "field 'text' is empty"),
     ({"id": "a", "emotion": 3, "text": "A."}, "field 'emotion' must be a string"),
     (["not", "an", "object"], "expected a JSON object")],
)  # fmt: skip
def test_bad_rows(tmp_path, row, message):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(EmovecError, match=message):
        read_corpus(path)


def test_unknown_suffix_and_directory(tmp_path):
    (tmp_path / "c.csv").write_text("id,emotion,text\n")
    with pytest.raises(EmovecError, match="unknown corpus format '.csv'"):
        read_corpus(tmp_path / "c.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmovecError, match="no .jsonl corpus files"):
        read_corpus(empty)


def test_directory_of_jsonl_files(tmp_path):
    (tmp_path / "b.jsonl").write_text('{"emotion": "sad", "text": "B."}\n')
    (tmp_path / "a.jsonl").write_text('{"emotion": "calm", "text": "A."}\n{"emotion": "calm", "text": "C."}\n')
    corpus = read_corpus(tmp_path)
    assert corpus.ids == ["a/line-1", "a/line-2", "b/line-1"] and corpus.emotions == ["calm", "calm", "sad"]
    (tmp_path / "b.jsonl").write_text('{"emotion": "sad", "text": "B!"}\n')
    assert read_corpus(tmp_path).sha256 != corpus.sha256


def test_records_and_dataframes():
    rows = [{"id": "a", "emotion": "sad", "text": "A."}]
    assert corpus_from_records(rows).ids == ["a"]
    assert corpus_from_records(pd.DataFrame(rows)).sha256 == corpus_from_records(rows).sha256
    with pytest.raises(EmovecError, match="empty"):
        corpus_from_records([])


def test_shared_sonnet_corpus_reads(tmp_path):
    from conftest import SHARED_DATA

    stories = SHARED_DATA / "corpora" / "sonnet45-20emotions" / "stories"
    if not stories.exists():
        pytest.skip(f"shared data not found at {stories}")
    path = sorted(stories.glob("*.jsonl"))[0]
    corpus = read_corpus(path)
    assert len(corpus) > 0 and corpus.ids[0] == "line-1" and "topic" in corpus.table.columns
