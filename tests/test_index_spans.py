"""Which sentences each chunk holds, and which chunk holds each sentence: the binary
searches over span arrays against the plain check of every chunk."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.index_format import first_containing, in_window_order, sentences_in_chunks


def _each_chunk(chunk_article, starts, ends, sentences):
    owner = []
    for a, s, e in sentences.tolist():
        owner.append(next((i for i in range(len(starts)) if chunk_article[i] == a
                           and starts[i] <= s and e <= ends[i]), -1))
    return owner


@st.composite
def window_corpora(draw):
    """Articles cut into sentences and into overlapping windows of sentences (how
    the chunker cuts), some articles with no chunk, some windows not on a boundary."""
    chunk_article, starts, ends, sentences = [], [], [], []
    for a in range(draw(st.integers(1, 5))):
        bounds = np.cumsum([0, *draw(st.lists(st.integers(1, 30), min_size=1, max_size=12))])
        gaps = draw(st.lists(st.integers(0, 4), min_size=len(bounds) - 1,
                             max_size=len(bounds) - 1))
        sentences += [(a, int(s), max(int(s) + 1, int(e) - g))
                      for s, e, g in zip(bounds[:-1], bounds[1:], gaps, strict=True)]
        if draw(st.booleans()):
            continue
        start, shift = 0, draw(st.integers(0, 3))
        while start < bounds[-1]:
            end = min(int(bounds[-1]), start + draw(st.integers(5, 60)))
            end = max(end, ends[-1]) if chunk_article and chunk_article[-1] == a else end
            chunk_article.append(a)
            starts.append(start)
            ends.append(end)
            start = max(start + 1, end - draw(st.integers(0, 20)) + shift)
    return (np.array(chunk_article, dtype=np.int64), np.array(starts, dtype=np.int64),
            np.array(ends, dtype=np.int64), np.array(sentences, dtype=np.int64).reshape(-1, 3))


@settings(max_examples=200, deadline=None)
@given(window_corpora())
def test_the_first_containing_chunk_by_search_is_the_one_a_scan_finds(corpus):
    chunk_article, starts, ends, sentences = corpus
    assert in_window_order(chunk_article, starts, ends)
    found = first_containing(chunk_article, starts, ends, sentences)
    assert found is not None
    assert found.tolist() == _each_chunk(chunk_article, starts, ends, sentences)


@settings(max_examples=200, deadline=None)
@given(window_corpora())
def test_each_chunks_sentences_by_search_are_those_a_scan_finds(corpus):
    chunk_article, starts, ends, sentences = corpus
    flat, offsets = sentences_in_chunks(chunk_article, starts, ends, sentences)
    bounds = [*offsets.tolist(), len(flat)]
    for i in range(len(starts)):
        expect = [r for r, (a, s, e) in enumerate(sentences.tolist())
                  if a == chunk_article[i] and s < ends[i] and e > starts[i]] or [len(sentences)]
        assert flat[bounds[i]:bounds[i + 1]].tolist() == expect


def test_chunks_out_of_window_order_are_left_to_the_scan():
    # A chunk that starts before the one before it: the caller must check each chunk.
    chunk_article = np.array([0, 0]), np.array([10, 0]), np.array([20, 30])
    assert not in_window_order(*chunk_article)
    assert first_containing(*chunk_article, np.array([[0, 12, 18]])) is None


def test_each_chunks_sentences_on_the_real_index_match_the_per_chunk_check(bundled_index):
    flat, offsets = bundled_index._sentences_per_chunk()
    none = len(bundled_index.sentences)
    ends = [*offsets[1:].tolist(), len(flat)]
    for position, chunk in enumerate(bundled_index.chunks):
        expect = bundled_index.sentence_rows(int(bundled_index.chunk_article[position]),
                                             chunk.start, chunk.end).tolist() or [none]
        assert flat[offsets[position]:ends[position]].tolist() == expect
    owner = bundled_index.sentence_chunk
    for row, (a, s, e) in enumerate(bundled_index.sentences.tolist()):
        chunk = bundled_index.chunks[int(owner[row])]
        assert bundled_index.article_list[a].id == chunk.article_id
        assert chunk.start < e and chunk.end > s
