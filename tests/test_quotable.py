"""The rules that keep captions, headlines, bylines and fragments out of answers.

Positive and negative cases for each rule: lines of the bundled articles
(rag/data/articles) and made-up lines shaped the way news pages are built.
"""

from __future__ import annotations

import pytest

from rag.quotable import (
    BREADCRUMB,
    BYLINE,
    CAPTION,
    FRAGMENT,
    HEADLINE,
    MARKUP_REASON,
    NO_STATEMENT,
    PHOTO_CREDIT,
    WIDGET,
    is_byline,
    is_caption,
    starts_a_sentence,
    unquotable,
)

PROSE = "Trade between the two countries rose by a third in September, officials said."


def _why(line: str, before: str = "", after: str = "", title: str | None = None) -> str | None:
    """``unquotable`` of ``line`` as a whole line of an article between ``before`` and
    ``after`` (each a paragraph of prose by default)."""
    head = (before or PROSE) + "\n"
    text = head + line + "\n" + (after or PROSE)
    return unquotable(text, len(head), len(head) + len(line), title)


# ---------------------------------------------------------------- captions


@pytest.mark.parametrize("line", [
    # The bundled Korea JoongAng Daily articles.
    "From left: North Korea eader Kim Jong-un, Chinese President Xi Jinping, Russian "
    "president Vladimir Putin [JOONGANG PHOTO]",
    "A photo released by the official North Korean Central News Agency (KCNA) shows China's "
    "president Xi Jinping, right, shaking hands with North Korean leader Kim Jong-un during a "
    "meeting at the Great Hall of the People in Beijing on Sept. 4. [EPA/YONHAP]",
    "Chinese Ambassador to North Korea Wang Yajun, center, is seen visiting a memorial "
    "facility in North Korea for Chinese troops who fought in the 1950-53 Korean War on "
    "April 1 in this photo provided by the Chinese Embassy in North Korea. [YONHAP]",
    "North Korean leader Kim Jong-un and his daughter, Kim Ju-ae, visit the Wonsan-Kalma "
    "coastal tourist area for its opening ceremony on June 24, as reported by the Rodong "
    "Sinmun on June 26. [NEWS1]",
    # Made up, in the usual shapes.
    "Protesters gather outside parliament in London on Tuesday. (Reuters)",
    "Firefighters battle a blaze in Athens. (AP Photo/Petros Giannakouris)",
    "The leaders meet in Hanoi (KCNA via KNS)",
    "Left to right: the mayor, the governor and the senator.",
    "President Joe Biden (C) walks with aides at the White House.",
    "An undated handout image shows the new reactor building.",
    "Rescue workers search the rubble, seen in this image taken from video.",
])
def test_captions_are_never_quoted(line):
    assert is_caption(line)
    assert _why(line) == CAPTION


def test_every_sentence_of_a_caption_is_a_caption():
    caption = ("Kim Jong-un and his daughter visit the beach on June 24, as reported by the "
               "Rodong Sinmun. [NEWS1]")
    text = f"{PROSE}\n{caption}\n{PROSE}"
    start = text.index("Kim")
    end = text.index(" [NEWS1]")
    assert unquotable(text, start, end) == CAPTION  # the sentence without the credit


def test_a_caption_repeating_the_image_alt_text_is_a_caption():
    # Made up: no photo word, no credit, only the repeat tells it is a caption.
    alt = "Delegates arrive for the summit in Jakarta on Monday"
    text = f"{PROSE}\n![{alt}](https://example.org/p.jpg)\n{alt}.\n{PROSE}"
    start = text.index(f"\n{alt}.") + 1
    assert unquotable(text, start, start + len(alt) + 1) == CAPTION


@pytest.mark.parametrize("line", [
    PROSE,
    # The bundled articles: prose that names a photo, an agency or a position.
    "However, the specifics of the talks were not shared by the North Korean state media, KCNA.",
    "Now, the diplomatic representatives of Kim Jong Un are in China to enhance cooperation "
    "with Xi Jinping’s government, reported Reuters.",
    # Made up.
    "The photo went viral within hours, and the ministry later deleted it.",
    "The image of the leader shaking hands was shared widely, analysts said.",
    "He turned right, then walked out of the hall without a word.",
    "The ruling, under section 3(c) of the act, took effect on Monday.",
    "Reuters reported that the talks had stalled over the summer.",
])
def test_prose_is_no_caption(line):
    assert not is_caption(line)
    assert _why(line) is None


# ---------------------------------------------------------------- photo credits, bylines


@pytest.mark.parametrize("line", [
    "Kim Jong Un Photo by Alexander Khitrov on Shutterstock",  # the bundled Benzinga article
    "Photo: Reuters",
    "Image credit: Getty Images",
    "The harbour at dawn — Reuters photo",
])
def test_photo_credits_are_never_quoted(line):
    assert _why(line) == PHOTO_CREDIT


@pytest.mark.parametrize("line", [
    "BY CHUNG YEONG-GYO [[email protected]]",  # the bundled JoongAng Daily articles
    "BY LEE YU-JUNG, CHUNG YEONG-GYO [[email protected]]",
    "Translated from the JoongAng Ilbo using generative AI and edited by Korea JoongAng Daily "
    "staff.",
    "This content was partially produced with the help of Benzinga Neuro and was reviewed and "
    "published by Benzinga editors.",
    "By Jane Doe and Sam Roe",
    "By Ana de la Cruz | Reuters",
    "Reporting by Ju-min Park; Editing by Lincoln Feast.",
    "Contact the writer at jdoe@example.com",
])
def test_bylines_are_never_quoted(line):
    assert is_byline(line)
    assert _why(line) in (BYLINE, NO_STATEMENT)


@pytest.mark.parametrize("line", [
    "By the end of the year, exports had doubled, the ministry said.",
    "By Monday, the talks had ended without a statement.",
    "The report, written by United Nations staff, found that exports fell.",
    "Kim was joined by Choe Son Hui and Pak Myong Ho at the talks.",
])
def test_sentences_starting_with_by_are_prose(line):
    assert not is_byline(line)
    assert _why(line) is None


# ---------------------------------------------------------------- headlines


@pytest.mark.parametrize("line, title", [
    ("Kim Jong Un leaves Beijing", "Kim Jong Un leaves Beijing"),  # The Speaker's title
    ("North Korea-China trade reaches highest level in 6 years", None),  # title-like line
    ("The Speaker", None),  # an outlet's name line
    ("Beyond the Headlines", None),  # a section heading
    ("Kim meets Xi.", "Kim meets Xi."),  # a stated title ending with a full stop
])
def test_headlines_are_never_quoted(line, title):
    assert _why(line, title=title) == HEADLINE


def test_a_first_sentence_the_title_was_taken_from_is_quotable():
    # An article that states no title is titled by its first sentence, without its
    # full stop (rag.text.first_sentence_title): that sentence is still prose.
    assert _why("Kim met Xi in Beijing on Monday.", title="Kim met Xi in Beijing on Monday") is None


# ---------------------------------------------------------------- page furniture


def test_breadcrumbs_widgets_and_markup_are_never_quoted():
    assert _why("Home > National > North Korea") == BREADCRUMB
    assert _why("print dictionary print") == WIDGET
    assert _why("Share on Facebook Twitter Email") == WIDGET
    assert _why("![From left: Kim, Xi [PHOTO]](https://example.org/a.jpg)") == MARKUP_REASON
    assert _why("Kim spoke, as ![x](https://example.org/x.png) shows.") == MARKUP_REASON
    assert _why("Share prices fell 3% on Monday, traders said.") is None


# ---------------------------------------------------------------- fragments


def test_a_sentence_cut_by_a_line_break_is_a_fragment():
    # The bundled article 001 as split before line breaks joined: its second line
    # opens mid-sentence.
    text = ("This surge follows a decline in August, highlighting a renewed economic\n"
            "engagement between the two nations. Key exports included soybean oil.")
    start = text.index("engagement")
    end = text.index(" Key")
    assert unquotable(text, start, end) == FRAGMENT
    assert unquotable(text, 0, text.index("\n")) == FRAGMENT  # no ending
    assert unquotable(text, end + 1, len(text)) is None


@pytest.mark.parametrize("text, start, expected", [
    ("Kim left. Xi stayed.", 10, True),
    ("Kim left.\nXi stayed.", 10, True),
    ("“We agree.” Then they left.", 12, True),
    ("Kim left Beijing and Xi stayed.", 17, False),   # mid-sentence
    ("Exports rose 14 percent in all.", 13, False),   # a figure mid-sentence
    ("iPhone sales rose.", 0, True),                  # a lower-case brand
    ("it rose sharply.", 0, False),                   # lower-case opening
    ("14 staff members arrived.", 0, True),
])
def test_where_a_sentence_may_start(text, start, expected):
    assert starts_a_sentence(text, start) is expected


def test_a_sentence_without_an_ending_inside_a_line_is_a_fragment():
    text = "Trade rose. Exports to the North of soybean oil and sugar"
    assert unquotable(text, 12, len(text)) == FRAGMENT
    assert unquotable(text, 0, 11) is None


def test_text_that_states_nothing_is_never_quoted():
    assert _why("Wednesday, 29 May 2024 – 22:46") == NO_STATEMENT  # The Speaker's dateline
    assert _why("What's Next?") == NO_STATEMENT
    assert _why("Is Sam Bankman-Fried a bad 'man' or a good 'boy'?") is None
