import pytest

from rag.clean import MARKUP, find_boilerplate, is_breadcrumb, is_widget, kept_blocks

SCRAPED = """Headline about trade
![A long photo caption [PHOTO]](https://example.org/a.jpg)
A long photo caption [PHOTO]
Trade rose sharply in September, officials said.
See Also: Ten Things About Trade
Read Next: Another Story
Skip to content
A long photo caption [PHOTO] repeated? no.
A long photo caption [PHOTO]
Kim Photo by Someone on Shutterstock
© 2025 Example.com. All rights reserved.
Log in to Twitter or Facebook account to connect
with the Example Daily
lock icon
To write comments, please log in to one of the accounts.
BY REPORTER NAME
The talks ended without a statement."""


def _dropped_lines(text):
    return {text[d.start:d.end]: d.reason for d in find_boilerplate(text)}


def test_boilerplate_lines_are_dropped_with_reasons():
    dropped = _dropped_lines(SCRAPED)
    assert dropped["![A long photo caption [PHOTO]](https://example.org/a.jpg)"] == "image markdown"
    assert dropped["See Also: Ten Things About Trade"] == "teaser"
    assert dropped["Read Next: Another Story"] == "teaser"
    assert dropped["Skip to content"] == "navigation"
    assert dropped["Kim Photo by Someone on Shutterstock"] == "photo credit"
    assert dropped["© 2025 Example.com. All rights reserved."] == "copyright"
    assert dropped["Log in to Twitter or Facebook account to connect"].startswith("social")
    assert dropped["with the Example Daily"].startswith("social")
    assert dropped["lock icon"].startswith("social")
    assert "repeated" in dropped["A long photo caption [PHOTO]"]  # the second copy only


def test_prose_and_bylines_are_kept():
    dropped = _dropped_lines(SCRAPED)
    for line in ["Headline about trade", "Trade rose sharply in September, officials said.",
                 "BY REPORTER NAME", "The talks ended without a statement."]:
        assert line not in dropped


def test_kept_text_is_unaltered_and_blocks_avoid_dropped_lines():
    dropped = find_boilerplate(SCRAPED)
    blocks = kept_blocks(SCRAPED, dropped)
    kept = [SCRAPED[s:e] for s, e in blocks]
    assert kept[0] == "Headline about trade"  # the image line after it splits the block
    assert any("Trade rose sharply in September, officials said." in b for b in kept)
    for block in kept:
        assert block in SCRAPED
        assert "Shutterstock" not in block and "Read Next" not in block
    assert kept[-1].endswith("The talks ended without a statement.")


def test_clean_text_has_nothing_dropped():
    text = "One paragraph.\n\nAnother paragraph about the same thing."
    assert find_boilerplate(text) == ()
    assert kept_blocks(text, ()) == [(0, len(text))]


@pytest.mark.parametrize("line", [
    "Home > National > North Korea",  # the bundled JoongAng Daily article
    "Home › World",
    "News » Asia » Korea » Politics",
    "Business | Markets | Asia",
    "World > Asia-Pacific > China",
])
def test_breadcrumbs_are_navigation(line):
    assert is_breadcrumb(line)
    assert _dropped_lines(f"{line}\nTrade rose in September, officials said.") == {
        line: "navigation"}


@pytest.mark.parametrize("line", [
    "Revenue rose > 5% in the third quarter, the company said.",  # prose with a sign
    "Exports > imports",                                           # two items, not "Home >"
    "Home > the latest trade figures show a rise.",                # a sentence, not items
    "North Korea > China > Russia > allies in a long, shifting and uneasy triangle",
    "Trade rose in September, officials said.",
])
def test_prose_is_no_breadcrumb(line):
    assert not is_breadcrumb(line)


@pytest.mark.parametrize("line", [
    "print dictionary print",  # the bundled JoongAng Daily article
    "Share", "Share this article", "Share on Facebook Twitter Email", "A A", "Print Email",
    "Follow us on X", "Copy link",
])
def test_share_and_print_widgets_are_dropped(line):
    assert is_widget(line)
    assert _dropped_lines(f"Trade rose in September.\n{line}\nThe talks ended.") == {
        line: "share/print widget"}


@pytest.mark.parametrize("line", [
    "Share prices fell 3% on Monday.",
    "Print media lost readers in 2023, the survey said.",
    "Follow the money",
    "Share of exports: 12%",
])
def test_prose_using_widget_words_is_kept(line):
    assert not is_widget(line)
    assert _dropped_lines(f"Trade rose in September.\n{line}\nThe talks ended.") == {}


def test_image_markup_is_found_anywhere_in_a_line():
    assert MARKUP.search("Kim spoke. ![Kim](https://example.org/k.jpg) Then he left.")
    assert MARKUP.search("See [the report](https://example.org/r) for details.")
    assert not MARKUP.search("Kim [sic] spoke (in Pyongyang) on Monday.")
