"""The chat's HTML: exact highlights, escaping, abstentions, filters passed to ask()."""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ui.app as app
from rag.records import Answer, Article, Citation, Hit
from tests.ui_fixtures import (
    EXPORTS_FACT,
    EXPORTS_QUESTION,
    SCRIPT,
    SPICE_QUESTION,
    SPICE_QUOTE,
    ui_index,  # noqa: F401 - a fixture
)
from ui.app import MAX_K
from ui.render import (
    context_span,
    esc,
    highlight,
    render_answer,
    render_citation,
    render_error,
    render_info,
    render_question,
    safe_url,
)

TEXT = (
    "Résumé of the day 🌏. Trade rose again. "
    "Exports grew by 30.75% in September, officials said. "
    f"An aside with {SCRIPT} and <b>bold</b> in it. "
    "The rest of the article goes on for a while about other things entirely.\n\n"
    "A second paragraph closes it."
)
QUOTE = "Exports grew by 30.75% in September, officials said."
MARKS = re.compile(r"<mark[^>]*>(.*?)</mark>", re.DOTALL)


def _article(text: str = TEXT, **meta: Any) -> Article:
    return Article(id=Article.make_id(text), text=text, path="/corpus/a.txt", **meta)


def _citation(article: Article, quote: str = QUOTE, n: int = 1) -> Citation:
    start = article.text.index(quote)
    return Citation(n=n, quote=quote, article_id=article.id, title=article.title,
                    source=article.source, published=article.published, url=article.url,
                    start=start, end=start + len(quote))


def _index(*articles: Article) -> SimpleNamespace:
    return SimpleNamespace(articles={a.id: a for a in articles})


def _unmark(fragment: str) -> str:
    return html.unescape(fragment.replace("<br>", "\n"))


# ---------------------------------------------------------------- highlights


def test_highlight_marks_exactly_the_citation_span() -> None:
    article = _article()
    citation = _citation(article)
    card = render_citation(citation, article)
    marked = [_unmark(m) for m in MARKS.findall(card)]
    # Once in the surrounding sentences, once in the whole article.
    assert marked == [QUOTE, QUOTE]
    assert article.text[citation.start:citation.end] == QUOTE
    assert "<details" in card and "</details>" in card


def test_highlight_uses_offsets_not_a_text_search() -> None:
    text = "Prices rose. Prices rose. Prices rose."
    article = _article(text)
    second = text.index("Prices rose.", 1)
    html_ = highlight(text, second, second + len("Prices rose."))
    before, marked, after = re.split(r"</?mark>", html_)
    assert (before, marked, after) == ("Prices rose. ", "Prices rose.", " Prices rose.")
    cite = Citation(n=1, quote="Prices rose.", article_id=article.id, title=None, source=None,
                    published=None, url=None, start=second, end=second + 12)
    full = render_citation(cite, article).split("rag-article", 1)[1]
    assert full.index("<mark>") == full.index("Prices rose.") + len("Prices rose. ")


def test_context_is_a_few_sentences_around_the_quote() -> None:
    article = _article()
    citation = _citation(article)
    lo, hi = context_span(article.text, citation.start, citation.end, radius=30)
    shown = article.text[lo:hi]
    assert shown.startswith("Trade rose again.")  # begins on a sentence
    assert shown.endswith(f"{QUOTE} An aside with")  # no sentence end in reach: a word
    lo, hi = context_span(article.text, citation.start, citation.end, radius=70)
    assert article.text[lo:hi].endswith("<b>bold</b> in it.")  # ends on a sentence
    lo, hi = context_span(article.text, citation.start, citation.end, radius=300)
    assert (lo, hi) == (0, len(article.text))  # a short article is shown whole


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .!?\n“”"), max_size=300), st.data())
def test_context_span_always_contains_the_quote(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    lo, hi = context_span(text, start, end, radius=30)
    assert 0 <= lo <= start <= end <= hi <= len(text)
    assert hi - lo <= end - start + 60
    marked = MARKS.findall(highlight(text, start, end, lo, hi))
    assert [_unmark(m) for m in marked] == [text[start:end]]


def test_long_articles_are_windowed_around_the_quote() -> None:
    text = ("Filler sentence here. " * 5000) + QUOTE + (" More filler." * 5000)
    article = _article(text)
    card = render_citation(_citation(article), article)
    assert len(card) < 100_000
    assert [_unmark(m) for m in MARKS.findall(card)] == [QUOTE, QUOTE]
    assert "characters" in card and "are shown" in card


def test_cards_say_what_an_article_does_not_state_never_a_file_name_or_id() -> None:
    article = _article()  # no title, outlet or date; its file is /corpus/a.txt
    for card in (render_citation(_citation(article), article),
                 render_answer(Answer(question="q", text="no", abstained=True,
                                      hits=(_hit(article, QUOTE),)), _index(article))):
        assert '<span class="rag-title">Résumé of the day 🌏</span>' in card
        assert '<span class="rag-outlet">outlet not stated</span>' in card
        assert '<span class="rag-date">date not stated</span>' in card
        assert "a.txt" not in card and article.id not in card and "Untitled" not in card
    dated = _article(source="Wire", published="2024-05-29T22:46:00")
    card = render_citation(_citation(dated), dated)
    assert '<span class="rag-outlet">Wire</span>' in card
    assert '<span class="rag-date">2024-05-29</span>' in card


# ---------------------------------------------------------------- escaping


def test_article_text_with_script_is_escaped() -> None:
    article = _article(title="Title <b>bold</b>", source="Outlet <i>x</i>",
                       published="2024-03-28", url="https://example.org/?a=1&b=<2>")
    quote = f"An aside with {SCRIPT} and <b>bold</b> in it."
    card = render_answer(Answer(question="q", text=f"“{quote}” [1]",
                                citations=(_citation(article, quote),)), _index(article))
    assert "<script" not in card.lower()
    assert "<b>" not in card and "<i>" not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert "Title &lt;b&gt;bold&lt;/b&gt;" in card
    assert "Outlet &lt;i&gt;x&lt;/i&gt;" in card
    assert 'href="https://example.org/?a=1&amp;b=&lt;2&gt;"' in card
    # Every highlighted quote reads back as the exact article text.
    assert {_unmark(m) for m in MARKS.findall(card)} == {quote}


def test_question_is_escaped() -> None:
    shown = render_question(f"{SCRIPT} why?")
    assert "<script" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; why?" in shown


def test_unsafe_links_are_dropped() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("data:text/html,<script>") is None
    assert safe_url("//evil.example") is None
    assert safe_url(" https://example.org/x ") == "https://example.org/x"
    article = _article(url="javascript:alert(1)")
    assert "javascript" not in render_citation(_citation(article), article)


def test_rendered_html_has_no_newline() -> None:
    # The chat parses messages as Markdown: a blank line would end the HTML block.
    article = _article()
    out = render_answer(Answer(question="q", text=f"“{QUOTE}” [1]",
                               citations=(_citation(article),)), _index(article))
    assert "\n" not in out
    assert "<br>" in out


def test_markers_are_styled_only_for_real_citations() -> None:
    article = _article()
    out = render_answer(Answer(question="q", text=f"“{QUOTE} [7]” [1]",
                               citations=(_citation(article),)), _index(article))
    assert '<sup class="rag-ref">[1]</sup>' in out
    assert '<sup class="rag-ref">[7]</sup>' not in out


def test_info_panel_escapes_outlets() -> None:
    out = render_info({"articles": 2, "chunks": 3, "outlets": ["A <b>B</b>"],
                       "date_span": ["2024-01-01", "2024-02-01"], "model": "m",
                       "built_at": "2024-02-02T00:00:00+00:00", "path": "/x"})
    assert "A &lt;b&gt;B&lt;/b&gt;" in out and "<b>" not in out
    assert "2024-01-01 to 2024-02-01" in out
    assert "no article is dated" in render_info({"outlets": [], "date_span": None})
    many = render_info({"outlets": [f"Outlet {i:02d}" for i in range(40)]})
    assert "Outlet 11 and 28 more (40 in all)" in many and "Outlet 12" not in many


# ---------------------------------------------------------------- abstention


def _hit(article: Article, passage: str, rank: int = 1) -> Hit:
    start = article.text.index(passage)
    return Hit(text=passage, score=0.01, rank=rank, chunk_id=f"c{rank}", article_id=article.id,
               title=article.title, source=article.source, published=article.published,
               url=article.url, start=start, end=start + len(passage))


def test_abstention_says_why_escaped() -> None:
    answer = Answer(question="How many <b>barrels</b>?", text="no", abstained=True,
                    reason="None of the closest passages gives a figure for <b>barrels.",
                    reason_detail="the best sentence scores 0.52; no passage gives a figure "
                                  "for what is counted: barrel (-0.30): 0.22 is below the "
                                  "threshold 0.45")
    out = render_answer(answer, None)
    assert 'class="rag-reason">Why: None of the closest passages gives a figure' in out
    assert "&lt;b&gt;barrels" in out and "<b>barrels" not in out
    # The numbers behind it are for the JSON, not for the reader.
    assert "threshold" not in out and "0.52" not in out
    assert "rag-reason" not in render_answer(
        Answer(question="q", text="no", abstained=True), None)


def test_abstention_shows_closest_passages_as_not_answering() -> None:
    article = _article(title="Trade <report>", source="Benzinga")
    hits = tuple(_hit(article, p, i) for i, p in enumerate(
        ["Trade rose again.", f"An aside with {SCRIPT} and <b>bold</b> in it."], 1))
    answer = Answer(question="Who won?", text="The articles don't answer this question.",
                    abstained=True, hits=hits)
    out = render_answer(answer, _index(article))
    assert "rag-abstained" in out and "no answer" in out
    assert "The articles don&#x27;t answer this question." in out
    assert "do <strong>not</strong> answer the question" in out
    assert out.count('class="rag-card rag-not-answer"') == 2
    assert out.count("does not answer") == 2
    assert "<script" not in out and "Trade &lt;report&gt;" in out
    # Passages are highlighted only inside the opened article, and greyed.
    assert all('class="rag-weak"' in m for m in re.findall(r"<mark[^>]*>", out))
    assert "rag-evidence" not in out and "Evidence (" not in out


def test_abstention_without_passages() -> None:
    answer = Answer(question="q", text="The articles don't answer this question.",
                    abstained=True)
    out = render_answer(answer, None)
    assert "No passage matched" in out


def test_at_most_three_closest_passages() -> None:
    sentences = [f"Sentence number {i} is here." for i in range(6)]
    article = _article(" ".join(sentences))
    answer = Answer(question="q", text="no", abstained=True,
                    hits=tuple(_hit(article, s, i) for i, s in enumerate(sentences, 1)))
    assert render_answer(answer, _index(article)).count("rag-not-answer") == 3


# ---------------------------------------------------------------- respond()


def test_respond_passes_the_controls_to_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    article = _article()
    fake_index = SimpleNamespace(articles={article.id: article}, manifest={"settings": {}})

    def fake_ask(question: str, **kwargs: Any) -> Answer:
        calls.append({"question": question, **kwargs})
        return Answer(question=question, text=f"“{QUOTE}” [1]", citations=(_citation(article),))

    monkeypatch.setattr(app.rag, "ask", fake_ask)
    monkeypatch.setattr(app.rag, "get_index", lambda index=None, **kw: fake_index)

    history, data, box = app.respond("Q?", [], 5.0, ["Benzinga", "The Speaker"], "2024-01-01",
                                     "  ", False, index_dir="/somewhere")
    call = calls[-1]
    assert call["k"] == 5 and isinstance(call["k"], int)
    assert call["sources"] == ["Benzinga", "The Speaker"]
    assert call["since"] == "2024-01-01" and call["until"] is None
    assert call["config"].hybrid is False
    assert call["index"] is fake_index
    assert data["request"] == {"k": 5, "sources": ["Benzinga", "The Speaker"],
                               "since": "2024-01-01", "until": None, "hybrid": False,
                               "hints": True}
    assert box == ""
    assert [m["role"] for m in history] == ["user", "assistant"]

    app.respond("Q?", history, 8, [], "", "2024-12-31", True, False, index_dir="/somewhere")
    call = calls[-1]
    assert call["sources"] is None  # nothing selected: every outlet
    assert call["until"] == "2024-12-31" and call["config"].hybrid is True
    assert call["config"].hints is False


def test_respond_rejects_bad_k() -> None:
    for bad in (0, 2.5, "many", MAX_K + 1):
        with pytest.raises(app.ChatInputError, match="whole number from 1 to"):
            app.ask_request("q", k=bad)
    with pytest.raises(app.ChatInputError, match="“yesterday-ish” in “Published since”"):
        app.ask_request("q", since="yesterday-ish")
    assert app.ask_request("q", since=" 2024-05-29 ", until="")["since"] == "2024-05-29"


def _ui_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rag.ui"]


@pytest.mark.parametrize("question, kwargs, said", [
    (EXPORTS_QUESTION, {"since": "yesterday-ish"},
     "“yesterday-ish” in “Published since” is not a date. Write it as YYYY-MM-DD"),
    (EXPORTS_QUESTION, {"until": "2024-13-45"}, "“2024-13-45” in “Published until” is not a date"),
    ("   ", {}, "The question is empty; type a question about the articles."),
    ("why " * 2000, {}, "Ask something shorter."),
    (EXPORTS_QUESTION, {"k": 0}, "The number of passages to read must be a whole number"),
])
def test_user_errors_are_chat_messages_and_one_log_line(
        ui_index: Path, caplog: pytest.LogCaptureFixture,  # noqa: F811 - fixture
        question: str, kwargs: dict[str, Any], said: str) -> None:
    before = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"}]
    with caplog.at_level(logging.WARNING, logger="rag.ui"):
        history, data, box = app.respond(question, list(before), index_dir=ui_index, **kwargs)
    assert history[:2] == before
    reply = history[-1]
    assert reply["role"] == "assistant" and reply["content"].startswith('<div class="rag-error">')
    assert html.escape(said, quote=True) in reply["content"]
    assert "rag-answer" not in reply["content"]
    assert said in data["error"] and "citations" not in data
    if question.strip():
        # The question is shown as asked, and left in the box to be fixed and sent again.
        assert history[-2]["role"] == "user" and len(history) == 4
        assert box == question
    else:
        assert len(history) == 3 and box == ""
    [record] = _ui_records(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert said in record.getMessage() and "\n" not in record.getMessage()


def test_an_unexpected_error_is_logged_with_its_traceback_and_said_briefly(
        ui_index: Path, caplog: pytest.LogCaptureFixture,  # noqa: F811 - fixture
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_ask(question: str, **kwargs: Any) -> Answer:
        raise RuntimeError("the sentence table is out of step (internal detail)")

    monkeypatch.setattr(app.rag, "ask", broken_ask)
    with caplog.at_level(logging.WARNING, logger="rag.ui"):
        history, data, box = app.respond(EXPORTS_QUESTION, [], index_dir=ui_index)
    assert history[-1]["content"] == render_error(app.UNEXPECTED_TEXT)
    assert "internal detail" not in history[-1]["content"]
    assert data["error"] == app.UNEXPECTED_TEXT and box == EXPORTS_QUESTION
    [record] = _ui_records(caplog)
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "internal detail" in caplog.text and "Traceback" in caplog.text


def test_respond_on_a_real_index(ui_index: Path) -> None:  # noqa: F811 - fixture
    history, data, _ = app.respond(EXPORTS_QUESTION, None, index_dir=ui_index)
    assert EXPORTS_FACT in data["text"] and data["citations"]
    message = history[-1]["content"]
    citation = data["citations"][0]
    assert [_unmark(m) for m in MARKS.findall(message)][:2] == [citation["quote"]] * 2
    import rag

    article = rag.load_index(ui_index).articles[citation["article_id"]]
    assert article.text[citation["start"]:citation["end"]] == citation["quote"]


def test_script_in_a_real_article_is_shown_as_text(ui_index: Path) -> None:  # noqa: F811
    history, data, _ = app.respond(f"{SCRIPT} {SPICE_QUESTION}", [], index_dir=ui_index)
    assert not data["abstained"]
    assert any(SCRIPT in c["quote"] for c in data["citations"])
    user, answer = history[-2]["content"], history[-1]["content"]
    for shown in (user, answer):
        assert "<script" not in shown.lower() and "<img" not in shown.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer
    assert html.escape(SPICE_QUOTE) in answer.replace("<br>", "\n")
    assert "Island &lt;i&gt;Spice&lt;/i&gt; Times" in answer


def test_filters_reach_retrieval(ui_index: Path) -> None:  # noqa: F811 - fixture
    _, data, _ = app.respond(EXPORTS_QUESTION, [], 8, ["The Speaker"], index_dir=ui_index)
    assert data["hits"] and {h["source"] for h in data["hits"]} == {"The Speaker"}
    _, data, _ = app.respond(SPICE_QUESTION, [], 8, None, "2024-03-01", "2024-03-31",
                             index_dir=ui_index)
    assert {h["published"][:10] for h in data["hits"]} == {"2024-03-28"}
    _, data, _ = app.respond(EXPORTS_QUESTION, [], 8, None, "2030-01-01", None,
                             index_dir=ui_index)
    assert data["abstained"] and not data["hits"]
    history, data, _ = app.respond(EXPORTS_QUESTION, [], 8, None, "not a date", None,
                                   index_dir=ui_index)
    assert "is not a date" in data["error"] and "rag-error" in history[-1]["content"]


def test_esc_turns_line_breaks_into_br() -> None:
    assert esc("a\r\nb\rc\nd<") == "a<br>b<br>c<br>d&lt;"


def test_hints_are_labelled_and_escaped() -> None:
    article = _article()
    answer = Answer(question="q", text=f"“{QUOTE}” [1]", citations=(_citation(article),),
                    hints=("outlet named: A <b>B</b>", "published on or after 2024-09-01"))
    out = render_answer(answer, _index(article))
    assert ("outlet named: A &lt;b&gt;B&lt;/b&gt;; published on or after 2024-09-01"
            in out)
    assert "Read from the question" in out


def test_upload_results_table_is_escaped() -> None:
    from ui.render import render_uploads

    out = render_uploads([
        {"file": "a<b>.txt", "status": "added", "articles": 2, "reason": ""},
        {"file": "x.exe", "status": "rejected", "articles": 0, "reason": "type <exe>"},
    ])
    assert "a&lt;b&gt;.txt" in out and "type &lt;exe&gt;" in out and "<b>" not in out
    assert "added (2 articles)" in out and "1 added, 1 rejected" in out
    assert render_uploads([]) == ""


# ---------------------------------------------------------------- one card per story

STORY = ("Kim Jong Un left Beijing on Wednesday after a three-day visit. He toured a "
         "medicine factory with Chinese officials. Trade between the two countries rose by a "
         "third in September. Analysts expect more visits before the end of the year.")


def _cards(out: str) -> list[str]:
    return re.findall(r'<div class="rag-card" data-n="[^"]*">.*?</details></div>', out)


def test_quotes_of_one_article_share_one_card() -> None:
    a = _article(STORY, title="Kim leaves Beijing", source="Wire", published="2024-05-29")
    b = _article(TEXT, title="Exports", source="Post", published="2024-10-01")
    quotes = [(a, "He toured a medicine factory with Chinese officials."), (b, QUOTE),
              (a, "Analysts expect more visits before the end of the year.")]
    cites = tuple(_citation(art, q, n) for n, (art, q) in enumerate(quotes, 1))
    out = render_answer(Answer(question="q", text="…", citations=cites), _index(a, b))
    cards = _cards(out)
    assert len(cards) == 2 and "from 2 stories" in out
    first, second = cards
    assert first.startswith('<div class="rag-card" data-n="1 3">')
    assert '<span class="rag-ref">[1]</span><span class="rag-ref">[3]</span>' in first
    assert '<span class="rag-title">Kim leaves Beijing</span>' in first
    assert '<span class="rag-outlet">Wire</span> · <span class="rag-date">2024-05-29</span>' in (
        first)
    context = first.split('<blockquote class="rag-context">', 1)[1].split("</blockquote>")[0]
    assert [_unmark(m) for m in MARKS.findall(context)] == [q for art, q in quotes if art is a]
    # Each quote of a shared card carries its marker; a card of one quote needs none.
    assert re.findall(r'</mark><sup class="rag-ref">(\[\d\])</sup>', context) == ["[1]", "[3]"]
    assert [_unmark(m) for m in MARKS.findall(second)] == [QUOTE, QUOTE]
    assert "</mark><sup" not in second
    assert "also ran in" not in out


SYNDICATED = ("SEOUL — North Korea and China agreed on Monday to reopen two border crossings "
              "closed since 2020, officials in both capitals said. Trucks carrying food and "
              "fertiliser are expected to cross from Dandong within weeks. The agreement "
              "follows talks in Beijing between vice ministers of both foreign ministries.")


def test_syndicated_copies_are_one_card_that_says_where_else_it_ran() -> None:
    wire = _article(SYNDICATED + "\nReporting by a staff writer.", title="Border reopens",
                    source="Alpha Wire", published="2024-06-03")
    copy = _article("Border to reopen\n" + SYNDICATED + "\n© Beta Post", title="Border to reopen",
                    source="Beta Post", published="2024-06-04")
    other = _article(STORY, title="Kim leaves Beijing", source="Gamma Times")
    q1 = "Trucks carrying food and fertiliser are expected to cross from Dandong within weeks."
    q2 = ("The agreement follows talks in Beijing between vice ministers of both foreign "
          "ministries.")
    q3 = "He toured a medicine factory with Chinese officials."
    cites = (_citation(wire, q1, 1), _citation(copy, q2, 2), _citation(other, q3, 3))
    out = render_answer(Answer(question="q", text="…", citations=cites),
                        _index(wire, copy, other))
    cards = _cards(out)
    assert len(cards) == 2
    assert '<div class="rag-card" data-n="1 2">' in cards[0]
    assert "also ran in: Beta Post · 2024-06-04" in cards[0]
    # Both quotes are marked in the story shown, the copy's one where it stands there.
    context = cards[0].split('<blockquote class="rag-context">', 1)[1].split("</blockquote>")[0]
    assert [_unmark(m) for m in MARKS.findall(context)] == [q1, q2]
    assert "also ran in" not in cards[1] and "Gamma Times" in cards[1]


def test_different_stories_on_one_topic_are_not_copies() -> None:
    from ui.render import syndicated

    a = _article(SYNDICATED)
    b = _article(SYNDICATED.replace("SEOUL — ", "") + " Reporting by a staff writer.")
    c = _article("North Korea and China will reopen border crossings, officials said, and "
                 "trucks with food may cross from Dandong. Vice ministers met in Beijing.")
    assert syndicated(a, b) and syndicated(b, a)
    assert not syndicated(a, c)


def test_cards_show_the_cleaned_article_at_exact_offsets() -> None:
    from rag.clean import find_boilerplate

    text = ("Trade surges\nHome > National > North Korea\nprint dictionary print\n"
            "![Kim and Xi [PHOTO]](https://example.org/p.jpg)\n" + STORY)
    article = Article(id=Article.make_id(text), text=text, dropped=find_boilerplate(text),
                      title="Trade surges")
    quote = "He toured a medicine factory with Chinese officials."
    card = render_citation(_citation(article, quote), article)
    for clutter in ("Home &gt; National", "print dictionary print", "![", "https://example.org"):
        assert clutter not in card
    assert [_unmark(m) for m in MARKS.findall(card)] == [quote, quote]
    assert f"characters {text.index(quote):,}–{text.index(quote) + len(quote):,}" in card


def test_the_opened_article_scrolls_in_a_box_of_its_own() -> None:
    from ui.render import ARTICLE_BOX_PX, CSS

    long_text = " ".join(f"Sentence number {i} of a long article." for i in range(400))
    article = _article(long_text + " " + QUOTE)
    card = render_citation(_citation(article), article)
    box = re.search(r'<div class="rag-article" style="([^"]*)">', card)
    assert box and f"max-height:{ARTICLE_BOX_PX}px" in box.group(1)
    assert "overflow-y:auto" in box.group(1)
    assert ARTICLE_BOX_PX <= 280
    assert re.search(r"\.rag-article \{ max-height: \d+px; overflow-y: auto", CSS)
    # The context around the quote stays short: about CONTEXT_CHARS each side.
    context = card.split('<blockquote class="rag-context">', 1)[1].split("</blockquote>")[0]
    assert len(_unmark(re.sub(r"</?mark>", "", context))) < len(QUOTE) + 2 * 160 + 10


def test_an_indirect_answer_is_labelled() -> None:
    article = _article()
    cite = _citation(article)
    indirect = Answer(question="q", text=f"The articles don't say directly; closest passages: "
                      f"“{QUOTE}” [1]", citations=(cite,), confidence_label="indirect",
                      reason="The closest sentences match the question <only> loosely.")
    out = render_answer(indirect, _index(article))
    assert '<span class="rag-badge rag-indirect">indirect</span>' in out
    assert "Why: The closest sentences match the question &lt;only&gt; loosely." in out
    assert "The articles don&#x27;t say directly; closest passages:" in out
    direct = render_answer(Answer(question="q", text=f"“{QUOTE}” [1]", citations=(cite,)),
                           _index(article))
    assert "rag-indirect" not in direct
