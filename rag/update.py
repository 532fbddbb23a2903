"""Changing an index in place: add files, replace changed ones, remove articles.

Each change is a new build of the remaining articles, made by :mod:`rag.build`:
unchanged chunks keep their vectors (content hashes), so only new text is
embedded, and the switch to the new build is atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .articles import Problem, load_file
from .build import BuildReport, build_from_articles
from .config import Config
from .errors import ArticleError, IndexNotFoundError, RagError
from .index import load_index
from .index_format import manifest_settings
from .records import Article


@dataclass(frozen=True)
class FileResult:
    """What happened to one file given to :func:`add_files`."""

    path: str
    status: str  # "added", "duplicate" or "rejected"
    reason: str = ""
    article_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "reason": self.reason,
                "article_ids": list(self.article_ids)}


def add_files(
    index_dir: str | Path,
    files: Iterable[str | Path],
    *,
    config: Config | None = None,
    progress: bool = False,
    on_stage: Callable[[str, float], None] | None = None,
) -> tuple[list[FileResult], BuildReport | None]:
    """Add article files to the index at ``index_dir`` (created if missing).

    Existing articles keep their vectors, so only the new text is embedded.
    Adding the same content twice is a no-op: same text, same id. Returns one
    ``FileResult`` per file and the build report (None when nothing was added).
    """
    root = Path(index_dir)
    try:
        current = load_index(root)
        existing = list(current.article_list)
        config = config or Config.from_dict(
            manifest_settings(current.manifest))
    except IndexNotFoundError:
        existing = []
    known = {a.id: a.path or a.id for a in existing}
    results: list[FileResult] = []
    new: list[Article] = []
    problems: list[Problem] = []
    for f in files:
        path = Path(f)
        try:
            articles, file_problems = load_file(path)
        except ArticleError as exc:
            results.append(FileResult(str(path), "rejected", str(exc).removeprefix(f"{path}: ")))
            continue
        problems.extend(file_problems)
        fresh: list[Article] = []
        repeats: list[Problem] = []
        for a in articles:  # a JSON file can hold a body twice, or one already indexed
            if a.id in known:
                repeats.append(Problem(a.path or str(path), f"duplicate of {known[a.id]}"))
                continue
            known[a.id] = a.path or str(path)
            fresh.append(a)
        if fresh:  # (a file with nothing new is reported whole, as "duplicate")
            problems.extend(repeats)
        new.extend(fresh)
        if fresh:
            results.append(FileResult(str(path), "added", "", tuple(a.id for a in fresh)))
        else:
            results.append(FileResult(str(path), "duplicate", "same text is already indexed",
                                      tuple(a.id for a in articles)))
    # A file indexed before under the same path and changed since replaces its old
    # articles: their chunks go (a file that is now rejected keeps its old ones).
    loaded = {str(Path(r.path)): set(r.article_ids) for r in results if r.status != "rejected"}
    replaced = {a.id for a in existing if a.path is not None
                and a.id not in loaded.get(str(Path(a.path)), {a.id})}
    if not new and not replaced:
        return results, None
    if replaced:
        paths = {str(Path(a.path)) for a in existing if a.id in replaced and a.path}
        existing = [a for a in existing if a.id not in replaced]
        results = [FileResult(r.path, r.status, "replaced its earlier version", r.article_ids)
                   if r.status == "added" and str(Path(r.path)) in paths else r
                   for r in results]
    report = build_from_articles(existing + new, root, config=config, progress=progress,
                                 problems=problems, on_stage=on_stage)
    return results, report


@dataclass(frozen=True)
class Removed:
    """What :func:`remove_articles` took out for one target."""

    target: str
    article_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "article_ids": list(self.article_ids)}


def remove_articles(index_dir: str | Path, targets: Iterable[str | Path], *,
                    progress: bool = False) -> tuple[list[Removed], BuildReport | None]:
    """Remove articles from the index at ``index_dir`` without a full rebuild.

    A target is an article id (or an unambiguous prefix of at least 6 characters),
    a file path that was indexed, or a folder (every article indexed from under
    it). A target that matches nothing is an error naming it, and nothing is
    removed. Returns what each target removed and the new build's report.
    """
    root = Path(index_dir)
    current = load_index(root)
    articles = list(current.article_list)
    found: list[Removed] = []
    gone: set[str] = set()
    for target in targets:
        text = str(target).strip()
        path = str(Path(text)) if text else ""
        hits = [a.id for a in articles if a.id == text or (
            len(text) >= 6 and a.id.startswith(text))]
        if len(hits) > 1 and text not in hits:
            raise RagError(f"{text!r} is the start of {len(hits)} article ids; give more of it "
                           "(rag info lists the index)")
        if not hits and text:
            hits = [a.id for a in articles if a.path is not None and (
                str(Path(a.path)) == path or str(Path(a.path)).startswith(path.rstrip("/") + "/"))]
        if not hits:
            raise RagError(f"nothing in the index at {root} matches {text!r}: give an article "
                           "id or a path that was indexed; nothing was removed")
        found.append(Removed(text, tuple(hits)))
        gone.update(hits)
    config = Config.from_dict(manifest_settings(current.manifest))
    keep = [a for a in articles if a.id not in gone]
    report = build_from_articles(keep, root, config=config, progress=progress)
    return found, report
