"""The public entry points: ``ask()`` and ``search()`` (and the default index)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple, TypeAlias

import numpy as np

from .answer import compose
from .articles import bundled_corpus_dir
from .bridge import asks_for_name, shared_name
from .build import build_index
from .config import Config
from .errors import IndexNotFoundError, QuestionError, RagError
from .followup import as_turns, resolve
from .followup_lead import ELLIPTICAL_RULES, new_words
from .hints import Hints, find_hints
from .index import Index, load_index
from .index_format import CURRENT, read_manifest, resolve_build, setting_differences
from .parts import Part, question_parts
from .records import Answer, Hit
from .rerank import CrossEncoder, get_reranker
from .retrieve import Filters, retrieve, several_parts, validate_k, validate_question
from .scope import Narrowing, begin, narrow
from .threads import one_blas_thread

IndexLike: TypeAlias = "Index | str | Path | None"


def default_index_dir() -> Path:
    """Where the bundled corpus's index lives.

    ``$RAG_INDEX_DIR`` if set; in a source checkout, its ``index/`` folder;
    otherwise ``~/.cache/rag/index``.
    """
    env = os.environ.get("RAG_INDEX_DIR")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and os.access(checkout, os.W_OK):
        return checkout / "index"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "rag" / "index"


def default_corpus_paths(index_dir: Path) -> list[Path]:
    """What the default index holds: the bundled articles plus any added to it.

    Articles added through the chat are kept in ``<index>/corpus/``, so a
    rebuild of the default index keeps them.
    """
    added = index_dir / "corpus"
    return [bundled_corpus_dir()] + ([added] if added.is_dir() and any(added.iterdir()) else [])


# Loaded indexes, keyed by build folder: loading takes a while, answering must
# not. A rebuild changes CURRENT, so the next call picks up the new build.
_LOADED: dict[tuple[Path, str | None], Index] = {}
_LOADED_LOCK = threading.Lock()


def _load_cached(root: Path, config: Config | None) -> Index:
    settings = None if config is None else repr(config.build_settings())
    build = resolve_build(root)
    with _LOADED_LOCK:
        index = _LOADED.get((build.resolve(), settings))
        if index is None:
            index = load_index(root, config=config)
            if len(_LOADED) >= 8:
                _LOADED.pop(next(iter(_LOADED)))
            # Keyed by the build actually loaded: a rebuild may have swapped
            # CURRENT between the look-up above and the load.
            _LOADED[(index.path.resolve(), settings)] = index
        return index


_DEFAULT_BUILD_LOCK = threading.Lock()


def get_index(index: IndexLike = None, *, config: Config | None = None) -> Index:
    """Resolve ``index`` (a loaded Index, a folder, or None for the bundled corpus)."""
    if isinstance(index, Index):
        return index
    if index is not None:
        return _load_cached(Path(index), config)
    root = default_index_dir()
    with _DEFAULT_BUILD_LOCK:
        if not (root / CURRENT).is_file() or _built_otherwise(root, config or Config()):
            build_index(default_corpus_paths(root), root, config=config, progress=False)
    try:
        return _load_cached(root, config)
    except IndexNotFoundError:  # pragma: no cover - removed between build and load
        build_index(default_corpus_paths(root), root, config=config, progress=False)
        return _load_cached(root, config)


def _built_otherwise(root: Path, config: Config) -> bool:
    """Whether the bundled corpus's index was built with other settings than
    ``config``'s (an older rag's defaults, say). That index is rag's own, so it
    is rebuilt (reusing the vectors it can) rather than refused."""
    try:
        return bool(setting_differences(read_manifest(resolve_build(root)), config))
    except (RagError, AttributeError):
        return False  # loading it will say what is wrong


def question_hints(index: Index, question: str) -> Hints:
    """Outlet and date hints of ``question`` against this index's outlets and dates."""
    return find_hints(question, index.sources(), index.date_span())


def reranker_for(config: Config, question: str) -> CrossEncoder | None:
    """The cross-encoder for a one-part ``question`` when ``config`` reranks, else None.

    A several-part question gets coverage instead (see ``retrieve.several_parts``).
    """
    return get_reranker() if config.rerank_depth and not several_parts(question) else None


def load_in_background(reranker: CrossEncoder | None) -> None:
    """Start loading ``reranker`` in a thread, if it is not loaded yet.

    Making its onnxruntime session takes about 0.3 s on 2 cores, mostly outside
    the GIL; a cold question meanwhile encodes itself and builds the BM25 index on
    the other core. ``score`` waits for the load; if it fails here, ``score``
    loads again and raises the error itself.
    """
    if reranker is None or reranker.loaded:
        return

    def load() -> None:
        with contextlib.suppress(Exception):
            reranker.warm_up()

    # Not a daemon: the interpreter waits for it at exit, as onnxruntime aborts the
    # process if torn down while making a session.
    threading.Thread(target=load, name="rag-load-reranker", daemon=False).start()


class QuestionInputs(NamedTuple):
    """What retrieval needs of a question besides its text."""

    #: The question's vector (the index's model).
    vector: np.ndarray
    #: Its parts, when it has several (else empty).
    parts: list[Part]
    #: A vector per part, pooled from the question's own forward pass.
    part_vectors: np.ndarray | None
    #: A vector per part from the index's part model, each part encoded alone.
    part_model_vectors: np.ndarray | None


def parts_of(idx: Index, question: str, config: Config) -> list[Part]:
    """The parts of a several-part question (empty for one of one part, or when
    ``config.parts`` is off)."""
    return question_parts(question, idx.sources()) if (
        config.parts and several_parts(question)) else []


def question_inputs(idx: Index, question: str, config: Config,
                    parts: list[Part] | None = None) -> QuestionInputs:
    """The question's vector, and for a several-part question its parts (``parts``,
    else :func:`parts_of`) with a vector each (pooled from the same forward pass, so
    at no extra model cost) and, when the index has a part model, one more from
    that model."""
    parts = parts_of(idx, question, config) if parts is None else parts
    if not parts:
        return QuestionInputs(idx.embedder().encode_query(question), [], None, None)
    vector, part_vectors = idx.embedder().encode_query_spans(
        question, [(p.start, p.end) for p in parts])
    second = idx.part_embedder()
    extra = second.encode_queries([p.text for p in parts]) if second is not None else None
    return QuestionInputs(vector, parts, part_vectors, extra)


def search(
    question: str,
    *,
    k: int = 10,
    index: IndexLike = None,
    sources: Iterable[str] | str | None = None,
    since: object = None,
    until: object = None,
    config: Config | None = None,
) -> list[Hit]:
    """The ``k`` passages that best match ``question``, best first.

    ``sources`` keeps only those outlets; ``since``/``until`` (dates, inclusive)
    keep articles published in that span; undated articles never pass a date
    filter. Filters fail closed: when nothing matches, nothing is returned.
    """
    cfg = config or Config()
    question = validate_question(question, cfg)
    k = validate_k(k)
    filters = Filters.make(sources, since, until)
    idx = get_index(index, config=config)
    load_in_background(reranker_for(cfg, question))
    hints, begun, inputs = _encoded(idx, question, cfg, filters)
    with one_blas_thread():
        return _retrieve(idx, question, inputs, k=k, config=cfg, filters=filters,
                         hints=hints, begun=begun)[0]


def _encoded(idx: Index, question: str, config: Config, filters: Filters | None
             ) -> tuple[Hints, Narrowing | None, QuestionInputs]:
    """A question's hints, its narrowing begun (on a large index: the BM25 candidate
    lists, found on other threads while the question is encoded) and its inputs."""
    hints = question_hints(idx, question)
    parts = parts_of(idx, question, config)
    begun = begin(idx, question, config, filters, hints, [p.text for p in parts])
    return hints, begun, question_inputs(idx, question, config, parts)


def _retrieve(idx: Index, question: str, inputs: QuestionInputs, *, k: int, config: Config,
              filters: Filters | None, hints: Hints,
              begun: Narrowing | None) -> tuple[list[Hit], str | None]:
    """``retrieve`` for a question and its inputs; for a several-part question
    that asks for a name, a second time with each part read as about the name its
    first passages share (``rag.bridge``), when they share one. Returns the hits
    and that name (None when the question was not read so)."""
    vector, parts, part_vectors, part_model_vectors = inputs
    # A large index is scored on the question's candidate articles only.
    idx = narrow(idx, question, vector, config, filters, hints, [p.text for p in parts],
                 part_vectors, begun)
    reranker = reranker_for(config, question)
    hits = retrieve(idx, question, vector, k=k, config=config, filters=filters, hints=hints,
                    reranker=reranker, parts=parts, part_vectors=part_vectors,
                    part_model_vectors=part_model_vectors)
    if not (config.bridge and parts and part_vectors is not None
            and asks_for_name(question)):
        return hits, None
    name = shared_name(question, hits, idx.sources())
    if name is None:
        return hits, None
    texts = [f"{name} {part.text}" for part in parts]
    second = idx.part_embedder()
    hits = retrieve(idx, question, vector, k=k, config=config, filters=filters, hints=hints,
                    reranker=reranker, parts=parts,
                    part_vectors=idx.embedder().encode_queries(texts),
                    part_model_vectors=(second.encode_queries(texts)
                                        if part_model_vectors is not None and second is not None
                                        else None),
                    bridge=name)
    return hits, name


def ask(
    question: str,
    *,
    k: int | None = None,
    index: IndexLike = None,
    sources: Iterable[str] | str | None = None,
    since: object = None,
    until: object = None,
    config: Config | None = None,
    history: Iterable[object] | None = None,
) -> Answer:
    """Answer ``question`` with verbatim quotes from the articles, each cited.

    With no ``index``, the bundled articles are used (their index is built on
    first use). ``k`` passages are retrieved (default ``config.k``); filters work
    as in :func:`search`. When the evidence is too weak, ``answer.abstained`` is
    True and ``answer.text`` says the articles don't answer it.

    Example::

        >>> from rag import ask
        >>> answer = ask("By how much did Chinese exports to North Korea rise in September?")
        >>> print(answer.text)  # doctest: +SKIP
        “Chinese exports to North Korea experienced a significant increase in September,
        marking a 30.75% rise year-on-year, ...” [1]
        >>> answer.citations[0].source, answer.citations[0].start  # doctest: +SKIP
        (None, 18)

    ``history`` is the conversation so far, oldest turn first: ``Answer``
    objects, ``(question, answer_text)`` pairs or dicts with ``"question"`` and
    ``"answer"``. A question that leans on the last turn ("What about in
    2023?", "Who said that?") is answered as the question it stands for
    (``rag.followup``), given in ``answer.resolved_question``; one that stands
    on its own is answered as asked (``resolved_question`` None).

    Raises ``QuestionError`` (a ``ValueError``) for an empty or overlong question,
    ``k < 1`` or a malformed ``history``, and ``IndexNotFoundError`` when
    ``index`` names no index.
    """
    started = time.perf_counter()
    cfg = config or Config()
    question = validate_question(question, cfg)
    k = validate_k(cfg.k if k is None else k)
    filters = Filters.make(sources, since, until)
    turns = as_turns(history)
    idx = get_index(index, config=config)
    asked = question
    resolution = resolve(question, turns, outlets=idx.sources())
    focus: tuple[str, ...] = ()
    if resolution.changed:
        try:
            question = validate_question(resolution.question, cfg)
        except QuestionError:  # too long once resolved: answered as asked
            question = asked
        if question != asked and resolution.rule in ELLIPTICAL_RULES:
            focus = new_words(asked, turns[-1].question)
    load_in_background(reranker_for(cfg, question))
    hints, begun, inputs = _encoded(idx, question, cfg, filters)
    encoded = time.perf_counter()
    with one_blas_thread():
        hits, name = _retrieve(idx, question, inputs, k=k, config=cfg, filters=filters,
                               hints=hints, begun=begun)
        retrieved = time.perf_counter()
        answer = compose(idx, question, inputs.vector, hits, cfg, name=name, focus=focus)
    applied = tuple(dict.fromkeys(label for hit in hits for label in hit.hints))
    if applied:
        answer = dataclasses.replace(answer, hints=applied)
    if question != asked:
        answer = dataclasses.replace(answer, question=asked, resolved_question=question)
    done = time.perf_counter()
    answer.timings_ms.update({
        "encode": round((encoded - started) * 1000, 2),
        "retrieve": round((retrieved - encoded) * 1000, 2),
        "compose": round((done - retrieved) * 1000, 2),
        "total": round((done - started) * 1000, 2),
    })
    return answer
