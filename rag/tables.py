"""The article and chunk tables of a large index, read on demand.

A build writes ``articles.jsonl`` and ``chunks.jsonl`` (one JSON record a line) and,
beside them in ``tables/``, the byte offset of every line and the columns that
questions filter and group by: article id, outlet, day and text length, and each
chunk's article and id. Loading then reads those small arrays (memory-mapped)
instead of parsing every record: a million chunks' tables took about a minute and
10 GB of RAM as Python objects. A record is parsed when it is asked for (the few
hundred articles a question's candidates come from), and recent ones are kept.
"""

from __future__ import annotations

import json
import mmap
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import numpy as np
import orjson

from .records import Article, Chunk

#: Where the offsets and columns are, inside a build folder.
TABLES = "tables"
#: Its files, in the order they are written.
TABLE_FILES = ("article_offsets.npy", "chunk_offsets.npy", "article_ids.npy",
               "article_sources.npy", "article_days.npy", "article_lengths.npy",
               "chunk_article.npy", "chunk_ids.npy")
#: Written by newer builds: each chunk's (start, end, ordinal, n_tokens). With it a
#: chunk is its article's text sliced, and ``chunks.jsonl`` is not parsed at all.
CHUNK_SPANS = "chunk_spans.npy"
#: Where each article's sentences begin in ``sentences.npy`` (one more row than
#: articles): made at build, since counting them at load reads the whole sentence
#: table (187 MB at a million chunks) before the first question.
SENTENCE_OFFSETS = "sentence_offsets.npy"
#: Records parsed and kept per table (a question reads a few hundred articles).
KEEP = 8192

T = TypeVar("T")


def _loads(line: bytes) -> Any:
    # orjson parses a record 3-4 times faster (a question reads a few thousand);
    # the standard parser stays the reference for anything orjson refuses.
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


class _OnDemand(Sequence[T], Generic[T]):
    """A table whose rows are made when asked for: indexing, slicing and iteration
    over :meth:`_row`."""

    def _row(self, i: int) -> T:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i, n = int(i), len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"row {i} of a table of {n}")
        return self._row(i)

    def __iter__(self) -> Iterator[T]:
        for i in range(len(self)):
            yield self[i]


class Rows(_OnDemand[T]):
    """The records of a JSON-lines file, parsed on demand by their byte offsets."""

    def __init__(self, path: Path, offsets: np.ndarray, parse: Callable[[dict[str, Any]], T]):
        self._path = path
        self._offsets = offsets
        self._parse = parse
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            self._data: Any = (mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                               if size else b"")
        self._kept: OrderedDict[int, T] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _row(self, i: int) -> T:
        with self._lock:
            found = self._kept.get(i)
            if found is not None:
                self._kept.move_to_end(i)
                return found
        lo, hi = int(self._offsets[i]), int(self._offsets[i + 1])
        record = self._parse(_loads(self._data[lo:hi]))
        with self._lock:
            self._kept[i] = record
            if len(self._kept) > KEEP:
                self._kept.popitem(last=False)
        return record


class ById(Mapping[str, Article]):
    """Articles by id, over a table and its positions (``Index.articles``)."""

    def __init__(self, rows: Sequence[Article], position: Mapping[str, int]):
        self._rows = rows
        self._position = position

    def __getitem__(self, key: str) -> Article:
        return self._rows[self._position[key]]

    def __contains__(self, key: object) -> bool:
        return key in self._position

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


@dataclass(frozen=True)
class Columns:
    """Per-article and per-chunk columns of a build (``tables/``)."""

    article_ids: np.ndarray
    #: Outlet of each article, "" when unknown (object array of str).
    article_sources: np.ndarray
    #: Publication day of each article (ISO), "" when undated.
    article_days: np.ndarray
    article_lengths: np.ndarray
    chunk_article: np.ndarray
    chunk_ids: np.ndarray
    #: Where each article's sentences begin (None: built before the column).
    sentence_offsets: np.ndarray | None = None


def sentence_offsets(sentence_articles: np.ndarray, n_articles: int) -> np.ndarray:
    """Where each article's sentences begin, from the sentence table's article column
    (sorted), with one more row for the end."""
    counts = np.bincount(np.asarray(sentence_articles, dtype=np.int64), minlength=n_articles) \
        if len(sentence_articles) else np.zeros(n_articles, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def write_tables(folder: Path, articles: Sequence[Article], chunks: Sequence[Chunk],
                 sentences: np.ndarray | None = None) -> list[str]:
    """Write ``articles.jsonl``, ``chunks.jsonl`` and their offsets and columns (with
    ``sentences``, where each article's begin) into a build folder; the file names
    written, relative to it."""
    sub = folder / TABLES
    sub.mkdir()
    offsets = {}
    for name, records in (("articles.jsonl", articles), ("chunks.jsonl", chunks)):
        at = [0]
        with open(folder / name, "wb") as out:
            for record in records:
                line = (json.dumps(record.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
                out.write(line)
                at.append(at[-1] + len(line))
        offsets[name] = np.array(at, dtype=np.int64)
    outlets = sorted({a.source for a in articles if a.source})
    code = {s: i for i, s in enumerate(outlets)}
    position = {a.id: i for i, a in enumerate(articles)}
    columns = {
        "article_offsets.npy": offsets["articles.jsonl"],
        "chunk_offsets.npy": offsets["chunks.jsonl"],
        "article_ids.npy": np.array([a.id for a in articles], dtype=str),
        # Codes into the manifest's sorted "sources" (-1: no outlet), not strings:
        # numpy stores text at the width of the longest.
        "article_sources.npy": np.array([code[a.source] if a.source else -1 for a in articles],
                                        dtype=np.int32),
        "article_days.npy": np.array([a.published[:10] if a.published else ""
                                      for a in articles], dtype="<U10"),
        "article_lengths.npy": np.array([len(a.text) for a in articles], dtype=np.int64),
        "chunk_article.npy": np.array([position[c.article_id] for c in chunks],
                                      dtype=np.int64),
        "chunk_ids.npy": np.array([c.id for c in chunks], dtype=str),
    }
    columns[CHUNK_SPANS] = np.array([(c.start, c.end, c.ordinal, c.n_tokens) for c in chunks],
                                    dtype=np.int64).reshape(-1, 4)
    names = [*TABLE_FILES, CHUNK_SPANS]
    if sentences is not None:
        columns[SENTENCE_OFFSETS] = sentence_offsets(sentences[:, 0], len(articles))
        names.append(SENTENCE_OFFSETS)
    for name in names:
        np.save(sub / name, columns[name], allow_pickle=False)
    return ["articles.jsonl", "chunks.jsonl", *(f"{TABLES}/{n}" for n in names)]


class Picked(_OnDemand[T]):
    """Some rows of a table, in the order given, made only when asked for (a question's
    view of a large index reads a handful of its thousands of chunks)."""

    def __init__(self, base: Sequence[T], rows: np.ndarray):
        self.base = base
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def _row(self, i: int) -> T:
        return self.base[int(self.rows[i])]

    def bounds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The starts and ends of the rows ``rows`` from the base's span column, or None
        when the base has none."""
        column = getattr(self.base, "bounds", None)
        return None if column is None else column(self.rows[rows])


class SlicedChunks(_OnDemand[Chunk]):
    """Chunks made from their articles' text and the span column, not parsed: a
    question's view takes every chunk of a few hundred articles, whose records it
    reads anyway."""

    def __init__(self, articles: Sequence[Article], columns: Columns, spans: np.ndarray):
        self._articles = articles
        # Plain arrays over the same pages: indexing a np.memmap one element at a
        # time makes a memmap object per access (~55 ms a question at 1M chunks).
        self._owner = np.asarray(columns.chunk_article)
        self._ids = np.asarray(columns.chunk_ids)
        self._spans = np.asarray(spans)

    def __len__(self) -> int:
        return len(self._owner)

    def bounds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The starts and ends of the chunks ``rows``, from the span column."""
        spans = self._spans[rows]
        return spans[:, 0].astype(np.int64), spans[:, 1].astype(np.int64)

    def _row(self, i: int) -> Chunk:
        article = self._articles[int(self._owner[i])]
        start, end, ordinal, n_tokens = self._spans[i].tolist()
        return Chunk(id=str(self._ids[i]), article_id=article.id, start=start, end=end,
                     text=article.text[start:end], ordinal=ordinal, n_tokens=n_tokens)


def read_tables(folder: Path, outlets: list[str], files: Sequence[str] = (),
                ) -> tuple[Rows[Article], Sequence[Chunk], Columns]:
    """The lazy tables and the columns of a build that has ``tables/`` (``outlets``:
    its manifest's sorted "sources"; ``files``: its manifest's files)."""
    sub = folder / TABLES
    arrays = {n: np.load(sub / n, allow_pickle=False, mmap_mode="r") for n in TABLE_FILES}
    codes = np.asarray(arrays["article_sources.npy"], dtype=np.int64)
    names = np.array([*outlets, ""], dtype=object)
    if len(codes) and (codes.min() < -1 or codes.max() >= len(outlets)):
        raise ValueError("article_sources.npy holds outlet codes out of range")
    columns = Columns(
        article_ids=np.asarray(arrays["article_ids.npy"]),
        article_sources=names[codes],
        article_days=np.asarray(arrays["article_days.npy"]),
        article_lengths=np.asarray(arrays["article_lengths.npy"]),
        chunk_article=np.asarray(arrays["chunk_article.npy"], dtype=np.int64),
        chunk_ids=arrays["chunk_ids.npy"],
        sentence_offsets=(np.load(sub / SENTENCE_OFFSETS, allow_pickle=False).astype(np.int64)
                          if f"{TABLES}/{SENTENCE_OFFSETS}" in files else None),
    )
    articles = Rows(folder / "articles.jsonl", np.asarray(arrays["article_offsets.npy"]),
                    Article.from_dict)
    parsed = Rows(folder / "chunks.jsonl", np.asarray(arrays["chunk_offsets.npy"]),
                  lambda d: Chunk(**d))
    if f"{TABLES}/{CHUNK_SPANS}" not in files:  # built before the span column
        return articles, parsed, columns
    spans = np.load(sub / CHUNK_SPANS, allow_pickle=False, mmap_mode="r")
    if spans.shape != (len(parsed), 4):
        raise ValueError(f"{CHUNK_SPANS} holds {spans.shape[0]} rows for {len(parsed)} chunks")
    sliced = SlicedChunks(articles, columns, spans)
    owner = columns.chunk_article
    if len(owner) and (owner.min() < 0 or owner.max() >= len(articles)):
        return articles, parsed, columns  # the consistency check names this damage
    # The span column must say what the records say: compared on a sample.
    for i in np.unique(np.linspace(0, len(parsed) - 1, min(len(parsed), 64))
                       .astype(np.int64)).tolist() if len(parsed) else []:
        if sliced[i] != parsed[i]:
            raise ValueError(f"{CHUNK_SPANS} does not match chunks.jsonl at row {i}")
    return articles, sliced, columns
