"""The error hierarchy: every failure the user can act on is a ``RagError``.

Each message names the bad value and says what to do about it.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class for every error this package raises on purpose."""


class QuestionError(RagError, ValueError):
    """The question (or a search parameter such as ``k``) is not usable."""


class ConfigError(RagError, ValueError):
    """A configuration value or key is not valid."""


class CorpusError(RagError):
    """The corpus cannot be read: missing path, or no readable article in it."""


class ArticleError(CorpusError):
    """One file or record cannot be turned into an article (it is skipped)."""


class IndexError_(RagError):
    """Base class for problems with an index on disk."""


class IndexNotFoundError(IndexError_, FileNotFoundError):
    """No index at the given path."""


class IndexMismatchError(IndexError_):
    """The index was built with another model, settings or format version."""


class CorruptIndexError(IndexError_):
    """The index files are truncated, missing or out of step with each other."""


class StoreError(RagError):
    """A vector store (e.g. Milvus) cannot be reached, read or written."""


__all__ = [
    "ArticleError",
    "ConfigError",
    "CorpusError",
    "CorruptIndexError",
    "IndexError_",
    "IndexMismatchError",
    "IndexNotFoundError",
    "QuestionError",
    "RagError",
    "StoreError",
]
