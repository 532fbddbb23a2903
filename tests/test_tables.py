"""The tables of a large index, read on demand (rag/tables.py), against the same build
loaded whole: same records, same columns, same answers; damage is refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import rag
from rag import index as index_module
from rag.errors import CorruptIndexError
from rag.index_format import resolve_build
from rag.tables import CHUNK_SPANS, SENTENCE_OFFSETS, TABLES, Rows, SlicedChunks


@pytest.fixture()
def lazy_index(default_index_dir, monkeypatch):
    """The bundled index loaded as a large one is (its five articles count as many)."""
    monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    return rag.load_index(default_index_dir)


def test_records_read_on_demand_equal_the_whole_tables(lazy_index, bundled_index):
    assert isinstance(lazy_index.article_list, Rows)
    assert isinstance(lazy_index.chunks, SlicedChunks)  # made from text + spans, not parsed
    assert not isinstance(bundled_index.chunks, Rows)
    assert list(lazy_index.article_list) == list(bundled_index.article_list)
    assert list(lazy_index.chunks) == list(bundled_index.chunks)
    assert lazy_index.chunks[-1] == bundled_index.chunks[-1]
    assert lazy_index.chunks[1:3] == bundled_index.chunks[1:3]
    with pytest.raises(IndexError):
        lazy_index.chunks[len(bundled_index.chunks)]
    for name in ("article_sources", "article_days", "chunk_article"):
        assert getattr(lazy_index, name).tolist() == getattr(bundled_index, name).tolist()
    assert lazy_index.article_position == bundled_index.article_position
    assert lazy_index.chunk_position == bundled_index.chunk_position
    some = bundled_index.article_list[2]
    assert lazy_index.articles[some.id] == some and some.id in lazy_index.articles
    assert lazy_index.sources() == bundled_index.sources()
    assert lazy_index.date_span() == bundled_index.date_span()


@pytest.mark.parametrize("question", [
    "By how much did Chinese exports to North Korea rise in September?",
    "What did Kim Jong Un and Xi Jinping agree on?",
])
def test_the_lazy_tables_give_the_same_answers(lazy_index, bundled_index, question):
    config = rag.Config(scope=True)
    a = rag.ask(question, index=lazy_index, config=config)
    b = rag.ask(question, index=bundled_index, config=config)
    assert a.to_dict()["citations"] == b.to_dict()["citations"] and a.text == b.text
    assert [h.chunk_id for h in rag.search(question, index=lazy_index, config=config)] == [
        h.chunk_id for h in rag.search(question, index=bundled_index, config=config)]


def test_a_column_that_disagrees_with_the_records_is_refused(default_index_dir, tmp_path,
                                                             monkeypatch):
    monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    copy = tmp_path / "index"
    shutil.copytree(default_index_dir, copy)
    build = resolve_build(copy)
    owner = np.load(build / TABLES / "chunk_article.npy")
    owner[-1] = json.loads((build / "manifest.json").read_text())["counts"]["articles"]
    np.save(build / TABLES / "chunk_article.npy", owner)  # same size: only the check sees it
    with pytest.raises(CorruptIndexError, match="articles not in the article table"):
        rag.load_index(copy)


def _copy(default_index_dir, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(default_index_dir, copy)
    return copy, resolve_build(copy)


def _without_column(default_index_dir, tmp_path, name):
    """A copy of the index as written before the column ``name`` of tables/."""
    copy, build = _copy(default_index_dir, tmp_path)
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest["files"][f"{TABLES}/{name}"]
    (build / "manifest.json").write_text(json.dumps(manifest))
    (build / TABLES / name).unlink()
    return copy


def test_a_build_without_the_span_column_parses_its_chunk_records(
        default_index_dir, bundled_index, tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    copy = _without_column(default_index_dir, tmp_path, CHUNK_SPANS)
    older = rag.load_index(copy)
    assert isinstance(older.chunks, Rows)
    assert list(older.chunks) == list(bundled_index.chunks)


def test_a_span_column_that_disagrees_with_the_records_is_refused(default_index_dir, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    copy, build = _copy(default_index_dir, tmp_path)
    spans = np.load(build / TABLES / CHUNK_SPANS)
    spans[0, 1] -= 1  # the first chunk one character short
    np.save(build / TABLES / CHUNK_SPANS, spans)
    with pytest.raises(CorruptIndexError, match=CHUNK_SPANS):
        rag.load_index(copy)


def test_sentence_offsets_are_read_from_the_build_not_counted(lazy_index, bundled_index):
    assert lazy_index._columns.sentence_offsets is not None
    assert lazy_index.sentence_offsets.tolist() == bundled_index.sentence_offsets.tolist()
    assert lazy_index.sentence_offsets[-1] == len(bundled_index.sentences)


def test_a_build_without_sentence_offsets_counts_them(default_index_dir, bundled_index,
                                                       tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    copy = _without_column(default_index_dir, tmp_path, SENTENCE_OFFSETS)
    older = rag.load_index(copy)
    assert older._columns.sentence_offsets is None
    assert older.sentence_offsets.tolist() == bundled_index.sentence_offsets.tolist()


def test_sentence_offsets_that_disagree_with_the_sentences_are_refused(
        default_index_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    copy, build = _copy(default_index_dir, tmp_path)
    offsets = np.load(build / TABLES / SENTENCE_OFFSETS)
    offsets[2] += 1  # one sentence moved to the wrong article; same size on disk
    np.save(build / TABLES / SENTENCE_OFFSETS, offsets)
    with pytest.raises(CorruptIndexError, match="out of range or order"):
        rag.load_index(copy)
    offsets[-1] += 1
    np.save(build / TABLES / SENTENCE_OFFSETS, offsets)
    with pytest.raises(CorruptIndexError, match="sentence offsets do not match"):
        rag.load_index(copy)


def test_a_sentence_outside_its_article_is_refused(default_index_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    copy, build = _copy(default_index_dir, tmp_path)
    sentences = np.load(build / "sentences.npy")
    sentences[-1, 2] = 10**9  # the last sentence ends past its article's text
    np.save(build / "sentences.npy", sentences)
    with pytest.raises(CorruptIndexError, match="outside their articles' text"):
        rag.load_index(copy)
