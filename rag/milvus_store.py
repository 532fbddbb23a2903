"""Candidate chunks from a Milvus collection: dense top-k, BM25 top-k, outlet/date filters.

One client (``pymilvus``) talks to an embedded Milvus Lite file
(``milvus:///path/to/file.db``, no server) and to a Milvus standalone or cluster
(``milvus://host:19530``). The collection holds, per chunk: its id (the content
hash, the primary key), its vector, its words as our own tokenizer reads them
(Milvus's built-in BM25 function turns them into a sparse vector, so BM25 sees
the same words as the file store's bm25s), its outlet and its day. The chunk,
article and sentence tables stay in the index folder: sentence scoring and the
composer run locally over the candidates Milvus returns.

The collection records the model and dimension it was built with; opening it
for another model is refused with both names.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexMismatchError, StoreError
from .records import Article, Chunk
from .store import Where, _StoreCandidates
from .text import tokenize

SCHEME = "milvus://"
#: The collection a build writes unless told otherwise.
DEFAULT_COLLECTION = "rag_chunks"
# bm25s's defaults (k1 1.5, b 0.75), so that Milvus ranks chunks as the file store does.
BM25_K1 = 1.5
BM25_B = 0.75
# A server that does not answer in this long is reported, not waited on.
CONNECT_TIMEOUT_S = 10.0
_MAX_TEXT = 65_535
_INSERT_BATCH = 512


def is_milvus_uri(value: str | None) -> bool:
    return bool(value) and str(value).startswith(SCHEME)


def client_uri(uri: str) -> str:
    """What pymilvus is given for ``uri``: a file path for Milvus Lite, else http://host:port.

    ``milvus:///abs/file.db`` and ``milvus://./rel/file.db`` name a Milvus Lite file
    (a path ending in ``.db``); ``milvus://host:19530`` names a server.
    """
    if not is_milvus_uri(uri):
        raise StoreError(f"store {uri!r} is not a Milvus URI; use milvus:///path/to/file.db "
                         "(Milvus Lite) or milvus://host:19530 (a Milvus server)")
    rest = uri[len(SCHEME):]
    if rest.endswith(".db"):
        path = Path(rest).expanduser()
        return str(path if path.is_absolute() else path.resolve())
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+(:\d{1,5})?", rest):
        raise StoreError(f"store {uri!r}: expected milvus://HOST:PORT or "
                         "milvus:///path/to/file.db")
    return f"http://{rest if ':' in rest else rest + ':19530'}"


def lexical_text(text: str) -> str:
    """The chunk's words as our tokenizer reads them (stemmed, lower-case), joined so that
    Milvus's standard analyzer splits them back into exactly those words."""
    return " ".join(_milvus_word(t) for t in tokenize(text))


def _milvus_word(token: str) -> str:
    # "30.75%" or "o'brien" would be split by the standard analyzer; one word each.
    return re.sub(r"\W", "_", token)


class MilvusStore:
    """Chunk candidates held in a Milvus collection (see the module docstring)."""

    kind = "milvus"

    def __init__(self, uri: str, collection: str = DEFAULT_COLLECTION, *,
                 client: Any = None):
        self.uri = uri
        self.collection = collection
        self._client = client
        self._lock = threading.Lock()
        self._checked = False

    # ---------------------------------------------------------------- connecting

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        target = client_uri(self.uri)
        if not target.startswith("http"):
            folder = Path(target).parent
            if not folder.is_dir():
                raise StoreError(f"cannot open Milvus Lite file {target}: folder {folder} "
                                 "does not exist; create it, or give another path")
        # Every failure reaches the caller as one StoreError; the libraries' own
        # logs of it (tracebacks, retries) would only repeat it on stderr.
        for name in ("pymilvus", "milvus_lite"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:  # pragma: no cover - installed with the project
            raise StoreError("the Milvus store needs pymilvus and milvus-lite: "
                             "pip install 'rag[milvus]'") from exc
        try:
            return MilvusClient(uri=target, timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:  # pymilvus raises many kinds; all mean "cannot use it"
            raise StoreError(
                f"cannot reach the Milvus store at {self.uri} ({_reason(exc)}); "
                + ("check the file is a Milvus Lite database (or remove it and build again)"
                   if not target.startswith("http") else
                   "start the server (docs/scale-out.md) or fix the URI")
            ) from exc

    def record(self) -> dict[str, str]:
        """What the manifest records of this store."""
        return {"kind": self.kind, "uri": self.uri, "collection": self.collection}

    def candidates(self, index: Any, vector: np.ndarray, terms: Sequence[str],
                   dense: np.ndarray | None, lexical: np.ndarray | None) -> _StoreCandidates:
        """One question's candidate lists, searched in Milvus (the local scores
        ``dense`` and ``lexical`` are not used). The first use checks that the
        collection holds this index's model."""
        if not self._checked:
            self.check(index.model, index.dimension)
            self._checked = True
        return _StoreCandidates(self, index, vector, terms)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                finally:
                    self._client = None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Milvus store {self.uri} failed to {what} ({_reason(exc)}); "
                             "no partial answer was given: check the server, or rebuild "
                             "the collection with rag build --store") from exc

    # ---------------------------------------------------------------- the collection

    def exists(self) -> bool:
        return bool(self._call("list collections", self.client.has_collection, self.collection))

    def properties(self) -> dict[str, str]:
        info = self._call("describe the collection", self.client.describe_collection,
                          self.collection)
        return {str(k): str(v) for k, v in (info.get("properties") or {}).items()}

    def check(self, model: str, dimension: int) -> None:
        """IndexMismatchError unless the collection was built with ``model`` and ``dimension``."""
        if not self.exists():
            raise StoreError(f"the Milvus store {self.uri} has no collection "
                             f"{self.collection!r}; build it with: rag build PATH --store "
                             f"{self.uri}")
        props = self.properties()
        built, dim = props.get("rag.model"), props.get("rag.dimension")
        if built != model or dim != str(dimension):
            raise IndexMismatchError(
                f"the Milvus collection {self.collection!r} at {self.uri} was built with "
                f"model {built!r} ({dim} dimensions), not {model!r} ({dimension}); rebuild "
                f"it with: rag build PATH --store {self.uri}")

    def create(self, model: str, dimension: int) -> None:
        """Create the collection (for ``model``'s vectors) if it does not exist."""
        if self.exists():
            self.check(model, dimension)
            return
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        schema = client.create_schema(auto_id=False)
        schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("words", DataType.VARCHAR, max_length=_MAX_TEXT, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("source", DataType.VARCHAR, max_length=512)
        schema.add_field("day", DataType.VARCHAR, max_length=10)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["words"],
                                     output_field_names=["sparse"]))
        params = client.prepare_index_params()
        # FLAT: exact, as the file store is for small corpora; a server deployment
        # can switch the index type in Milvus without touching rag.
        params.add_index("vector", index_type="FLAT", metric_type="IP")
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        self._call("create the collection", client.create_collection, self.collection,
                   schema=schema, index_params=params, consistency_level="Strong",
                   properties={"rag.model": model, "rag.dimension": str(dimension)})

    def chunk_ids(self) -> set[str]:
        """Every chunk id the collection holds."""
        ids: set[str] = set()
        iterator = self._call("read chunk ids", self.client.query_iterator, self.collection,
                              batch_size=4096, output_fields=["chunk_id"])
        try:
            while batch := iterator.next():
                ids.update(str(row["chunk_id"]) for row in batch)
        finally:
            iterator.close()
        return ids

    def sync(self, chunks: Sequence[Chunk], vectors: np.ndarray, articles: dict[str, Article],
             model: str) -> tuple[int, int]:
        """Make the collection hold exactly ``chunks``: insert the new, delete the gone.

        Unchanged chunks (same content id) are left alone, so an incremental add
        writes only its own chunks. Returns (inserted, deleted).
        """
        self.create(model, int(vectors.shape[1]))
        have = self.chunk_ids()
        want = {c.id for c in chunks}
        gone = sorted(have - want)
        new = [i for i, c in enumerate(chunks) if c.id not in have]
        client = self.client
        for lo in range(0, len(new), _INSERT_BATCH):
            rows = []
            for i in new[lo: lo + _INSERT_BATCH]:
                chunk, article = chunks[i], articles[chunks[i].article_id]
                rows.append({
                    "chunk_id": chunk.id,
                    "words": lexical_text(chunk.text)[:_MAX_TEXT] or "_",
                    "source": (article.source or "").casefold()[:512],
                    "day": article.published[:10] if article.published else "",
                    "vector": vectors[i].astype(np.float32).tolist(),
                })
            self._call("insert chunks", client.insert, self.collection, rows)
        for lo in range(0, len(gone), _INSERT_BATCH):
            self._call("delete chunks", client.delete, self.collection,
                       ids=gone[lo: lo + _INSERT_BATCH])
        self._call("flush", client.flush, self.collection)
        return len(new), len(gone)

    def count(self) -> int:
        stats = self._call("count chunks", self.client.get_collection_stats, self.collection)
        return int(stats.get("row_count", 0))

    # ---------------------------------------------------------------- candidates

    def dense(self, vector: np.ndarray, n: int,
              where: Where | None = None) -> list[tuple[str, float]]:
        """The ``n`` chunks nearest ``vector`` (inner product), best first, as (id, score)."""
        return self._search([np.asarray(vector, dtype=np.float32).tolist()], "vector", "IP",
                            n, where)

    def lexical(self, terms: Sequence[str], n: int,
                where: Where | None = None) -> list[tuple[str, float]]:
        """The ``n`` chunks with the highest BM25 score for ``terms`` (already tokenised)."""
        query = " ".join(_milvus_word(t) for t in terms)
        if not query:
            return []
        hits = self._search([query], "sparse", "BM25", n, where)
        # Milvus Lite reports BM25 as a negative distance, a server as a positive
        # score; the order is the same, so keep the magnitude.
        return [(cid, abs(score)) for cid, score in hits if score]

    def _search(self, data: list[Any], field: str, metric: str, n: int,
                where: Where | None) -> list[tuple[str, float]]:
        if n <= 0:
            return []
        expr = where.expression() if where is not None else ""
        result = self._call("search", self.client.search, self.collection, data=data,
                            anns_field=field, limit=n, filter=expr,
                            output_fields=["chunk_id"],
                            search_params={"metric_type": metric},
                            # A question right after a build must see its chunks.
                            consistency_level="Strong")
        return [(str(hit["entity"]["chunk_id"]), float(hit["distance"])) for hit in result[0]]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
