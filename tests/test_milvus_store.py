"""The Milvus store (Milvus Lite, no server) against the file store, on the real index."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import IndexMismatchError, StoreError
from rag.milvus_store import MilvusStore, client_uri, lexical_text
from rag.store import Where
from rag.text import tokenize

pytest.importorskip("milvus_lite")

QUESTIONS = (
    "By how much did Chinese exports to North Korea rise in September?",
    "Who did Pak Myong Ho meet?",
    "Kim Jong Un train Beijing",
)


@pytest.fixture()
def store(bundled_index, tmp_path):
    s = MilvusStore(f"milvus://{tmp_path / 'chunks.db'}")
    assert s.sync(bundled_index.chunks, bundled_index.chunk_vectors, bundled_index.articles,
                  bundled_index.model) == (len(bundled_index.chunks), 0)
    yield s
    s.close()


def _positions(index, hits):
    return [index.chunk_position[cid] for cid, _ in hits]


def test_dense_and_bm25_candidates_match_the_file_store(bundled_index, store):
    embedder = bundled_index.embedder()
    for question in QUESTIONS:
        vector = embedder.encode_query(question)
        exact = np.argsort(-(bundled_index.chunk_vectors @ vector), kind="stable")[:10]
        assert _positions(bundled_index, store.dense(vector, 10)) == list(exact)
        terms = list(dict.fromkeys(tokenize(question)))
        scores = bundled_index.bm25().get_scores(terms)
        expected = [int(i) for i in np.argsort(-scores, kind="stable")[:10] if scores[i] > 0]
        assert _positions(bundled_index, store.lexical(terms, 10)) == expected


def test_filters_restrict_and_fail_closed(bundled_index, store):
    vector = bundled_index.embedder().encode_query(QUESTIONS[0])
    speaker = store.dense(vector, 50, Where(sources=("the speaker",)))
    assert speaker and {bundled_index.articles[bundled_index.chunks[p].article_id].source
                        for p in _positions(bundled_index, speaker)} == {"The Speaker"}
    assert store.dense(vector, 10, Where(sources=("No Such Outlet",))) == []
    assert store.lexical(["trade"], 10, Where(since="2099-01-01")) == []
    # An undated chunk never passes a date restriction.
    dated = store.dense(vector, 50, Where(since="1900-01-01"))
    assert all(bundled_index.articles[bundled_index.chunks[p].article_id].published
               for p in _positions(bundled_index, dated))


def test_an_incremental_sync_writes_only_what_changed(bundled_index, store):
    chunks, vectors = bundled_index.chunks, bundled_index.chunk_vectors
    keep = [i for i, c in enumerate(chunks) if c.article_id != chunks[0].article_id]
    inserted, deleted = store.sync([chunks[i] for i in keep], vectors[keep],
                                   bundled_index.articles, bundled_index.model)
    assert (inserted, deleted) == (0, len(chunks) - len(keep))
    assert store.count() == len(keep)
    assert store.sync(chunks, vectors, bundled_index.articles, bundled_index.model) == (
        len(chunks) - len(keep), 0)
    assert store.chunk_ids() == {c.id for c in chunks}


def test_a_collection_built_with_another_model_is_refused(bundled_index, store):
    with pytest.raises(IndexMismatchError, match=r"all-MiniLM-L6-v2.*other-model"):
        store.check("other-model", bundled_index.dimension)
    with pytest.raises(IndexMismatchError, match="384"):
        store.check(bundled_index.model, 768)


@pytest.mark.parametrize("uri, says", [
    ("milvus://127.0.0.1:1", "cannot reach the Milvus store at milvus://127.0.0.1:1"),
    ("milvus:///no/such/folder/x.db", "folder /no/such/folder does not exist"),
    ("milvus://not a host", "expected milvus://HOST:PORT"),
    ("http://localhost:19530", "not a Milvus URI"),
])
def test_a_bad_or_unreachable_uri_is_a_clear_error(uri, says):
    with pytest.raises(StoreError, match=says):
        MilvusStore(uri).exists()


def test_a_damaged_milvus_file_is_a_clear_error(bundled_index, store, tmp_path):
    import shutil

    store.close()
    # A copy: Milvus Lite keeps serving a file it has open from memory.
    damaged = tmp_path / "damaged.db"
    shutil.copytree(tmp_path / "chunks.db", damaged)
    files = list(damaged.rglob("*.json"))
    assert files
    for f in files:
        f.write_bytes(b"\xff\xfe not json")
    with pytest.raises(StoreError, match=r"damaged\.db"):
        MilvusStore(f"milvus://{damaged}").check(bundled_index.model, 384)
    not_a_database = tmp_path / "plain.db"
    not_a_database.write_bytes(b"garbage" * 100)
    with pytest.raises(StoreError, match=r"plain\.db.*Milvus Lite database"):
        MilvusStore(f"milvus://{not_a_database}").exists()


def test_uris_and_words():
    assert client_uri("milvus://milvus.internal:19531") == "http://milvus.internal:19531"
    assert client_uri("milvus://localhost") == "http://localhost:19530"
    assert client_uri("milvus:///data/x.db") == "/data/x.db"
    # One Milvus word per token of ours, whatever punctuation it holds.
    assert lexical_text("Exports rose 30.75% to O'Brien's") == "export rose 30_75_ o_brien"
    assert Where(sources=('Say "hi"',)).expression() == 'source in ["say \\"hi\\""]'
