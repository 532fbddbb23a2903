import json

import pytest

from rag.records import Answer, Article, Chunk, Citation, Dropped, Hit, content_id


def test_ids_are_deterministic_content_hashes():
    assert Article.make_id("same text") == Article.make_id("same text")
    assert Article.make_id("same text") != Article.make_id("same text.")
    assert len(Article.make_id("x")) == 16
    assert Chunk.make_id("a1", 0, "t") != Chunk.make_id("a1", 5, "t")
    assert content_id("ab", "c") != content_id("a", "bc")


def test_records_are_frozen_and_json_ready():
    article = Article(id="a", text="Hello world.", dropped=(Dropped(0, 5, "teaser"),))
    with pytest.raises(AttributeError):
        article.text = "changed"  # type: ignore[misc]
    assert Article.from_dict(json.loads(json.dumps(article.to_dict()))) == article
    citation = Citation(n=1, quote="Hello", article_id="a", title=None, source=None,
                        published=None, url=None, start=0, end=5)
    hit = Hit(text="Hello world.", score=0.5, rank=1, chunk_id="c", article_id="a", title=None,
              source=None, published=None, url=None, start=0, end=12)
    answer = Answer(question="q", text="“Hello” [1]", citations=(citation,), hits=(hit,))
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["citations"][0]["quote"] == "Hello"
    assert data["hits"][0]["rank"] == 1
    assert data["abstained"] is False


def test_article_label_falls_back_to_the_first_sentence_never_a_name_or_id():
    assert Article(id="a", text="t", title="T").label == "T"
    text = "Ferries ran again. Nothing else happened."
    assert Article(id="a", text=text, path="/x/y/001.txt").label == "Ferries ran again"
    assert Article(id="0123456789abcdef", text=text).label == "Ferries ran again"


def test_labels_say_plainly_what_is_not_stated():
    article = Article(id="a", text="t", date_note="photo URLs dated 2025/04/08")
    assert article.source_label == "outlet not stated"
    assert article.date_label == "date not stated (photo URLs dated 2025/04/08)"
    dated = Article(id="a", text="t", source="Wire", published="2024-05-29T22:46:00")
    assert (dated.source_label, dated.date_label) == ("Wire", "2024-05-29")
    hit = Hit(text="t", score=0.5, rank=1, chunk_id="c", article_id="a", title="T",
              source=None, published=None, url=None, start=0, end=1)
    assert (hit.source_label, hit.date_label) == ("outlet not stated", "date not stated")
    cite = Citation(n=1, quote="t", article_id="a", title="T", source="Wire", published=None,
                    url=None, start=0, end=1, date_label=article.date_label)
    assert cite.to_dict()["date_label"] == "date not stated (photo URLs dated 2025/04/08)"
    assert cite.to_dict()["source_label"] == "Wire"
