"""The chat in headless Chromium: an answer, its evidence card, the highlighted
quote, and an article containing ``<script>`` shown as text.

Uses Debian's ``chromium`` (``apt-get install chromium``) through the
playwright Python package. Skipped when Chromium or playwright is missing,
unless ``RAG_REQUIRE_BROWSER=1``, in which case that is a failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui_fixtures import (
    BOLD,
    EXPORTS_FACT,
    EXPORTS_QUESTION,
    SCRIPT,
    SPICE_QUESTION,
    SPICE_QUOTE,
    running_app,  # noqa: F401 - a fixture
    ui_index,  # noqa: F401 - a fixture
)

CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("RAG_REQUIRE_BROWSER") == "1"
#: Messages of any alert/confirm/prompt the page opened (there must be none).
DIALOGS: list[str] = []
#: Requests the page made to anywhere but the app (an offline tool makes none).
EXTERNAL: list[str] = []

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@pytest.fixture(scope="module")
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    reason = _unavailable()
    if reason:
        if REQUIRED:
            pytest.fail(f"RAG_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    from ui.screenshot import CHROMIUM_ARGS

    # Only now start the app (building the index): a skip costs nothing.
    url, _ = request.getfixturevalue("running_app")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1100, "height": 800})
            tab.on("dialog", lambda d: (DIALOGS.append(d.message), d.dismiss()))
            tab.on("request", lambda r: None if r.url.startswith((url.rstrip("/"), "data:",
                                                                    "blob:"))
                   else EXTERNAL.append(r.url))
            tab.set_default_timeout(30_000)
            tab.goto(url, wait_until="networkidle")
            yield tab
        finally:
            browser.close()


def _ask(page: Any, question: str) -> Any:
    """Type ``question``, press Enter, and return the locator of the new answer."""
    before = page.locator("#rag-chat .rag-answer").count()
    box = page.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    deadline = time.monotonic() + 30
    while page.locator("#rag-chat .rag-answer").count() <= before:
        assert time.monotonic() < deadline, "no answer appeared within 30 s"
        page.wait_for_timeout(100)
    return page.locator("#rag-chat .rag-answer").last


def test_empty_chat_suggests_questions(page: Any) -> None:
    assert page.get_by_text("Ask a question about the news articles").first.is_visible()
    assert page.get_by_text(EXPORTS_QUESTION).first.is_visible()
    assert "Benzinga" in page.locator(".rag-info").inner_text()


def test_answer_card_and_highlighted_quote(page: Any) -> None:
    answer = _ask(page, EXPORTS_QUESTION)
    assert EXPORTS_FACT in answer.locator(".rag-answer-text").inner_text()
    card = answer.locator(".rag-card").first
    assert card.is_visible()
    mark = card.locator(".rag-context mark")
    assert mark.count() == 1 and EXPORTS_FACT in mark.inner_text()
    assert card.locator(".rag-ref").first.inner_text() == "[1]"
    # The whole article opens on click, the same quote highlighted in it.
    article = card.locator("details.rag-full .rag-article")
    assert not article.is_visible()
    card.locator("details.rag-full summary").click()
    assert article.is_visible()
    assert article.locator("mark").inner_text() == mark.inner_text()
    assert len(article.inner_text()) > len(card.locator(".rag-context").inner_text())


def test_a_follow_up_shows_the_question_it_answered(page: Any) -> None:
    _ask(page, EXPORTS_QUESTION)
    resolved = page.locator("#rag-chat .rag-resolved")
    before = resolved.count()
    answer = _ask(page, "What about in August?")
    # The browser sent the chat back with its first turn: the follow-up was read with it.
    assert resolved.count() == before + 1
    shown = resolved.last
    assert shown.is_visible()
    said = shown.inner_text()
    assert said.startswith("Answered as:")
    assert "By how much did Chinese exports to North Korea rise in August?" in said
    assert page.locator("#rag-chat .rag-question").last.inner_text() == "What about in August?"
    assert answer.locator(".rag-card").count() >= 1
    # The turn it carries to the next question is not shown.
    assert not page.locator("#rag-chat .rag-turn").last.is_visible()
def test_an_answer_with_its_articles_opened_stays_compact(page: Any) -> None:
    from ui.render import ARTICLE_BOX_PX

    # Three quotes from one article were three cards; opened, the answer was about
    # 2,400 px tall in the chat's 560 px box. A new conversation: after earlier turns,
    # "this high" would be read as a follow-up of the last one.
    page.reload(wait_until="networkidle")
    answer = _ask(page, "When was the last time trade between China and North Korea was "
                        "this high?")
    cards = answer.locator(".rag-card")
    titles = [cards.nth(i).locator(".rag-title").inner_text() for i in range(cards.count())]
    assert titles and len(titles) == len(set(titles))  # one card per story
    assert "the highest since December 2019" in answer.locator(".rag-answer-text").inner_text(
        ).split("[1]")[0]
    closed = answer.bounding_box()["height"]
    for i in range(cards.count()):
        cards.nth(i).locator("details.rag-full summary").click()
        box = cards.nth(i).locator(".rag-article").bounding_box()
        assert box is not None and box["height"] <= ARTICLE_BOX_PX + 2
    assert "Home > National" not in answer.inner_text()
    assert "print dictionary print" not in answer.inner_text()
    assert "![" not in answer.inner_text()
    # Opening an article adds its scrolling box and a line, not the article.
    opened = answer.bounding_box()["height"]
    assert opened - closed <= cards.count() * (ARTICLE_BOX_PX + 60), (closed, opened)
    assert opened <= 1100, opened


def _quotes(answer: Any) -> int:
    """How many quotes an answer's text gives (its [n] markers)."""
    return answer.locator(".rag-answer-text .rag-ref").count()


def test_more_quotes_on_request(page: Any) -> None:
    page.reload(wait_until="networkidle")  # a new conversation
    more = page.locator("#rag-more")
    assert not more.is_visible()  # nothing to add to yet
    answer = _ask(page, "Which Chinese diplomats have held talks with North Korean foreign "
                        "ministry officials?")
    assert _quotes(answer) == 3  # the default: the answer fits one screen
    cards = answer.locator(".rag-card").count()
    # The button comes with an answer that has as many quotes as it may.
    more.wait_for(state="visible")
    more.click()
    deadline = time.monotonic() + 30
    while _quotes(page.locator("#rag-chat .rag-answer").last) <= 3:
        assert time.monotonic() < deadline, "no more quotes appeared within 30 s"
        page.wait_for_timeout(100)
    answer = page.locator("#rag-chat .rag-answer").last
    # The same answer with more quotes, in place: one question, one answer.
    assert page.locator("#rag-chat .rag-answer").count() == 1
    assert page.locator("#rag-chat .rag-question").count() == 1
    shown = answer.locator(".rag-card")
    titles = [shown.nth(i).locator(".rag-title").inner_text() for i in range(shown.count())]
    assert len(titles) == len(set(titles)) >= cards  # still one card per story
    refs = answer.locator(".rag-card-head .rag-ref")
    assert refs.count() == _quotes(answer) > 3  # every quote is in a card


def test_article_with_script_is_shown_as_text(page: Any) -> None:
    answer = _ask(page, f"{SCRIPT} {SPICE_QUESTION}")
    card = answer.locator(".rag-card").first
    quote = card.locator(".rag-context mark").inner_text()
    assert SCRIPT in quote and SPICE_QUOTE in " ".join(quote.split())
    card.locator("details.rag-full summary").click()
    whole = card.locator(".rag-article").inner_text()
    assert SCRIPT in whole and BOLD in whole and '<img src=x onerror="alert(2)">' in whole
    assert "Zanzibar clove <b>prices</b> climb" in card.locator(".rag-title").inner_text()
    # The question is shown as typed, as text.
    asked = page.locator("#rag-chat .rag-question").last.inner_text()
    assert asked.startswith(SCRIPT)
    # Nothing was injected or run.
    page.wait_for_timeout(300)
    chat = page.locator("#rag-chat")
    assert chat.locator("script").count() == 0
    assert chat.locator("img[src='x']").count() == 0
    assert chat.locator("b").count() == 0 and chat.locator(".rag-card i").count() == 0
    assert DIALOGS == []


def test_abstention_is_labelled(page: Any) -> None:
    answer = _ask(page, "Who won the 1998 football world cup?")
    assert "no answer" in answer.locator(".rag-abstain").inner_text().lower()
    assert answer.locator(".rag-not-answer").count() >= 1
    assert "not answer" in answer.inner_text()


#: What Gradio shows for an event that raised: a toast, or "Error" over the output.
GRADIO_ERRORS = "[data-testid='toast-body'], [data-testid='status-tracker'] .error"


def _reply(page: Any, act: Any) -> Any:
    """Do ``act()`` and return the locator of the chat's new error message."""
    before = page.locator("#rag-chat .rag-error").count()
    act()
    deadline = time.monotonic() + 60
    while page.locator("#rag-chat .rag-error").count() <= before:
        assert time.monotonic() < deadline, "no message appeared in the chat within 60 s"
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # a toast, were there one, would be up by now
    return page.locator("#rag-chat .rag-error").last


def _nothing_covers(page: Any, message: Any) -> None:
    """No Gradio error toast or badge is shown, and ``message`` is on top where it is."""
    shown = [e for e in page.locator(GRADIO_ERRORS).all() if e.is_visible()]
    assert shown == [], [e.inner_text() for e in shown]
    message.scroll_into_view_if_needed()
    box = message.bounding_box()
    assert box is not None
    on_top = page.evaluate(
        "([x, y]) => { const e = document.elementFromPoint(x, y);"
        " return !!(e && e.closest('#rag-chat .rag-error')); }",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert on_top, "something covers the chat's message"


def _type_into(box: Any, value: str) -> None:
    """Fill ``box`` with ``value`` and wait until the value is kept.

    Gradio mounts a closed accordion's components only when it is first opened,
    and a value typed in the first ~100 ms after that can be overwritten as the
    new textbox takes its initial value (measured: 6 of 10 fills right after the
    click were lost, none after the box had settled). The value then never
    reached the app, and the test waited in vain for the message it should cause.
    So: type, and type again until the box has kept the value for a moment.
    """
    deadline = time.monotonic() + 10
    while True:
        box.fill(value)
        for _ in range(3):  # kept for 300 ms
            box.page.wait_for_timeout(100)
            if box.input_value() != value:
                break
        else:
            return
        assert time.monotonic() < deadline, f"the box does not keep {value!r}"


def test_a_bad_date_filter_is_answered_in_the_chat(page: Any) -> None:
    page.get_by_text("Search options").first.click()
    since = page.locator("#rag-since input, #rag-since textarea").first
    _type_into(since, "yesterday-ish")
    box = page.locator("#rag-question textarea")
    box.fill(EXPORTS_QUESTION)
    try:
        message = _reply(page, lambda: box.press("Enter"))
        said = message.inner_text()
        assert "“yesterday-ish” in “Published since” is not a date" in said
        assert "YYYY-MM-DD" in said
        _nothing_covers(page, message)
        # The question stays in its box, to send again once the date is fixed.
        assert box.input_value() == EXPORTS_QUESTION
    finally:
        _type_into(since, "")
    assert EXPORTS_FACT in _ask(page, EXPORTS_QUESTION).inner_text()


def test_a_rejected_upload_is_explained_in_the_chat(page: Any, tmp_path: Path) -> None:
    scan = tmp_path / "scan.txt"
    scan.write_bytes(b"\x00\x01\x02" * 50)
    page.get_by_text("Add articles").first.click()
    page.locator("#rag-files input[type=file]").set_input_files(str(scan))
    page.wait_for_timeout(1000)  # the file is sent to the server first
    message = _reply(page, lambda: page.locator("#rag-add").click())
    said = message.inner_text()
    assert "Could not add 1 file: scan.txt: looks like a binary file" in said
    assert "Fix the file and add it again." in said
    _nothing_covers(page, message)


def test_nothing_is_fetched_from_elsewhere(page: Any) -> None:
    assert EXTERNAL == []
