"""rag: offline, citation-first question answering over news articles.

    >>> from rag import ask
    >>> answer = ask("By how much did Chinese exports to North Korea rise in September?")
    >>> answer.text, answer.citations  # doctest: +SKIP

Importing this package is cheap: models load on first use.
"""

from __future__ import annotations

from .api import ask, default_index_dir, get_index, search
from .articles import Problem, bundled_corpus_dir, load_articles
from .build import BuildReport, build_index
from .config import Config
from .errors import (
    ArticleError,
    ConfigError,
    CorpusError,
    CorruptIndexError,
    IndexMismatchError,
    IndexNotFoundError,
    QuestionError,
    RagError,
)
from .index import Index, load_index
from .records import Answer, Article, Chunk, Citation, Dropped, Hit
from .update import FileResult, Removed, add_files, remove_articles
from .version import __version__

__all__ = [
    "Answer",
    "Article",
    "ArticleError",
    "BuildReport",
    "Chunk",
    "Citation",
    "Config",
    "ConfigError",
    "CorpusError",
    "CorruptIndexError",
    "Dropped",
    "FileResult",
    "Hit",
    "Index",
    "IndexMismatchError",
    "IndexNotFoundError",
    "Problem",
    "QuestionError",
    "RagError",
    "Removed",
    "__version__",
    "add_files",
    "ask",
    "build_index",
    "bundled_corpus_dir",
    "default_index_dir",
    "get_index",
    "load_articles",
    "load_index",
    "remove_articles",
    "search",
]
