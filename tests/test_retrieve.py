import pytest

import rag
from rag import Config, QuestionError


def test_search_returns_ranked_cited_hits(bundled_index):
    hits = rag.search("Chinese exports to North Korea in September", k=5, index=bundled_index)
    assert len(hits) == 5
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert "30.75%" in " ".join(h.text for h in hits[:3])
    for hit in hits:
        article = bundled_index.articles[hit.article_id]
        assert article.text[hit.start:hit.end] == hit.text
        assert (hit.title, hit.source, hit.published, hit.url) == (
            article.title, article.source, article.published, article.url)


def test_dense_only_also_works(bundled_index):
    hits = rag.search("talks between the vice foreign ministers of North Korea and China", k=3,
                      index=bundled_index, config=Config(hybrid=False))
    assert any("Sun Weidong" in h.text for h in hits)


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_questions_are_rejected(bundled_index, question):
    with pytest.raises(QuestionError, match="empty"):
        rag.search(question, index=bundled_index)
    with pytest.raises(ValueError):
        rag.ask(question, index=bundled_index)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k_is_rejected(bundled_index, k):
    with pytest.raises(QuestionError, match="k must be"):
        rag.search("trade", k=k, index=bundled_index)


def test_overlong_question_is_rejected_not_truncated(bundled_index):
    with pytest.raises(QuestionError, match="limit"):
        rag.ask("trade " * 100_000, index=bundled_index)


def test_filters_fail_closed(bundled_index):
    joongang = rag.search("trade", k=10, index=bundled_index, sources=["Korea JoongAng Daily"])
    assert joongang and {h.source for h in joongang} == {"Korea JoongAng Daily"}
    assert rag.search("trade", index=bundled_index, sources=["No Such Outlet"]) == []
    dated = rag.search("Kim visit", index=bundled_index, since="2024-01-01")
    assert dated and {h.source for h in dated} == {"The Speaker"}
    assert rag.search("Kim visit", index=bundled_index, until="2000-01-01") == []
    answer = rag.ask("Who met Sun Weidong?", index=bundled_index, sources=["No Such Outlet"])
    assert answer.abstained and not answer.citations and not answer.hits


def test_bad_date_filter_is_a_clear_error(bundled_index):
    with pytest.raises(QuestionError, match="since"):
        rag.search("trade", index=bundled_index, since="yesterday-ish")
