"""Candidate-only retrieval (rag/scope.py) against scoring every sentence, on the real
bundled index: a view of every article scores exactly as the index; the candidate-only
path gives the same top answers on the seed questions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import rag
from rag import index as index_module
from rag.scope import IndexView, Runs, _ranges, _scores_at, scoped

SEED = Path(__file__).resolve().parents[1] / "eval" / "seed_questions.jsonl"


def _questions() -> list[str]:
    rows = [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines() if line]
    return [r["question"] for r in rows if r.get("type") != "unanswerable"]


def test_a_view_of_every_article_scores_as_the_index(bundled_index):
    view = IndexView(bundled_index, np.arange(len(bundled_index.article_list)))
    terms = ["export", "north", "korea", "septemb"]
    np.testing.assert_allclose(view.bm25().get_scores(terms),
                               bundled_index.bm25().get_scores(terms), rtol=1e-6)
    np.testing.assert_allclose(view.sentence_bm25(terms), bundled_index.sentence_bm25(terms),
                               rtol=1e-6)
    some = IndexView(bundled_index, np.array([3, 1]))
    assert [a.id for a in some.article_list] == [bundled_index.article_list[i].id for i in (1, 3)]
    rows = [bundled_index.chunk_position[c.id] for c in some.chunks]
    np.testing.assert_allclose(some.bm25().get_scores(terms),
                               bundled_index.bm25().get_scores(terms)[rows], rtol=1e-6)


def test_postings_are_sorted_and_either_lookup_direction_scores_the_same(bundled_index):
    bundled_index.bm25()
    retriever = bundled_index._sentence_bm25
    csc = retriever.scores
    indptr, indices = np.asarray(csc["indptr"]), np.asarray(csc["indices"])
    for t in range(len(indptr) - 1):  # each token's documents in order, once each
        assert np.all(np.diff(indices[indptr[t]:indptr[t + 1]]) > 0)
    terms = ["export", "north", "korea", "septemb", "trade"]
    every = retriever.get_scores(terms)
    ids = retriever.get_tokens_ids(terms)
    rng = np.random.default_rng(5)
    # Few rows (looked up in the long postings) and many (postings looked up in them).
    for size in (1, 7, len(every) // 3, len(every)):
        rows = np.sort(rng.choice(len(every), size=size, replace=False))
        np.testing.assert_allclose(_scores_at(csc, ids, rows), every[rows], rtol=1e-6)
    # A few runs of consecutive rows (a view's articles): found by their ends.
    for n_runs in (1, 2, 3):
        starts = np.sort(rng.choice(len(every) - 40, size=n_runs, replace=False))
        rows = np.unique(np.concatenate([np.arange(a, a + 30) for a in starts]))
        runs = Runs(rows)
        assert len(runs.starts) <= n_runs
        assert [r for a, b in zip(runs.starts, runs.ends, strict=True)
                for r in range(a, b)] == rows.tolist()
        np.testing.assert_allclose(_scores_at(csc, ids, runs), every[rows], rtol=1e-6)


def test_the_candidate_path_gives_the_same_top_answers(bundled_index):
    assert not scoped(bundled_index, rag.Config())  # a small index scores everything
    questions = _questions()
    same_first = same_answer = 0
    for q in questions:
        exact = rag.search(q, index=bundled_index, config=rag.Config(scope=False))
        narrow = rag.search(q, index=bundled_index, config=rag.Config(scope=True))
        same_first += exact[0].chunk_id == narrow[0].chunk_id
        a = rag.ask(q, index=bundled_index, config=rag.Config(scope=False))
        b = rag.ask(q, index=bundled_index, config=rag.Config(scope=True))
        same_answer += a.text == b.text
    # On five articles every candidate list holds them all: the same everywhere.
    assert same_first == len(questions) and same_answer == len(questions)


def test_filters_fail_closed_on_the_candidate_path(bundled_index):
    config = rag.Config(scope=True)
    q = "By how much did Chinese exports to North Korea rise in September?"
    assert rag.search(q, index=bundled_index, config=config, sources=["No Such Outlet"]) == []
    answer = rag.ask(q, index=bundled_index, config=config, since="2099-01-01")
    assert answer.abstained and not answer.citations


def test_ranges_lists_every_row_of_each_range_in_order():
    rng = np.random.default_rng(3)
    for _ in range(50):
        starts = np.sort(rng.choice(1000, size=rng.integers(0, 12), replace=False))
        ends = starts + rng.integers(0, 6, size=len(starts))
        expected = [r for a, b in zip(starts, ends, strict=True) for r in range(a, b)]
        assert _ranges(starts, ends).tolist() == expected


@pytest.mark.parametrize("large", [False, True])
def test_a_view_reads_the_full_index_rows_it_is_asked_for(default_index_dir, monkeypatch,
                                                          large):
    # large: the build's tables read on demand (chunks sliced by the span column).
    if large:
        monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    full = rag.load_index(default_index_dir)
    view = IndexView(full, np.array([4, 0, 2]))
    rows = [full.chunk_position[c.id] for c in view.chunks]
    assert list(view.chunks) == [full.chunks[r] for r in rows]
    assert [full.article_position[a.id] for a in view.article_list] == [0, 2, 4]
    starts, ends = view._chunk_bounds
    assert starts.tolist() == [c.start for c in view.chunks]
    assert ends.tolist() == [c.end for c in view.chunks]
    # Sentence vectors: the same rows before they are gathered and after.
    some = [0, len(view.sentences) // 2, len(view.sentences) - 1]
    before = view.sentence_vectors_at(some)
    whole = view.sentence_vectors
    assert whole.dtype == np.float32 and len(whole) == len(view.sentences)
    np.testing.assert_array_equal(before, whole[some])
    np.testing.assert_array_equal(view.sentence_vectors_at(some), before)
    for row, (a, s, e) in zip(some, view.sentences[some].tolist(), strict=True):
        article = view.article_list[a]
        at = full.article_position[article.id]
        full_row = next(r for r in range(full.sentence_offsets[at], full.sentence_offsets[at + 1])
                        if full.sentences[r].tolist() == [at, s, e])
        np.testing.assert_allclose(whole[row], np.asarray(full.sentence_vectors[full_row],
                                                          dtype=np.float32))


@pytest.mark.parametrize("large", [False, True])
def test_a_view_scored_in_the_background_gives_the_same_cosines(default_index_dir,
                                                                 monkeypatch, large):
    if large:  # sentence vectors memory-mapped (fp16), read ahead before they are scored
        monkeypatch.setattr(index_module, "LARGE_SENTENCES", 0)
    full = rag.load_index(default_index_dir)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3, full.dimension)).astype(np.float32)
    later = IndexView(full, np.array([4, 0, 2]))
    early = IndexView(full, np.array([4, 0, 2]), vectors=vectors)
    assert early._scoring is not None and later._scoring is None
    exact = later.sentence_vectors @ vectors.T
    np.testing.assert_allclose(early.sentence_cosines(vectors), exact, rtol=1e-5, atol=1e-6)
    some = np.array([1, len(later.sentences) - 1])
    np.testing.assert_allclose(early.sentence_cosines(vectors[1], some), exact[some, 1],
                               rtol=1e-5, atol=1e-6)
    # A vector it was not given is scored when asked for.
    other = rng.standard_normal(full.dimension).astype(np.float32)
    np.testing.assert_allclose(early.sentence_cosines(other), later.sentence_vectors @ other,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(early.best_sentence_dense(other), full_best(later, other),
                               rtol=1e-5, atol=1e-6)


def full_best(view: IndexView, vector: np.ndarray) -> np.ndarray:
    scores = np.full(len(view.sentences) + 1, -1.0, dtype=np.float32)
    scores[:-1] = view.sentence_vectors @ vector
    return view._best_per_chunk(scores)


def test_several_part_questions_gather_their_view_early_and_answer_the_same(bundled_index):
    from rag import scope as scope_module

    made: list[IndexView] = []

    class Recording(IndexView):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    question = ("Did the Reuters report on Chinese exports to North Korea in September and the "
                "report on Kim Jong Un's visit to Beijing both mention sanctions?")
    config = rag.Config(scope=True)
    before = rag.ask(question, index=bundled_index, config=config)
    original = scope_module.IndexView
    scope_module.IndexView = Recording
    try:
        after = rag.ask(question, index=bundled_index, config=config)
        rag.ask("What did Xi say?", index=bundled_index, config=config)
    finally:
        scope_module.IndexView = original
    assert made[0]._scoring is not None or made[0]._cosines  # several parts: by vector
    assert made[-1]._scoring is None and not made[-1]._cosines  # one part: chunks, BM25
    assert after.to_dict()["citations"] == before.to_dict()["citations"]
    assert after.text == before.text
