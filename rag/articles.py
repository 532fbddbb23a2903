"""Load articles from files and folders: .txt, .md, .html, .json and .jsonl.

Every file that cannot be used is skipped with a ``Problem`` naming it and the
reason; the rest is loaded. Metadata a source does not state is ``None``, but
for the title: a .txt file's headline line (:func:`headline`) is its title,
and an article with none is titled by the start of its first sentence.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from .clean import find_boilerplate
from .errors import ArticleError, CorpusError
from .records import Article
from .text import first_sentence_title, wordy_count

TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES

#: Sidecar file with metadata for the plain-text files of its folder.
METADATA_FILE = "articles.meta.json"
#: One article file larger than this is rejected (split it first).
MAX_ARTICLE_BYTES = 10 * 1024 * 1024
#: A JSON/JSONL collection larger than this is rejected.
MAX_COLLECTION_BYTES = 200 * 1024 * 1024

_BODY_KEYS = ("body", "text", "content")
_DATE_KEYS = ("published_at", "published", "date", "pubDate", "datetime")
_META_KEYS = ("title", "source", "url", "author", "date_note")


@dataclass(frozen=True)
class Problem:
    """A file or record that was skipped (or loaded with a caveat), and why."""

    path: str
    reason: str
    skipped: bool = True

    def __str__(self) -> str:
        verb = "skipped" if self.skipped else "note"
        return f"{verb}: {self.path}: {self.reason}"


@dataclass
class LoadResult:
    """Articles loaded (deduplicated by content) and the problems met."""

    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def bundled_corpus_dir() -> Path:
    """The folder of the five bundled articles shipped inside the package."""
    return Path(str(resources.files("rag") / "data" / "articles"))


# ---------------------------------------------------------------- dates


_FRACTION = re.compile(r"(\d{2}:\d{2}:\d{2})\.\d+")


def normalise_date(value: Any) -> str | None:
    """Return an ISO 8601 date (``2023-11-27``) or datetime, or None if unparseable.

    Times are kept when given (``2023-11-27T08:45:59+00:00``); fractions of a
    second are dropped.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if not text:
        return None
    text = _FRACTION.sub(r"\1", text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.strptime(text, "%Y-%m-%d").date().isoformat()
        except ValueError:
            return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            from dateutil import parser as dateparser

            dt = dateparser.parse(text, fuzzy=False)
        except (ValueError, OverflowError, TypeError):
            return None
    has_time = bool(re.search(r"\d{1,2}:\d{2}", text))
    if not has_time:
        return dt.date().isoformat()
    return dt.isoformat()


# ---------------------------------------------------------------- decoding


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Control characters plain text does carry: tab, line breaks, vertical tab, form feed,
# and the DOS end-of-file mark.
_TEXT_CONTROLS = frozenset("\t\n\x0b\x0c\r\x1a")
#: A decoded text with more than this share of control characters is binary data.
MAX_CONTROL_SHARE = 0.05
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # an undecodable byte, as surrogateescape shows it
_NON_ASCII = re.compile("[^\x00-\x7f]")


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    controls = sum(
        1 for ch in sample
        if (ch < " " or "\x7f" <= ch <= "\x9f") and ch not in _TEXT_CONTROLS
    )
    return controls > MAX_CONTROL_SHARE * max(len(sample), 1)


def _binary_error(path: str, why: str) -> ArticleError:
    return ArticleError(
        f"{path}: looks like a binary file ({why}), not text; convert it to "
        ".txt/.md/.html/.json or leave it out of the corpus"
    )


def _decode(data: bytes, path: str) -> tuple[str, Problem | None]:
    """Decode a file's bytes; a note says when the text was not plain UTF-8."""
    if data.startswith(_UTF16_BOMS):
        # Windows "Unicode" text: UTF-16 with a byte-order mark (and NUL bytes).
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise _binary_error(path, "a UTF-16 mark but undecodable content") from None
        if _looks_binary(text):
            raise _binary_error(path, "control characters")
        return text, Problem(path, "UTF-16 text; read as UTF-16", skipped=False)
    if b"\x00" in data[:8192]:
        raise _binary_error(path, "NUL bytes")
    try:
        text = data.decode("utf-8-sig")
        note = None
    except UnicodeDecodeError:
        text, note = _decode_legacy(data, path)
    if _looks_binary(text):
        raise _binary_error(path, "control characters")
    return text, note


def _decode_legacy(data: bytes, path: str) -> tuple[str, Problem]:
    # Mostly UTF-8 with a few corrupt bytes (a damaged scrape): keep the UTF-8
    # and mark the bad bytes, rather than misreading every accent as cp1252.
    escaped = data.decode("utf-8", errors="surrogateescape")
    bad = len(_ESCAPED_BYTE.findall(escaped))
    good = len(_NON_ASCII.findall(escaped)) - bad
    if good >= 4 * bad:
        text = data.decode("utf-8-sig", errors="replace")
        return text, Problem(
            path, f"not valid UTF-8: {bad} corrupt byte(s) shown as U+FFFD; re-save it as UTF-8",
            skipped=False)
    # Newsroom exports from Windows are often cp1252; latin-1 accepts any byte.
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, Problem(path, f"not UTF-8; read as {encoding}", skipped=False)
    raise ArticleError(f"{path}: cannot decode the file as text")  # pragma: no cover


def _os_error(path: Path, exc: OSError) -> ArticleError:
    """An ArticleError saying why ``path`` cannot be read and what to do."""
    if path.is_symlink():
        target = os.readlink(path)
        if exc.errno == errno.ELOOP:
            return ArticleError(
                f"{path}: a symbolic link that loops (-> {target}); fix or remove the link")
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return ArticleError(
                f"{path}: a broken symbolic link (-> {target}, which does not exist); "
                "fix or remove the link")
    if isinstance(exc, PermissionError):
        return ArticleError(
            f"{path}: cannot read it (permission denied); give read permission "
            "(e.g. chmod a+r) and build again")
    if exc.errno == errno.ENOENT:
        return ArticleError(f"{path}: no such file (it may have been moved or deleted)")
    return ArticleError(f"{path}: cannot read it ({exc.strerror or exc}); check the file")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _read(path: Path, limit: int) -> tuple[str, Problem | None]:
    try:
        info = path.stat()
    except OSError as exc:
        raise _os_error(path, exc) from exc
    # Pipes, devices and sockets can block a read forever or never end: only
    # regular files are read.
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        advice = ("pass the files inside it, or the folder to rag build"
                  if kind == "a folder" else "copy the article into a regular file")
        raise ArticleError(f"{path}: {kind}, not a regular file; {advice}")
    size = info.st_size
    if size > limit:
        raise ArticleError(
            f"{path}: {size / 1e6:.1f} MB is over the {limit / 1e6:.0f} MB limit for one file; "
            "split it into smaller files (one article per file, or a .jsonl of records)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _os_error(path, exc) from exc
    if not data.strip():
        raise ArticleError(f"{path}: the file is empty; add the article text or remove the file")
    return _decode(data, str(path))


# ---------------------------------------------------------------- headlines

#: A first line longer than this is not a headline.
HEADLINE_MAX_CHARS = 120
#: A headline has at least this many words (of two letters or more, not month or
#: day names): "The Speaker" and "What's Happening?" are an outlet and a section.
HEADLINE_MIN_WORDS = 3
#: A headline has at most this many words.
HEADLINE_MAX_WORDS = 20
_FIRST_LINE = re.compile(r"\A\s*([^\r\n]+)")
# A sentence break inside the line ("Talks resumed. Both sides ..."): prose, not a title.
_INNER_STOP = re.compile(r"[.!?…][\"'”’)\]]*\s+\S")
_NOT_TITLE_START = re.compile(r"^(by\s|[#>*\-!\[|(]|https?:|www\.)", re.IGNORECASE)


def headline(text: str, dropped: Iterable[tuple[int, int]] = ()) -> str | None:
    """The first line of ``text`` if it looks like a headline, else None.

    A headline is followed by more text, is at most ``HEADLINE_MAX_CHARS``
    characters and ``HEADLINE_MIN_WORDS``-``HEADLINE_MAX_WORDS`` words, begins
    with a capital letter or digit, and does not end like a sentence or clause
    (``.``, ``,``, ``;``, ``:``) nor hold a sentence break. Bylines, links,
    Markdown marks, datelines and lines cleaning drops as boilerplate
    (``dropped``, spans of ``text``) are not headlines.
    """
    match = _FIRST_LINE.match(text)
    if match is None or not text[match.end():].strip():
        return None
    line = match.group(1).strip()
    if any(s <= match.start(1) < e for s, e in dropped):
        return None
    first = line.lstrip("\"'“‘")[:1]
    if (len(line) > HEADLINE_MAX_CHARS or not (first.isupper() or first.isdigit())
            or line.endswith((".", ",", ";", ":", "…")) or _INNER_STOP.search(line)
            or _NOT_TITLE_START.match(line)):
        return None
    if wordy_count(line) < HEADLINE_MIN_WORDS or len(line.split()) > HEADLINE_MAX_WORDS:
        return None
    return line


# ---------------------------------------------------------------- formats


def make_article(text: str, meta: dict[str, Any], path: str, *,
                 headline_title: bool = False) -> Article:
    """An Article from a body and a metadata mapping, with cleaning applied.

    With no title in ``meta``, the title is the text's headline line when
    ``headline_title`` (plain-text files) and :func:`headline` finds one, else
    the start of its first sentence. The text is kept verbatim either way.
    """
    if not text.strip():
        raise ArticleError(f"{path}: the article has no text")
    published = None
    for key in _DATE_KEYS:
        if meta.get(key):
            published = normalise_date(meta[key])
            break
    fields = {}
    for key in _META_KEYS:
        value = meta.get(key)
        if key == "source" and not value:
            value = meta.get("outlet") or meta.get("sitename")
        fields[key] = str(value).strip() if value not in (None, "") else None
    dropped = find_boilerplate(text)
    spans = [(d.start, d.end) for d in dropped]
    if not fields["title"]:
        fields["title"] = ((headline(text, spans) if headline_title else None)
                           or first_sentence_title(text, spans))
    return Article(
        id=Article.make_id(text),
        text=text,
        published=published,
        path=path,
        dropped=dropped,
        **fields,
    )


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.DOTALL)


def _split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(f"{path}: the YAML front matter is malformed ({exc})") from exc
    if not isinstance(meta, dict):
        raise ArticleError(f"{path}: the front matter must be a mapping of key: value lines")
    return meta, text[match.end():]


def _html_article(raw: str, path: str) -> Article:
    import trafilatura

    doc = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False)
    if doc is None:
        raise ArticleError(f"{path}: no article text found in the HTML")
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = data.get("text") or ""
    meta = {
        "title": data.get("title"),
        "source": data.get("sitename"),
        "url": data.get("url"),
        "author": data.get("author"),
        "date": data.get("date"),
    }
    return make_article(text, meta, path)


def _records(raw: str, path: str, suffix: str) -> Iterator[tuple[str, Any]]:
    if suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ArticleError(
                f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; "
                "fix it (or export one record per line as .jsonl)"
            ) from exc
        except RecursionError:
            raise ArticleError(
                f"{path}: the JSON is nested too deeply to be article records; expected a "
                "list of objects with a body"
            ) from None
        if isinstance(data, dict):
            for key in ("articles", "records", "data", "items"):
                if isinstance(data.get(key), list):
                    data = data[key]
                    break
            else:
                data = [data]
        if not isinstance(data, list):
            raise ArticleError(
                f"{path}: expected a list of article records (objects with a body), "
                f"found a JSON {type(data).__name__}"
            )
        for i, record in enumerate(data):
            yield f"{path}#{i}", record
        return
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{lineno}", json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"{path}:{lineno}", ArticleError(
                f"{path}:{lineno}: malformed JSON line ({exc.msg}); fix or remove the line"
            )
        except RecursionError:
            yield f"{path}:{lineno}", ArticleError(
                f"{path}:{lineno}: the JSON line is nested too deeply to be an article record"
            )


def _record_article(record: Any, where: str) -> Article:
    if isinstance(record, ArticleError):
        raise record
    if not isinstance(record, dict):
        raise ArticleError(f"{where}: a record must be a JSON object")
    for key in _BODY_KEYS:
        body = record.get(key)
        if isinstance(body, str) and body.strip():
            return make_article(body, record, where)
    raise ArticleError(f"{where}: the record has no body (expected one of {list(_BODY_KEYS)})")


def _sidecar(folder: Path) -> dict[str, dict[str, Any]]:
    meta_path = folder / METADATA_FILE
    if not meta_path.is_file():
        return {}
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{meta_path}: cannot read the metadata file ({exc})") from exc
    except RecursionError:
        raise CorpusError(f"{meta_path}: the metadata JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{meta_path}: expected an object mapping file names to metadata")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def load_file(
    path: Path, meta: dict[str, Any] | None = None
) -> tuple[list[Article], list[Problem]]:
    """Load one file: a list of articles (several for JSON) and the problems met."""
    suffix = path.suffix.lower()
    shown = str(path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(
            f"{shown}: unsupported file type {suffix or '(none)'}; "
            f"use one of {sorted(SUPPORTED_SUFFIXES)}"
        )
    limit = MAX_COLLECTION_BYTES if suffix in JSON_SUFFIXES else MAX_ARTICLE_BYTES
    raw, note = _read(path, limit)
    problems = [note] if note else []
    if suffix in TEXT_SUFFIXES:
        return [make_article(raw, meta or {}, shown, headline_title=True)], problems
    if suffix in MARKDOWN_SUFFIXES:
        front, body = _split_front_matter(raw, shown)
        return [make_article(body, {**(meta or {}), **front}, shown)], problems
    if suffix in HTML_SUFFIXES:
        return [_html_article(raw, shown)], problems
    articles = []
    for where, record in _records(raw, shown, suffix):
        try:
            articles.append(_record_article(record, where))
        except ArticleError as exc:
            problems.append(Problem(where, str(exc).removeprefix(f"{where}: ")))
    if not articles:
        detail = "; ".join(f"{p.path}: {p.reason}" for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ArticleError(
            f"{shown}: no usable article records"
            + (f" ({detail}{more})" if detail else " (the file holds no records)")
        )
    return articles, problems


def _walk(root: Path) -> Iterator[Path]:
    # Symlinked folders are not followed: they can loop, and they can reach
    # outside the corpus the user pointed at.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name == METADATA_FILE:
                continue
            yield Path(dirpath) / name


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, bool]]:
    """Yield (file, named_explicitly) for every file under ``paths``."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in _walk(path):
                yield f, False
        elif path.exists() or path.is_symlink():
            yield path, True
        else:
            raise CorpusError(f"{path}: no such file or folder; check the path")


def load_articles(paths: Iterable[str | Path]) -> LoadResult:
    """Load every article under ``paths`` (files or folders, searched recursively).

    Unsupported, unreadable, binary, empty or malformed files are skipped with a
    ``Problem``; identical texts are loaded once. Raises ``CorpusError`` when a
    path does not exist or nothing usable is found.
    """
    result = LoadResult()
    seen: dict[str, str] = {}
    sidecars: dict[Path, dict[str, dict[str, Any]]] = {}
    paths = list(paths)
    if not paths:
        raise CorpusError("no corpus paths given; pass files or folders of articles")
    for file, _explicit in iter_files(paths):
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            # Said even for files found in folders: a PDF or .docx dropped into the
            # corpus would otherwise vanish without a word.
            result.problems.append(Problem(
                str(file), f"unsupported file type {file.suffix or '(none)'}; convert it to "
                f"one of {sorted(SUPPORTED_SUFFIXES)} to include it"))
            continue
        folder = file.parent
        if folder not in sidecars:
            try:
                sidecars[folder] = _sidecar(folder)
            except CorpusError as exc:
                # The texts are still loaded, without the metadata, and the build says so.
                sidecars[folder] = {}
                result.problems.append(Problem(
                    str(folder / METADATA_FILE),
                    str(exc).removeprefix(f"{folder / METADATA_FILE}: ")
                    + "; the articles in its folder are loaded without it: fix it and build again",
                ))
        try:
            articles, problems = load_file(file, sidecars[folder].get(file.name))
        except ArticleError as exc:
            result.problems.append(Problem(str(file), str(exc).removeprefix(f"{file}: ")))
            continue
        result.problems.extend(problems)
        for article in articles:
            if article.id in seen:
                result.problems.append(
                    Problem(article.path or str(file),
                            f"duplicate of {seen[article.id]} (same text, indexed once)")
                )
                continue
            seen[article.id] = article.path or str(file)
            result.articles.append(article)
    if not result.articles:
        detail = "; ".join(str(p) for p in result.problems[:5])
        raise CorpusError(
            f"no readable articles found in {', '.join(map(str, paths))}"
            + (f" ({detail})" if detail else "")
            + f"; supported files are {sorted(SUPPORTED_SUFFIXES)}"
        )
    return result

