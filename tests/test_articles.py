import json
import re
from pathlib import Path

import pytest

from rag import CorpusError, bundled_corpus_dir, load_articles
from rag.articles import METADATA_FILE, headline, normalise_date
from rag.text import TITLE_CHARS, first_sentence_title

from .conftest import MULTIHOP, SHARED


def test_bundled_articles_are_verbatim_copies_of_the_seed_articles():
    shipped = sorted(p for p in bundled_corpus_dir().glob("*.txt"))
    assert len(shipped) == 5
    seed = SHARED / "seed-articles"
    if not seed.is_dir():
        pytest.skip("../shared/seed-articles is not beside the repo")
    for path in shipped:
        assert path.read_bytes() == (seed / path.name).read_bytes(), path.name


def test_bundled_metadata_is_what_each_article_states():
    result = load_articles([bundled_corpus_dir()])
    by_file = {Path(a.path or "").name: a for a in result.articles}
    assert len(by_file) == 5 and not result.problems
    assert by_file["000_41ec8c6fda7abf97.txt"].source == "Benzinga"
    assert by_file["001_d31c600e7eb441d6.txt"].source is None
    speaker = by_file["002_348524b5bf1d0eba.txt"]
    assert (speaker.source, speaker.published) == ("The Speaker", "2024-05-29T22:46:00")
    assert speaker.title == "Kim Jong Un leaves Beijing"
    assert by_file["003_6230062a871ff9f3.txt"].author == "Chung Yeong-gyo"
    assert by_file["004_e9cc1f58b883393d.txt"].published is None
    for article in result.articles:
        assert article.text == (bundled_corpus_dir() / Path(article.path or "").name).read_text()


HEX_ID = re.compile(r"\b[0-9a-f]{16}\b")


def test_every_bundled_article_shows_an_outlet_a_title_and_a_date():
    result = load_articles([bundled_corpus_dir()])
    by_file = {Path(a.path or "").name: a for a in result.articles}
    assert len(by_file) == 5
    for name, article in by_file.items():
        for shown in (article.source_label, article.title, article.date_label):
            assert shown and shown.strip(), name
            assert not HEX_ID.search(shown) and "Untitled" not in shown, (name, shown)
        # Nothing is invented: the title and outlet are in the article's own words.
        flat = " ".join(article.text.split())
        assert (article.title or "").removesuffix("…") in flat, name
        assert article.source is None or article.source in flat, name
        assert len(article.title or "") <= TITLE_CHARS + 1, name
    assert by_file["001_d31c600e7eb441d6.txt"].source_label == "outlet not stated"
    assert by_file["001_d31c600e7eb441d6.txt"].title == (
        "Chinese exports to North Korea experienced a significant increase in September…")
    assert by_file["000_41ec8c6fda7abf97.txt"].date_label == "date not stated (page © 2025)"
    assert by_file["002_348524b5bf1d0eba.txt"].date_label == "2024-05-29"
    assert by_file["004_e9cc1f58b883393d.txt"].date_label == (
        "date not stated (photo URLs dated 2025/04/08)")
    # The first lines of 003 and 004 are their headlines, as the metadata file says.
    for name in ("003_6230062a871ff9f3.txt", "004_e9cc1f58b883393d.txt"):
        article = by_file[name]
        assert headline(article.text) == article.title


@pytest.mark.parametrize("text, title", [
    ("Port of Nampo reopens to Chinese freight\n\nThe port reopened on Tuesday.\n",
     "Port of Nampo reopens to Chinese freight"),
    ("\n  Is China North Korea's lifeline?\nTrade rose again in May.\n",
     "Is China North Korea's lifeline?"),
    ("North Korea-China trade reaches highest level in 6 years\r\nTrade rose.\r\n",
     "North Korea-China trade reaches highest level in 6 years"),
    ("“Security from Russia, economy from China” for Pyongyang\nBody text here.\n",
     "“Security from Russia, economy from China” for Pyongyang"),
])
def test_a_headline_first_line_is_the_title(text, title):
    assert headline(text) == title


@pytest.mark.parametrize("text", [
    # a sentence: it ends with a full stop
    "The port at Nampo reopened on Tuesday.\nOfficials expect trucks to cross daily.\n",
    # a sentence without its full stop, but with a sentence break inside
    "Talks resumed in Beijing. Both sides met again on Monday\nMore text.\n",
    # too long for a headline
    "Officials at the port of Nampo said on Tuesday that freight traffic with the Chinese "
    "city of Dandong had reached its highest level since the border closed in 2020\nMore.\n",
    # a clause: it ends with a comma or colon
    "In a rare move since the border closures,\nthe delegation arrived.\n",
    "What Happened:\nThe delegation arrived.\n",
    # an outlet name, a section heading, a dateline, a byline, a link, an image
    "The Speaker\nWednesday, 29 May 2024 – 22:46\n\nKim Jong Un leaves Beijing\n",
    "What's Happening?\nChinese exports rose.\n",
    "Wednesday, 29 May 2024 – 22:46\nKim left Beijing.\n",
    "By Lee Yu-jung and Chung Yeong-gyo\nThe talks resumed.\n",
    "https://example.org/news/port-reopens-today\nThe port reopened.\n",
    "![Photo of the port at Nampo](https://example.org/a.jpg)\nThe port reopened.\n",
    # lower-case start: a hard-wrapped sentence
    "the port reopened to freight on Tuesday after\nthree years of closure.\n",
    # nothing after it: the line is the whole article, not its headline
    "Port of Nampo reopens to Chinese freight\n",
])
def test_lines_that_are_not_headlines(text):
    assert headline(text) is None


def test_a_txt_headline_becomes_the_title_and_the_text_stays_verbatim(tmp_path):
    text = "Port of Nampo reopens to Chinese freight\n\nThe port reopened on Tuesday.\n"
    (tmp_path / "port.txt").write_text(text, encoding="utf-8")
    (tmp_path / "prose.txt").write_text(
        "The port at Nampo reopened to Chinese freight on Tuesday after three years of "
        "closure, officials said. Trucks crossed.\n", encoding="utf-8")
    (tmp_path / "meta.txt").write_text("A headline that the metadata overrides\nBody.\n")
    (tmp_path / METADATA_FILE).write_text(json.dumps({"meta.txt": {"title": "Given title"}}))
    by_name = {Path(a.path or "").name: a for a in load_articles([tmp_path]).articles}
    port = by_name["port.txt"]
    assert port.title == "Port of Nampo reopens to Chinese freight"
    assert port.text == text  # quotes are offsets into this text: it is not trimmed
    prose = by_name["prose.txt"].title or ""
    assert prose == ("The port at Nampo reopened to Chinese freight on Tuesday after three "
                     "years of…")
    assert len(prose) <= TITLE_CHARS + 1
    assert by_name["meta.txt"].title == "Given title"


def test_a_derived_title_skips_boilerplate_and_headings():
    text = ("![x](https://example.org/a.jpg)\nWhat's Happening?\nKim Jong Un left Beijing "
            "on Wednesday. He went to Dandong.\n")
    image_line = (0, text.index("\n"))
    assert first_sentence_title(text, [image_line]) == "Kim Jong Un left Beijing on Wednesday"
    assert first_sentence_title("Short.") == "Short"
    long_word = "x" * 200
    assert first_sentence_title(long_word) == "x" * (TITLE_CHARS - 1) + "…"


def test_markdown_front_matter_and_missing_metadata(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\ntitle: Port reopens\nsource: Daily Wire Service\ndate: October 4, 2023\n"
        "url: https://example.org/a\n---\nThe port at Nampo reopened on Tuesday.\n")
    (tmp_path / "b.txt").write_text("Talks resumed in Beijing.\n")
    articles = {a.text.strip(): a for a in load_articles([tmp_path]).articles}
    md = articles["The port at Nampo reopened on Tuesday."]
    assert (md.title, md.source, md.published, md.url) == (
        "Port reopens", "Daily Wire Service", "2023-10-04", "https://example.org/a")
    txt = articles["Talks resumed in Beijing."]
    assert (txt.source, txt.published, txt.url, txt.author) == (None,) * 4
    # No title stated: its first sentence stands in, taken from its own text.
    assert txt.title == "Talks resumed in Beijing"
    assert (txt.source_label, txt.date_label) == ("outlet not stated", "date not stated")


def test_json_and_jsonl_records(tmp_path):
    records = [
        {"title": "One", "body": "First body text here.", "source": "Outlet A",
         "published_at": "2023-11-27 08:45:59.000000000Z", "url": "u1", "author": "X"},
        {"title": "Two", "content": "Second body text.", "date": "2023-12-01"},
        {"title": "No body"},
    ]
    (tmp_path / "c.json").write_text(json.dumps(records))
    (tmp_path / "d.jsonl").write_text(
        json.dumps({"text": "Third body.", "source": "Outlet B"}) + "\n{not json\n")
    result = load_articles([tmp_path])
    by_title = {a.title: a for a in result.articles}
    assert by_title["One"].published == "2023-11-27T08:45:59+00:00"
    assert by_title["Two"].published == "2023-12-01"
    assert {a.source for a in result.articles} == {"Outlet A", None, "Outlet B"}
    reasons = " ".join(str(p) for p in result.problems)
    assert "no body" in reasons and "malformed JSON" in reasons


def test_html_main_text_is_extracted(tmp_path):
    (tmp_path / "e.html").write_text(
        "<html><head><title>Rail link opens</title></head><body><nav>Home | World</nav>"
        "<article><h1>Rail link opens</h1><p>" + "A new rail link between Dandong and "
        "Sinuiju opened to freight on Monday, officials said. " * 3 + "</p></article>"
        "<footer>Copyright 2023</footer></body></html>")
    [article] = load_articles([tmp_path]).articles
    assert "Sinuiju opened to freight" in article.text
    assert "Home | World" not in article.text


def test_bad_files_are_skipped_with_a_reason_and_the_rest_loads(tmp_path):
    (tmp_path / "good.txt").write_text("A readable article.")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02 binary")
    (tmp_path / "empty.md").write_text("   \n")
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 talks in P'yang.".encode("latin-1"))
    (tmp_path / "copy.txt").write_text("A readable article.")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    result = load_articles([tmp_path])
    texts = sorted(a.text for a in result.articles)
    assert texts == ["A readable article.", "Café talks in P'yang."]
    problems = {Path(p.path).name: p.reason for p in result.problems}
    assert "binary" in problems["binary.txt"]
    assert "empty" in problems["empty.md"]
    assert "malformed JSON" in problems["bad.json"]
    assert "duplicate" in problems.get("copy.txt", problems.get("good.txt", ""))
    assert "cp1252" in problems["latin.txt"]


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        load_articles([tmp_path / "nope"])
    (tmp_path / "readme.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusError, match="no readable articles"):
        load_articles([tmp_path])


def test_sidecar_metadata_file_is_not_an_article(tmp_path):
    (tmp_path / "x.txt").write_text("Body.")
    (tmp_path / METADATA_FILE).write_text(json.dumps({"x.txt": {"source": "S"}}))
    [article] = load_articles([tmp_path]).articles
    assert article.source == "S"


@pytest.mark.parametrize("raw, iso", [
    ("2023-11-27 08:45:59.000000000Z", "2023-11-27T08:45:59+00:00"),
    ("2023-10-04", "2023-10-04"),
    ("October 4, 2023", "2023-10-04"),
    ("Wednesday, 29 May 2024", "2024-05-29"),
    ("not a date", None),
    (None, None),
])
def test_dates_are_normalised_to_iso(raw, iso):
    assert normalise_date(raw) == iso


@pytest.mark.skipif(not (MULTIHOP / "corpus.json").is_file(), reason="dataset not beside repo")
def test_multihop_corpus_loads_as_is():
    result = load_articles([MULTIHOP / "corpus.json"])
    assert len(result.articles) == 609
    assert not [p for p in result.problems if p.skipped]
    first = result.articles[0]
    assert first.title and first.source and first.url
    assert first.published and first.published[:4] == "2023"
