"""Adding uploaded article files to an index, safely.

Uploads are checked (type, size), given a sanitised name and copied into the
index's own corpus folder (``<index dir>/corpus/``) and nowhere else; then
``rag.add_files`` indexes them incrementally. Copies that end up not indexed
(duplicates, rejected files) are removed again, so the corpus folder holds
exactly the uploaded articles that are searchable.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.articles import SUPPORTED_SUFFIXES
from rag.errors import RagError
from rag.update import add_files

#: Largest upload accepted, per file.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Most files taken in one upload.
MAX_FILES = 200
#: The folder, inside the index folder, where uploads are kept.
CORPUS_FOLDER = "corpus"
UPLOAD_SUFFIXES: tuple[str, ...] = tuple(sorted(SUPPORTED_SUFFIXES))
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 80


@dataclass(frozen=True)
class UploadResult:
    """One row of the upload table."""

    file: str
    status: str  # "added", "duplicate" or "rejected"
    reason: str = ""
    articles: int = 0

    def to_dict(self) -> dict[str, str | int]:
        """The result as JSON-able data."""
        return {"file": self.file, "status": self.status, "articles": self.articles,
                "reason": self.reason}


def sanitize_filename(name: str) -> str:
    """A safe file name for ``name``: its last path component only, ASCII letters,
    digits, ``.``, ``_`` and ``-``, no leading dot (no hidden files), at most
    about 90 characters, and the extension lower-cased."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _UNSAFE.sub("_", base)
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.replace(".", "_").strip("._-") or "article"
    suffix = suffix.lower().strip("_-")
    stem = stem[:_MAX_STEM]
    return f"{stem}.{suffix}" if suffix else stem


def corpus_dir(index_dir: str | Path) -> Path:
    """The folder that holds the articles uploaded to the index at ``index_dir``."""
    return Path(index_dir) / CORPUS_FOLDER


def _check(src: Path, name: str) -> str | None:
    """Why ``src`` cannot be taken, or None if it can."""
    suffix = Path(name).suffix
    if suffix not in SUPPORTED_SUFFIXES:
        return (f"unsupported file type {suffix or '(none)'}; "
                f"use one of {', '.join(UPLOAD_SUFFIXES)}")
    if src.is_symlink() or not src.is_file():
        return "not a regular file"
    size = src.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        return (f"{size / 1e6:.1f} MB is over the {MAX_UPLOAD_BYTES / 1e6:.0f} MB limit "
                "for one file; split it into smaller files")
    if size == 0:
        return "the file is empty"
    return None


def _copy_into(src: Path, folder: Path, name: str) -> Path:
    """Copy ``src`` to a new file ``folder/name`` (numbered if taken); never overwrite."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = Path(name).stem, Path(name).suffix
    for i in range(1, 10_000):
        candidate = folder / (name if i == 1 else f"{stem}_{i}{suffix}")
        # Belt and braces: the sanitised name has no separators, but make sure
        # the destination cannot be anywhere but directly inside the folder.
        if candidate.resolve().parent != folder.resolve():
            raise RagError(f"refusing to write outside {folder}")
        try:
            with open(candidate, "xb") as out, open(src, "rb") as data:
                shutil.copyfileobj(data, out)
        except FileExistsError:
            continue
        return candidate
    raise RagError(f"too many files named like {name} in {folder}")


def add_uploads(
    index_dir: str | Path,
    files: Iterable[str | Path] | None,
    *,
    on_stage: Callable[[str, float], None] | None = None,
) -> list[UploadResult]:
    """Copy ``files`` into the index's corpus folder and index them at once.

    Returns one result per file: added, duplicate (same text already indexed) or
    rejected with the reason. ``on_stage(name, fraction)`` reports progress.
    """
    paths = [Path(f) for f in (files or [])]
    results: dict[int, UploadResult] = {}
    for i in range(MAX_FILES, len(paths)):
        results[i] = UploadResult(sanitize_filename(paths[i].name), "rejected",
                                  f"at most {MAX_FILES} files per upload")
    folder = corpus_dir(index_dir)
    copies: dict[int, Path] = {}
    names: dict[int, str] = {}
    try:
        for i, src in enumerate(paths[:MAX_FILES]):
            name = sanitize_filename(src.name)
            names[i] = name
            problem = _check(src, name)
            if problem:
                results[i] = UploadResult(name, "rejected", problem)
                continue
            copies[i] = _copy_into(src, folder, name)
        if copies:
            file_results, report = add_files(index_dir, list(copies.values()), on_stage=on_stage)
            by_path = {r.path: r for r in file_results}
            problems = report.problems if report else []
            for i, copy in copies.items():
                r = by_path.get(str(copy))
                if r is None:  # pragma: no cover - add_files reports every file
                    results[i] = UploadResult(names[i], "rejected", "not processed")
                    continue
                # An added file keeps its (maybe numbered) name; others were not kept.
                shown = copy.name if r.status == "added" else names[i]
                reason = r.reason
                # Records of a JSON file are named "<path>#<i>" or "<path>:<line>".
                own = (f"{copy}#", f"{copy}:")
                notes = [p.reason for p in problems
                         if p.path == str(copy) or p.path.startswith(own)]
                if notes:
                    shown_notes = "; ".join(notes[:3]) + ("; …" if len(notes) > 3 else "")
                    reason = (reason + "; " if reason else "") + (
                        f"{len(notes)} note(s): {shown_notes}")
                results[i] = UploadResult(shown, r.status, reason.replace(f"{folder}/", ""),
                                          len(r.article_ids) if r.status == "added" else 0)
    except RagError as exc:
        for i in copies:
            results.setdefault(i, UploadResult(names[i], "rejected", str(exc)))
    finally:
        for i, copy in copies.items():
            if results.get(i) is None or results[i].status != "added":
                copy.unlink(missing_ok=True)
    return [results[i] for i in sorted(results)]
