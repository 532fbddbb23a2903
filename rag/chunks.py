"""Split articles into token-bounded chunks that know their character spans.

Chunking runs over the blocks that cleaning keeps, so a chunk never contains a
boilerplate line, and ``article.text[chunk.start:chunk.end] == chunk.text``.

The split is langchain-text-splitters' ``RecursiveCharacterTextSplitter``
algorithm carried out on offsets: it returns the same pieces, but knows where
each one is, so a sentence that occurs twice in a block is never mistaken for
its other copy (finding a piece's text again can pick the wrong one, and leave
the right one out of every chunk).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .clean import kept_blocks
from .records import Article, Chunk


class _SpanCounter:
    """Token counts of spans of one text, from one tokenization of all of it.

    A WordPiece/BPE tokenizer splits text into words first and tokenizes each word
    alone, so a span that starts and ends between words has exactly the tokens of
    the whole text's tokens inside it. A span whose edge cuts a word (the
    splitter's last resort, per character) is counted by the tokenizer itself.
    """

    def __init__(self, encoding: Any, specials: int, count: Callable[[str], int]):
        import numpy as np

        offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        self._starts, self._ends = offsets[:, 0], offsets[:, 1]
        words = np.asarray([-1 if w is None else w for w in encoding.word_ids], dtype=np.int64)
        self._words = words
        self._specials = specials
        self._fallback = count

    def _between_words(self, at: int) -> bool:
        import numpy as np

        i = int(np.searchsorted(self._starts, at, side="left"))  # first token starting >= at
        if i > 0 and self._ends[i - 1] > at:
            return False  # a token straddles ``at``
        return not (0 < i < len(self._words) and self._words[i - 1] == self._words[i])

    def count(self, text: str, start: int, end: int) -> int:
        if end <= start:
            return self._fallback("")
        if not (self._between_words(start) and self._between_words(end)):
            return self._fallback(text[start:end])
        import numpy as np

        first = int(np.searchsorted(self._starts, start, side="left"))
        last = int(np.searchsorted(self._starts, end, side="left"))
        return last - first + self._specials


# Paragraphs, then lines, then sentence ends, then clauses, then words.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


def _split_keeping_end(text: str, start: int, end: int, separator: str) -> list[tuple[int, int]]:
    """Spans of ``text[start:end]`` cut after each ``separator`` (or per character if empty)."""
    if not separator:
        return [(i, i + 1) for i in range(start, end)]
    spans = []
    pos = start
    while (at := text.find(separator, pos, end)) >= 0:
        spans.append((pos, at + len(separator)))
        pos = at + len(separator)
    if pos < end:
        spans.append((pos, end))
    return spans


def _stripped(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``(start, end)`` without surrounding whitespace; None if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


class Chunker:
    """Token-aware splitter (langchain-text-splitters) using the model's tokenizer.

    ``max_tokens`` counts the tokenizer's special tokens too, so a chunk always
    fits the model's input without truncation.
    """

    def __init__(self, count_tokens: Callable[[str], int], max_tokens: int, overlap: int,
                 spans: Callable[[str], _SpanCounter] | None = None,
                 spans_many: Callable[[list[str]], list[_SpanCounter]] | None = None):
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.count_tokens = count_tokens
        # With ``spans``, a block is tokenized once and its pieces are counted from
        # the token offsets (the tokenizer called once per piece was half of a
        # build's time on a hashed embedder, and 3% with the real model).
        self._spans = spans
        self._spans_many = spans_many
        self._block: _SpanCounter | None = None
        self.max_tokens = max_tokens
        self.overlap = overlap
        # The reference implementation: split_spans() returns its pieces, as spans.
        self._splitter = RecursiveCharacterTextSplitter(
            separators=SEPARATORS,
            keep_separator="end",
            chunk_size=max_tokens,
            chunk_overlap=overlap,
            length_function=count_tokens,
            strip_whitespace=True,
        )

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, max_tokens: int, overlap: int) -> Chunker:
        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            return cls(count, max_tokens, overlap)
        from tokenizers import Tokenizer

        # A copy: truncation or padding set on the model's tokenizer would cut the
        # counts short (the HF call above turns them off per call).
        whole = Tokenizer.from_str(backend.to_str())
        whole.no_truncation()
        whole.no_padding()
        specials = count("")

        def spans(text: str) -> _SpanCounter:
            return _SpanCounter(whole.encode(text, add_special_tokens=False), specials, count)

        def spans_many(texts: list[str]) -> list[_SpanCounter]:
            # The tokenizer encodes a batch on all cores (its own threads).
            return [_SpanCounter(e, specials, count)
                    for e in whole.encode_batch(texts, add_special_tokens=False)]

        return cls(count, max_tokens, overlap, spans, spans_many)

    def _count(self, text: str, start: int, end: int) -> int:
        if self._block is not None:
            return self._block.count(text, start, end)
        return self.count_tokens(text[start:end])

    def split_block(self, text: str, start: int, end: int,
                    counter: _SpanCounter | None = None) -> list[tuple[int, int, int]]:
        """(start, end, n_tokens) of the chunks of ``text[start:end]``; ``counter``
        holds the tokens of all of ``text`` when the caller has them already."""
        if counter is None and self._spans is not None:
            counter = self._spans(text)
        self._block = counter
        try:
            n = self._count(text, start, end)
            if n <= self.max_tokens:
                return [(start, end, n)]
            return [(s, e, self._count(text, s, e))
                    for s, e in self.split_spans(text, start, end)]
        finally:
            self._block = None

    def split_spans(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """The pieces ``RecursiveCharacterTextSplitter.split_text(text[start:end])`` returns,
        as spans of ``text``."""
        return self._split(text, start, end, SEPARATORS)

    def _split(self, text: str, start: int, end: int,
               separators: list[str]) -> list[tuple[int, int]]:
        # Mirrors RecursiveCharacterTextSplitter._split_text (keep_separator="end").
        separator, finer = separators[-1], []
        for i, candidate in enumerate(separators):
            if not candidate:
                separator = candidate
                break
            if text.find(candidate, start, end) >= 0:
                separator, finer = candidate, separators[i + 1:]
                break
        pieces: list[tuple[int, int]] = []
        fitting: list[tuple[int, int, int]] = []  # (start, end, tokens)
        for s, e in _split_keeping_end(text, start, end, separator):
            n = self._count(text, s, e)
            if n < self.max_tokens:
                fitting.append((s, e, n))
                continue
            if fitting:
                pieces.extend(self._merge(text, fitting))
                fitting = []
            pieces.extend(self._split(text, s, e, finer) if finer else [(s, e)])
        if fitting:
            pieces.extend(self._merge(text, fitting))
        return pieces

    def _merge(self, text: str, splits: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
        # Mirrors TextSplitter._merge_splits with separator "" (kept separators stay in the
        # splits, so consecutive splits are contiguous and a merged piece is one span).
        size, overlap = self.max_tokens, self.overlap
        joiner = self.count_tokens("")
        docs: list[tuple[int, int]] = []
        current: list[tuple[int, int, int]] = []  # (start, end, length)
        total = 0
        for s, e, length in splits:
            if current and total + length + joiner > size:
                doc = _stripped(text, current[0][0], current[-1][1])
                if doc is not None:
                    docs.append(doc)
                # Keep the tail that fits in the overlap (and leaves room for this split).
                while total > overlap or (
                    total + length + (joiner if current else 0) > size and total > 0
                ):
                    total -= current[0][2] + (joiner if len(current) > 1 else 0)
                    current = current[1:]
            current.append((s, e, length))
            total += length + (joiner if len(current) > 1 else 0)
        if current:
            doc = _stripped(text, current[0][0], current[-1][1])
            if doc is not None:
                docs.append(doc)
        return docs

    def chunk(self, article: Article, counter: _SpanCounter | None = None) -> list[Chunk]:
        """The chunks of one article, in reading order (``counter``: its tokens, if
        the caller has them)."""
        chunks: list[Chunk] = []
        blocks = kept_blocks(article.text, article.dropped)
        if counter is None and self._spans is not None and len(blocks) > 1:
            # The article's tokens once, not once per block (they are the whole
            # text's tokens either way).
            counter = self._spans(article.text)
        for block_start, block_end in blocks:
            for start, end, n in self.split_block(article.text, block_start, block_end,
                                                  counter):
                text = article.text[start:end]
                chunks.append(
                    Chunk(
                        id=Chunk.make_id(article.id, start, text),
                        article_id=article.id,
                        start=start,
                        end=end,
                        text=text,
                        ordinal=len(chunks),
                        n_tokens=n,
                    )
                )
        return chunks

    def chunk_all(self, articles: Sequence[Article], batch: int = 64) -> list[Chunk]:
        """The chunks of ``articles``, in order: the same as :meth:`chunk` on each,
        with the tokenizer encoding ``batch`` articles at a time on all cores."""
        chunks: list[Chunk] = []
        for first in range(0, len(articles), batch):
            group = articles[first:first + batch]
            counters: list[_SpanCounter | None] = (
                list(self._spans_many([a.text for a in group])) if self._spans_many is not None
                else [None] * len(group))
            for article, counter in zip(group, counters, strict=True):
                chunks.extend(self.chunk(article, counter))
        return chunks
