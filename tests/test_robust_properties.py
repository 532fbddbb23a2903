"""Property tests (Hypothesis): spans round-trip, quotes are verbatim, cleaning keeps lines whole.

For random texts: every chunk is ``article.text[start:end]`` and together the chunks
cover every kept character; every sentence span is trimmed and inside its line;
cleaning drops whole lines only and never alters a line it keeps; loading random
bytes or random JSON either yields articles or a skip with a reason. Over one
small index of random-but-realistic articles, every quote ``ask()`` composes is
verbatim in its source file.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rag
from rag.articles import ArticleError, load_file
from rag.chunks import Chunker
from rag.clean import find_boilerplate, kept_blocks
from rag.config import Config
from rag.errors import QuestionError
from rag.records import Article
from rag.retrieve import validate_question
from rag.sentences import split_sentences

# RAG_HYPOTHESIS_EXAMPLES raises the number of examples for a longer hunt.
EXAMPLES = int(os.environ.get("RAG_HYPOTHESIS_EXAMPLES", "80"))
FAST = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------- random texts

WORDS = ("the trade exports North Korea China rose percent September officials said ministers "
         "met Beijing Pyongyang Dandong border bridge freight talks Mr. Dr. U.S. Jan. 30.75% "
         "$271.2 million Kim Wang Yi Sun Weidong fourth visit café naïve Zürich 평양 北京").split()
BOILERPLATE = [
    "Advertisement", "Read more:", "See also: Related stories", "© 2023 Example News",
    "Copyright 2024 Wire Service. All rights reserved.", "Photo: Reuters", "Image by AFP",
    "Sign in to your account to comment", "12 comments", "Share this article", "Skip to content",
    "Home > World > Asia", "![chart](https://example.org/c.png)", "Back to top", "(0/500)",
    "lock icon", "s", "with the Daily", "By Jane Doe",
]

word = st.sampled_from(WORDS)
sentence = st.builds(
    lambda ws, end: " ".join(ws).capitalize() + end,
    st.lists(word, min_size=1, max_size=25), st.sampled_from([".", "!", "?", "", ".”", "..."]),
)
noise = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=60)
line = st.one_of(
    st.builds(" ".join, st.lists(sentence, min_size=1, max_size=4)),
    st.sampled_from(BOILERPLATE),
    st.just(""),
    st.just("   "),
    noise.map(lambda s: s.replace("\n", " ")),
)
texts = st.builds(
    lambda lines, nl, repeat: nl.join(lines + (lines[:1] if repeat else [])),
    st.lists(line, min_size=1, max_size=30),
    st.sampled_from(["\n", "\r\n", "\n\n"]),
    st.booleans(),
)
any_text = st.one_of(texts, st.text(min_size=0, max_size=400))


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, without its line break (written independently of clean.py)."""
    out, pos = [], 0
    for piece in text.split("\n"):
        end = pos + len(piece)
        out.append((pos, end - 1 if piece.endswith("\r") else end))
        pos = end + 1
    return out


@pytest.fixture(scope="module")
def chunker():
    from rag.embeddings import get_embedder

    return Chunker.for_tokenizer(get_embedder("all-MiniLM-L6-v2").tokenizer, 32, 8)


# ---------------------------------------------------------------- cleaning


@FAST
@given(any_text)
def test_cleaning_drops_whole_lines_and_never_alters_a_kept_line(text):
    dropped = find_boilerplate(text)
    lines = _lines(text)
    line_spans = set(lines)
    for d in dropped:
        assert (d.start, d.end) in line_spans, "a dropped span is not a whole line"
        assert d.reason
    blocks = kept_blocks(text, dropped)
    assert blocks == sorted(blocks)
    for (_, e1), (s2, _) in itertools.pairwise(blocks):
        assert e1 <= s2, "kept blocks overlap"
    for s, e in blocks:
        assert 0 <= s < e <= len(text)
        assert text[s:e] == text[s:e].strip()
        for d in dropped:
            assert d.end <= s or d.start >= e or d.start == d.end, "a block holds a dropped line"
    dropped_spans = {(d.start, d.end) for d in dropped}
    for start, end in lines:
        content = text[start:end]
        if (start, end) in dropped_spans or not content.strip():
            continue
        lead = len(content) - len(content.lstrip())
        trail = len(content) - len(content.rstrip())
        s, e = start + lead, end - trail
        # The kept line is inside one block, at the same offsets: unaltered.
        assert any(bs <= s and e <= be for bs, be in blocks), f"kept line lost: {content!r}"
    assert find_boilerplate(text) == dropped  # deterministic


# ---------------------------------------------------------------- sentences


@FAST
@given(any_text, st.data())
def test_sentence_spans_are_trimmed_ordered_and_inside_one_paragraph(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    spans = split_sentences(text, start, end)
    previous_end = start
    for s, e in spans:
        assert previous_end <= s < e <= end
        piece = text[s:e]
        assert piece == piece.strip() and len(piece) >= 3
        # A sentence holds a line break only where its next line goes on with it:
        # a single break, the line after it opening lower-case.
        assert "\n\n" not in piece.replace("\r", "")
        for line in piece.split("\n")[1:]:
            assert line.lstrip(" \t")[:1].islower() and line.lstrip(" \t")[:1].isascii()
        previous_end = e


# ---------------------------------------------------------------- chunks


@FAST
@given(texts)
def test_every_chunk_round_trips_and_kept_text_is_all_chunked(chunker, text):
    assume(text.strip())
    article = Article(id=Article.make_id(text), text=text, dropped=find_boilerplate(text))
    chunks = chunker.chunk(article)
    covered = bytearray(len(text))
    for n, chunk in enumerate(chunks):
        assert article.text[chunk.start:chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.ordinal == n and chunk.article_id == article.id
        assert 0 < chunk.n_tokens <= 32
        for d in article.dropped:
            assert d.end <= chunk.start or d.start >= chunk.end or d.start == d.end
        covered[chunk.start:chunk.end] = b"\x01" * (chunk.end - chunk.start)
    for s, e in kept_blocks(text, article.dropped):
        lost = [i for i in range(s, e) if not covered[i] and not text[i].isspace()]
        assert not lost, f"kept text left out of every chunk: {text[lost[0]:lost[0] + 20]!r}"
    assert [c.id for c in chunker.chunk(article)] == [c.id for c in chunks]


@FAST
@given(texts)
def test_chunk_pieces_are_exactly_the_reference_splitters(chunker, text):
    """Offsets are tracked by rag.chunks; the pieces are langchain's, unchanged."""
    spans = chunker.split_spans(text, 0, len(text))
    assert [text[s:e] for s, e in spans] == chunker._splitter.split_text(text)


# ---------------------------------------------------------------- loading and questions


@FAST
@given(st.binary(max_size=3000), st.sampled_from([".txt", ".md", ".json", ".jsonl", ".html"]))
def test_any_bytes_load_or_are_skipped_with_a_reason(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            articles, _notes = load_file(path)
        except ArticleError as exc:
            assert str(exc).startswith(str(path))
            return
        for article in articles:
            assert article.text.strip() and article.id == Article.make_id(article.text)
            if suffix == ".txt":  # the body is the whole file, decoded, nothing else
                readings = set()
                for encoding in ("utf-8-sig", "utf-16", "cp1252", "latin-1"):
                    with contextlib.suppress(UnicodeDecodeError):
                        readings.add(data.decode(encoding))
                readings.add(data.decode("utf-8-sig", errors="replace"))
                assert article.text in readings


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["body", "text", "content", "title", "source", "date",
                                       "published_at", "url", "author", "articles"]) | st.text(),
                      children, max_size=6),
    max_leaves=25,
)


@FAST
@given(json_values)
def test_any_json_loads_or_is_skipped_with_a_reason(value):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.json"
        path.write_text(json.dumps(value), encoding="utf-8")
        try:
            articles, problems = load_file(path)
        except ArticleError as exc:
            assert str(exc).startswith(str(path))
            return
        for article in articles:
            assert article.text.strip()
        for problem in problems:
            assert problem.path.startswith(str(path)) and problem.reason


@FAST
@given(st.text(max_size=300))
def test_any_question_is_cleaned_or_refused_with_a_question_error(question):
    try:
        cleaned = validate_question(question, Config())
    except QuestionError as exc:
        assert "empty" in str(exc)
        return
    assert cleaned == cleaned.strip() and cleaned
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", cleaned)


# ---------------------------------------------------------------- composed quotes


def _realistic_corpus(folder: Path, seed: int = 7) -> None:
    rnd = random.Random(seed)
    people = ["Kim Song Nam", "Wang Yi", "Choe Son Hui", "Sun Weidong", "Li Na", "José Núñez"]
    places = ["Dandong", "Sinuiju", "Nampo", "Dalian", "Rason", "Zürich"]
    goods = ["soybean oil", "wigs", "flour", "steel", "fertiliser", "coal"]
    for i in range(6):
        paragraphs = []
        for _ in range(rnd.randint(2, 5)):
            sentences = []
            for _ in range(rnd.randint(1, 4)):
                p, q, g = rnd.choice(people), rnd.choice(places), rnd.choice(goods)
                n = f"{rnd.randint(2, 99)}.{rnd.randint(0, 99)}%"
                sentences.append(rnd.choice([
                    f"Exports of {g} from {q} rose {n} in {rnd.choice(['March', 'October'])}.",
                    f"{p} met officials in {q} on Tuesday, according to state media.",
                    f"“We expect more {g} to cross the border,” {p} said.",
                    f"Mr. {p.split()[-1]} visited {q} for the {rnd.choice(['first', 'fourth'])} "
                    "time.",
                    f"Trade worth ${rnd.randint(10, 900)}.{rnd.randint(1, 9)} million passed "
                    f"through {q}.",
                ]))
            paragraphs.append(" ".join(sentences))
        if i % 3 == 0:
            paragraphs.insert(1, rnd.choice(BOILERPLATE))
        newline = "\r\n" if i % 4 == 1 else "\n"
        body = (newline * 2).join(paragraphs) + newline
        (folder / f"article_{i}.txt").write_bytes(body.encode("utf-8"))


@pytest.fixture(scope="module")
def random_index(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("random-corpus")
    _realistic_corpus(corpus)
    folder = tmp_path_factory.mktemp("random-index")
    rag.build_index([corpus], folder, progress=False)
    return rag.load_index(folder)


question_words = st.sampled_from(
    "who what when where how many much did met rose exports trade visit border said times "
    "Kim Wang Choe Sun Li José Dandong Sinuiju Nampo Dalian Rason Zürich soybean oil wigs "
    "flour steel coal March October percent million".split())
questions = st.one_of(
    st.builds(lambda ws: " ".join(ws) + "?", st.lists(question_words, min_size=1, max_size=12)),
    st.text(min_size=1, max_size=80),
)


@settings(max_examples=max(EXAMPLES // 2, 40), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(questions, st.integers(1, 10))
def test_every_composed_quote_is_verbatim_in_its_source(random_index, question, k):
    try:
        answer = rag.ask(question, k=k, index=random_index)
    except QuestionError:
        return  # blank after removing control characters
    assert answer.abstained == (not answer.citations)
    for n, citation in enumerate(answer.citations, 1):
        article = random_index.articles[citation.article_id]
        assert citation.n == n
        assert article.text[citation.start:citation.end] == citation.quote
        source = Path(article.path or "").read_bytes().decode("utf-8")
        assert source[citation.start:citation.end] == citation.quote
        assert f"“{citation.quote}” [{n}]" in answer.text
        for d in article.dropped:  # never quotes boilerplate
            assert d.end <= citation.start or d.start >= citation.end
    for hit in answer.hits:
        assert random_index.articles[hit.article_id].text[hit.start:hit.end] == hit.text
