import itertools

import pytest

from rag import bundled_corpus_dir, load_articles
from rag.chunks import Chunker
from rag.embeddings import get_embedder
from rag.records import Article


@pytest.fixture(scope="module")
def tokenizer():
    return get_embedder("all-MiniLM-L6-v2").tokenizer


def test_bundled_chunks_round_trip_and_fit_the_model(tokenizer):
    chunker = Chunker.for_tokenizer(tokenizer, 256, 32)
    for article in load_articles([bundled_corpus_dir()]).articles:
        chunks = chunker.chunk(article)
        assert chunks
        for chunk in chunks:
            assert article.text[chunk.start:chunk.end] == chunk.text
            n = len(tokenizer(chunk.text, add_special_tokens=True)["input_ids"])
            assert n <= 256 and n == chunk.n_tokens
            for d in article.dropped:  # no boilerplate inside a chunk
                assert not (chunk.start <= d.start and d.end <= chunk.end and d.end > d.start)


def test_long_text_splits_at_sentences_with_overlap(tokenizer):
    sentences = [f"Sentence number {i} talks about trade between the two countries."
                 for i in range(80)]
    text = " ".join(sentences)
    article = Article(id=Article.make_id(text), text=text)
    chunks = Chunker.for_tokenizer(tokenizer, 64, 16).chunk(article)
    assert len(chunks) > 5
    for chunk in chunks:
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.n_tokens <= 64
        assert chunk.text.endswith(".")  # prefers sentence boundaries
    assert any(b.start < a.end for a, b in itertools.pairwise(chunks))  # overlap
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_chunk_ids_are_stable(tokenizer):
    text = "Stable text. " * 50
    article = Article(id=Article.make_id(text), text=text)
    chunker = Chunker.for_tokenizer(tokenizer, 64, 8)
    assert [c.id for c in chunker.chunk(article)] == [c.id for c in chunker.chunk(article)]


@pytest.mark.parametrize(("size", "overlap"), [(256, 32), (32, 8)])
def test_counting_from_one_tokenization_splits_as_the_tokenizer_per_piece(
        tokenizer, size, overlap):
    # The fast path counts pieces from the block's token offsets; the reference
    # asks the tokenizer about every piece. They must cut the same chunks, also
    # where a piece cuts a word (a 90-letter "word" of 47 tokens is split per
    # character at 32 tokens),
    # and on accented, CJK and punctuation-dense text.
    def count(text):
        return len(tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])

    fast = Chunker.for_tokenizer(tokenizer, size, overlap)
    reference = Chunker(count, size, overlap)
    odd = ("Café déjà-vu: U.S.-China trade (30.75%) rose; 中国 北京 talks… "
           + "x" * 90 + " end. ") * 12
    articles = [*load_articles([bundled_corpus_dir()]).articles,
                Article(id=Article.make_id(odd), text=odd)]
    for article in articles:
        got = [(c.start, c.end, c.n_tokens) for c in fast.chunk(article)]
        assert got == [(c.start, c.end, c.n_tokens) for c in reference.chunk(article)]
    # Batched: the tokenizer encodes several articles at once (``chunk_all``).
    assert fast.chunk_all(articles, batch=2) == [c for a in articles for c in reference.chunk(a)]
