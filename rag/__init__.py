"""rag: offline, citation-first question answering over news articles.

    >>> from rag import ask
    >>> answer = ask("By how much did Chinese exports to North Korea rise in September?")
    >>> answer.text, answer.citations  # doctest: +SKIP

Importing this package is cheap: models load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import ask, default_index_dir, get_index, search  # noqa: E402
from .articles import Problem, bundled_corpus_dir, load_articles  # noqa: E402
from .config import Config  # noqa: E402
from .errors import (  # noqa: E402
    ArticleError,
    ConfigError,
    CorpusError,
    CorruptIndexError,
    IndexMismatchError,
    IndexNotFoundError,
    QuestionError,
    RagError,
)
from .index import BuildReport, Index, build_index, load_index  # noqa: E402
from .records import Answer, Article, Chunk, Citation, Dropped, Hit  # noqa: E402

__all__ = [
    "Answer", "Article", "ArticleError", "BuildReport", "Chunk", "Citation", "Config",
    "ConfigError", "CorpusError", "CorruptIndexError", "Dropped", "Hit", "Index",
    "IndexMismatchError", "IndexNotFoundError", "Problem", "QuestionError", "RagError",
    "__version__", "ask", "build_index", "bundled_corpus_dir", "default_index_dir",
    "get_index", "load_articles", "load_index", "search",
]
