""""Show more quotes" in the chat: the last answer asked again with more quotes.

The callbacks are plain functions (``ui.app.more_quotes``, ``ui.app.more_button``),
tested here with a fake ``rag.ask`` (what is asked, and how the chat changes) and
on the real test index (that more quotes come, one card per story).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import ui.app as app
from rag.config import Config
from rag.records import Answer, Article, Citation
from tests.ui_fixtures import ui_index  # noqa: F401 - a fixture
from ui.render import NO_MORE_TEXT, group_citations
from ui.turns import can_show_more, turn_of

SENTENCES = [f"Officials said the port handled {n} ships in week {n}." for n in range(1, 13)]
TEXT = " ".join(SENTENCES)
ARTICLE = Article(id=Article.make_id(TEXT), text=TEXT, path="/corpus/port.txt",
                  title="Port traffic")
#: Answered with many quotes on the test index (3 by default, more on request).
MANY_QUOTES_QUESTION = ("Which Chinese diplomats have held talks with North Korean foreign "
                        "ministry officials?")


def _citations(n: int) -> tuple[Citation, ...]:
    out = []
    for i, quote in enumerate(SENTENCES[:n], 1):
        start = TEXT.index(quote)
        out.append(Citation(n=i, quote=quote, article_id=ARTICLE.id, title=ARTICLE.title,
                            source=None, published=None, url=None, start=start,
                            end=start + len(quote)))
    return tuple(out)


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``rag.ask`` replaced: it answers with as many quotes as allowed, up to
    ``state["available"]``, and records each call."""
    state: dict[str, Any] = {"calls": [], "available": 5}
    index = SimpleNamespace(articles={ARTICLE.id: ARTICLE}, manifest={"settings": {}})

    def fake_ask(question: str, **kwargs: Any) -> Answer:
        state["calls"].append({"question": question, **kwargs})
        cites = _citations(min(kwargs["config"].max_quotes, state["available"]))
        return Answer(question=question, text=" ".join(f"“{c.quote}” [{c.n}]" for c in cites),
                      citations=cites)

    monkeypatch.setattr(app.rag, "ask", fake_ask)
    monkeypatch.setattr(app.rag, "get_index", lambda *args, **kw: index)
    return state


def test_an_answer_has_the_default_number_of_quotes_and_may_show_more(
        fake: dict[str, Any]) -> None:
    history, data, _ = app.respond("How many ships?", [], index_dir="/x")
    assert fake["calls"][-1]["config"].max_quotes == Config().max_quotes == 3
    assert len(data["citations"]) == 3
    assert can_show_more(history, app.MAX_QUOTES)
    assert app.more_button(history).visible is True
    # Fewer quotes than allowed: no more match well enough, so no button.
    fake["available"] = 2
    history, _, _ = app.respond("How many ships?", [], index_dir="/x")
    assert not can_show_more(history, app.MAX_QUOTES)
    assert app.more_button(history).visible is False
    assert app.more_button([]).visible is False


def test_more_quotes_asks_the_same_question_again_and_replaces_the_answer(
        fake: dict[str, Any]) -> None:
    earlier = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"}]
    history, first, _ = app.respond("  How many ships?", list(earlier), 5, ["Wire"],
                                    "2024-01-01", "", False, False, index_dir="/x")
    asked = fake["calls"][-1]
    history, data = app.more_quotes(history, index_dir="/x")
    again = fake["calls"][-1]
    # The same question, options and filters; only the number of quotes grew.
    assert again["question"] == asked["question"]
    assert (again["k"], again["sources"], again["since"], again["until"]) == (
        5, ["Wire"], "2024-01-01", None)
    assert again["config"].hybrid is False and again["config"].hints is False
    assert again["config"].max_quotes == 3 + app.MORE_QUOTES_STEP
    assert data["request"] == first["request"]
    assert len(data["citations"]) == 5 and len(first["citations"]) == 3
    # The answer is replaced in place: the same messages, the last one longer.
    assert history[:2] == earlier and len(history) == 4
    assert [m["role"] for m in history[2:]] == ["user", "assistant"]
    text = history[-1]["content"].split('class="rag-section"')[0]  # the answer's text
    assert text.count('<sup class="rag-ref">') == 5
    assert history[-1]["content"].count('class="rag-card"') == 1  # one article, one card
    assert NO_MORE_TEXT not in history[-1]["content"]
    # 5 of the 6 allowed: nothing more matches, so the button goes.
    assert not can_show_more(history, app.MAX_QUOTES)


def test_more_quotes_says_so_when_none_more_match(fake: dict[str, Any]) -> None:
    fake["available"] = 3
    history, _, _ = app.respond("How many ships?", [], index_dir="/x")
    history, data = app.more_quotes(history, index_dir="/x")
    assert len(data["citations"]) == 3 and len(history) == 2
    assert history[-1]["content"].startswith(f'<div class="rag-no-more">{NO_MORE_TEXT}')
    assert not can_show_more(history, app.MAX_QUOTES)


def test_more_quotes_stops_at_the_most_the_chat_shows(fake: dict[str, Any]) -> None:
    fake["available"] = 100
    history, _, _ = app.respond("How many ships?", [], index_dir="/x")
    allowed = []
    while can_show_more(history, app.MAX_QUOTES):
        history, data = app.more_quotes(history, index_dir="/x")
        allowed.append(fake["calls"][-1]["config"].max_quotes)
    assert allowed == [6, 9, 12] and len(data["citations"]) == app.MAX_QUOTES
    # Asked once more anyway (an API caller): still no more than the most.
    app.more_quotes(history, index_dir="/x")
    assert fake["calls"][-1]["config"].max_quotes == app.MAX_QUOTES


def test_a_follow_up_asked_again_is_read_with_the_turn_before_it(
        fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    history, _, _ = app.respond("How many ships did the port handle?", [], index_dir="/x")
    history, _, _ = app.respond("What about in week 2?", history, index_dir="/x")
    follow_up = fake["calls"][-1]
    history, _ = app.more_quotes(history, index_dir="/x")
    again = fake["calls"][-1]
    assert again["question"] == "What about in week 2?"
    assert again["history"] == follow_up["history"]
    assert again["history"][0]["question"] == "How many ships did the port handle?"
    assert len(history) == 4


@pytest.mark.parametrize("history, said", [
    ([], "ask a question first"),
    ([{"role": "user", "content": "q"},
      {"role": "assistant", "content": '<div class="rag-error">bad date</div>'}],
     "ask a question first"),
])
def test_with_no_answer_to_add_to_the_chat_says_so(fake: dict[str, Any], history: list[Any],
                                                   said: str) -> None:
    new, data = app.more_quotes(list(history), index_dir="/x")
    assert new[:len(history)] == history and len(new) == len(history) + 1
    assert new[-1]["content"].startswith('<div class="rag-error">') and said in data["error"]
    assert fake["calls"] == []


def test_an_abstention_has_no_quotes_to_add(monkeypatch: pytest.MonkeyPatch) -> None:
    index = SimpleNamespace(articles={}, manifest={"settings": {}})
    monkeypatch.setattr(app.rag, "get_index", lambda *args, **kw: index)
    monkeypatch.setattr(app.rag, "ask", lambda question, **kw: Answer(
        question=question, text="The articles don't answer this question.", abstained=True))
    history, _, _ = app.respond("Who won?", [], index_dir="/x")
    assert not can_show_more(history, app.MAX_QUOTES)
    new, data = app.more_quotes(history, index_dir="/x")
    assert "no quotes to add" in data["error"] and len(new) == 3


def test_the_turn_carries_how_the_answer_was_asked(fake: dict[str, Any]) -> None:
    history, _, _ = app.respond("How many ships?", [], 4, index_dir="/x")
    turn = turn_of(history[-1])
    assert turn is not None
    assert turn["asked"] == {"question": "How many ships?", "max_quotes": 3,
                             "request": {"k": 4, "sources": None, "since": None,
                                         "until": None, "hybrid": True, "hints": True}}
    # A follow-up is read from the question as answered, not from "asked".
    assert turn["question"] == "How many ships?" and len(turn["citations"]) == 3


def test_more_quotes_on_the_real_index(ui_index: Path) -> None:  # noqa: F811 - fixture
    import rag

    history, first, _ = app.respond(MANY_QUOTES_QUESTION, [], index_dir=ui_index)
    assert len(first["citations"]) == Config().max_quotes  # the default fits a screen
    assert can_show_more(history, app.MAX_QUOTES)
    history, more = app.more_quotes(history, index_dir=ui_index)
    assert len(more["citations"]) > len(first["citations"])
    # The first answer's quotes are still there, and each story is one card.
    assert {c["quote"] for c in first["citations"]} <= {c["quote"] for c in more["citations"]}
    index = rag.get_index(ui_index)
    cites = [Citation(**{k: v for k, v in c.items() if k in Citation.__dataclass_fields__})
             for c in more["citations"]]
    stories = group_citations(cites, index.articles)
    assert history[-1]["content"].count('class="rag-card"') == len(stories)
    assert len(history) == 2
