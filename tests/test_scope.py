"""Candidate-only retrieval (rag/scope.py) against scoring every sentence, on the real
bundled index: a view of every article scores exactly as the index; the candidate-only
path gives the same top answers on the seed questions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import rag
from rag.scope import IndexView, _scores_at, scoped

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
