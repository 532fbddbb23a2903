"""The store an index searches for candidates: the file store (default) and Milvus Lite
give the same cited answers on real MultiHop-RAG articles and questions; filters fail
closed on both; incremental adds reach both; an unreachable or damaged Milvus is a
clear error that leaves the index as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import rag
from rag.errors import RagError, StoreError
from rag.store import FileStore, Where

pytest.importorskip("milvus_lite")

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "multihop-rag"
N_QUESTIONS = 12


def _sample() -> tuple[list[dict], list[str]]:
    """The articles that hold the evidence of the first non-null queries, and those queries."""
    if not (DATASET / "corpus.json").exists():
        pytest.skip(f"MultiHop-RAG is not at {DATASET}")
    corpus = json.loads((DATASET / "corpus.json").read_text(encoding="utf-8"))
    queries = json.loads((DATASET / "queries.json").read_text(encoding="utf-8"))
    by_title = {r["title"]: r for r in corpus}
    picked: dict[str, dict] = {}
    questions = []
    for q in queries[::37]:
        titles = [e["title"] for e in q["evidence_list"]]
        if not titles or not all(t in by_title for t in titles):
            continue
        questions.append(q["query"])
        for t in titles:
            picked[t] = by_title[t]
        if len(questions) == N_QUESTIONS:
            break
    return list(picked.values()), questions


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory):
    """One corpus indexed twice: with the file store, and (reusing its vectors) with Milvus."""
    records, questions = _sample()
    corpus = tmp_path_factory.mktemp("store-corpus")
    (corpus / "news.json").write_text(json.dumps(records), encoding="utf-8")
    files_dir = tmp_path_factory.mktemp("files-index")
    config = rag.Config(part_model=None)
    rag.build_index([corpus], files_dir, config=config, progress=False)
    milvus_dir = tmp_path_factory.mktemp("milvus-index")
    shutil.copytree(files_dir, milvus_dir, dirs_exist_ok=True)  # its vectors are reused
    uri = f"milvus://{milvus_dir / 'chunks.db'}"
    report = rag.build_index([corpus], milvus_dir, config=config.replace(store=uri),
                             progress=False)
    assert report.embedded == 0
    files, milvus = rag.load_index(files_dir), rag.load_index(milvus_dir)
    yield files, milvus, questions, uri, corpus, milvus_dir
    milvus.store.close()


def _cited(answer):
    return [(c.article_id, c.start, c.end) for c in answer.citations]


def test_the_manifest_records_the_store(two_stores):
    files, milvus, _, uri, _, _ = two_stores
    assert isinstance(files.store, FileStore)
    assert files.manifest["store"] == {"kind": "files"}
    assert milvus.manifest["store"]["kind"] == "milvus"
    assert milvus.manifest["store"]["uri"] == uri
    assert milvus.info()["store"]["uri"] == uri


def test_both_stores_give_the_same_cited_answers(two_stores):
    files, milvus, questions, _, _, _ = two_stores
    assert len(questions) == N_QUESTIONS
    same_top = 0
    for question in questions:
        a, b = rag.search(question, k=10, index=files), rag.search(question, k=10, index=milvus)
        same_top += [h.chunk_id for h in a] == [h.chunk_id for h in b]
        assert _cited(rag.ask(question, index=files)) == _cited(rag.ask(question, index=milvus))
    # Milvus's BM25 and exact dense search rank as ours do: every top 10 the same.
    assert same_top == N_QUESTIONS


def test_filters_fail_closed_on_both(two_stores):
    files, milvus, questions, _, _, _ = two_stores
    for index in (files, milvus):
        assert rag.search(questions[0], index=index, sources=["No Such Outlet"]) == []
        assert rag.search(questions[0], index=index, since="2099-01-01") == []
        answer = rag.ask(questions[0], index=index, sources=["No Such Outlet"])
        assert answer.abstained and not answer.citations
    outlet = files.sources()[0]
    for index in (files, milvus):
        hits = rag.search(questions[0], index=index, sources=[outlet])
        assert hits and all(h.source == outlet for h in hits)


def test_where_combines_restrictions():
    a = Where(sources=("TechCrunch", "The Verge"), since="2023-01-01")
    b = Where(sources=("the verge",), until="2023-12-31")
    both = a.both(b)
    assert both.sources == ("The Verge",)
    assert (both.since, both.until) == ("2023-01-01", "2023-12-31")
    assert Where(days=("2023-10-01",)).both(Where(days=("2023-10-02",))).days == ()


def test_an_incremental_add_reaches_milvus(two_stores, tmp_path):
    _, milvus, _, uri, _, root = two_stores
    before = milvus.store.count()
    note = tmp_path / "note.md"
    note.write_text("---\ntitle: Ferry resumes\nsource: Harbour Gazette\npublished: 2024-03-02\n"
                    "---\nThe Dandong ferry to Nampo resumed sailing on Saturday after four "
                    "years, the harbour office said.\n", encoding="utf-8")
    with pytest.raises(RagError, match="not an index folder"):
        rag.add_files(milvus.path, [note])  # a build folder, not the index
    results, report = rag.add_files(root, [note])
    assert results[0].status == "added" and report is not None
    grown = rag.load_index(root)
    try:
        assert grown.manifest["store"]["uri"] == uri  # an add keeps the index's store
        assert grown.store.count() == before + 1
        # The added article is found through Milvus, and the answer quotes it.
        # (Which quote leads is the composer's choice, not the store's: rag/lead.py.)
        question = "When did the Dandong ferry to Nampo resume?"
        hits = rag.search(question, index=grown, k=3)
        assert hits and hits[0].source == "Harbour Gazette"
        answer = rag.ask(question, index=grown)
        assert answer.citations, answer.reason
        ferry = [c for c in answer.citations if c.source == "Harbour Gazette"]
        assert ferry and "resumed sailing" in ferry[0].quote
    finally:
        grown.store.close()


def test_an_unreachable_server_is_a_clear_error_and_the_index_stays(two_stores, tmp_path):
    files, _, questions, _, corpus, _ = two_stores
    target = tmp_path / "idx"
    shutil.copytree(files.path.parent.parent, target)
    before = (target / "CURRENT").read_text()
    with pytest.raises(StoreError) as err:
        rag.build_index([corpus], target, config=rag.Config(store="milvus://127.0.0.1:9"),
                        progress=False)
    assert "milvus://127.0.0.1:9" in str(err.value)
    assert (target / "CURRENT").read_text() == before
    assert rag.search(questions[0], index=target)  # still the file store, still answers


def test_a_damaged_milvus_file_is_a_clear_error(two_stores, tmp_path):
    files, _, _, _, corpus, _ = two_stores
    target = tmp_path / "idx"
    shutil.copytree(files.path.parent.parent, target)
    db = tmp_path / "chunks.db"
    db.write_bytes(b"this is not a Milvus Lite database\n" * 100)
    with pytest.raises(RagError) as err:
        rag.build_index([corpus], target, config=rag.Config(store=f"milvus://{db}"),
                        progress=False)
    assert str(db) in str(err.value)


def test_a_bad_store_setting_names_the_forms():
    with pytest.raises(rag.ConfigError, match="milvus://host:19530"):
        rag.Config(store="postgres://db")


def test_top_is_the_n_best_with_ties_by_row_at_any_size():
    # Large score lists take a sampled cut first; the result must not change.
    import numpy as np

    from rag.store import top

    rng = np.random.default_rng(11)
    for trial in range(200):
        size, n = int(rng.integers(1, 30_000)), int(rng.integers(1, 150))
        scores = (rng.integers(0, 40, size).astype(np.float32) if trial % 2  # many ties
                  else rng.random(size).astype(np.float32))
        mask = rng.random(size) < rng.random() if trial % 3 == 0 else None
        masked = scores if mask is None else np.where(mask, scores, -np.inf)
        best = np.lexsort((np.arange(size), -masked))[:n]
        assert top(scores, n, mask).tolist() == best[np.isfinite(masked[best])].tolist()
