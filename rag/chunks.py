"""Split articles into token-bounded chunks that know their character spans.

Chunking runs over the blocks that cleaning keeps, so a chunk never contains a
boilerplate line, and ``article.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .clean import kept_blocks
from .records import Article, Chunk

# Paragraphs, then lines, then sentence ends, then clauses, then words.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


class Chunker:
    """Token-aware splitter (langchain-text-splitters) using the model's tokenizer.

    ``max_tokens`` counts the tokenizer's special tokens too, so a chunk always
    fits the model's input without truncation.
    """

    def __init__(self, count_tokens: Callable[[str], int], max_tokens: int, overlap: int):
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
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

        return cls(count, max_tokens, overlap)

    def split_block(self, text: str, start: int, end: int) -> list[tuple[int, int, int]]:
        """(start, end, n_tokens) of the chunks of ``text[start:end]``."""
        block = text[start:end]
        n = self.count_tokens(block)
        if n <= self.max_tokens:
            return [(start, end, n)]
        spans = []
        cursor = 0
        for piece in self._splitter.split_text(block):
            at = block.find(piece, cursor)
            if at < 0:  # overlap can make the next piece start earlier than the cursor
                at = block.find(piece)
            if at < 0:
                raise AssertionError("splitter returned text not found in its input")
            spans.append((start + at, start + at + len(piece), self.count_tokens(piece)))
            cursor = at + 1
        return spans

    def chunk(self, article: Article) -> list[Chunk]:
        """The chunks of one article, in reading order."""
        chunks: list[Chunk] = []
        for block_start, block_end in kept_blocks(article.text, article.dropped):
            for start, end, n in self.split_block(article.text, block_start, block_end):
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
