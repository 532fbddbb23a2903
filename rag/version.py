"""The package version, in a module of its own so that any module may read it
without importing the package (and so everything it re-exports)."""

__version__ = "0.1.0"
