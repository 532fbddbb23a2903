from rag.clean import find_boilerplate, kept_blocks

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
