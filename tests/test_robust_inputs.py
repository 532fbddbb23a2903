"""Bad inputs: odd questions and hostile corpus files each get a clear message; nothing is lost.

Cases already covered elsewhere are not repeated: empty/whitespace questions, bad ``k``
and a 600 KB question (test_retrieve.py); NUL-byte binary, whitespace-only file,
``{oops`` JSON, a record without a body, a latin-1 file and a plain duplicate
(test_articles.py). docs/robustness.md lists every case and its behaviour.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rag
from rag import CorpusError, QuestionError, load_articles
from rag.articles import load_file
from rag.cli import main
from rag.errors import ArticleError

# ---------------------------------------------------------------- questions

PAK = "Who did Pak Myong Ho meet?"


def _assert_verbatim(answer: rag.Answer, index: rag.Index) -> None:
    for citation in answer.citations:
        article = index.articles[citation.article_id]
        assert article.text[citation.start:citation.end] == citation.quote
        assert f"“{citation.quote}” [{citation.n}]" in answer.text


def test_a_one_megabyte_question_is_refused_before_any_work(tmp_path):
    question = "x" * 1_000_000
    # Refused before the index is even looked for: no index exists at this path.
    with pytest.raises(QuestionError, match=r"1,000,000 characters.*limit is 2,000.*shorter"):
        rag.ask(question, index=tmp_path / "no-index")
    with pytest.raises(QuestionError, match="limit"):
        rag.search(question, index=tmp_path / "no-index")


def test_a_question_at_the_length_limit_is_answered(bundled_index):
    question = ((PAK + " ") * 100)[:2000]
    assert len(question) == 2000 == rag.Config().max_question_chars
    answer = rag.ask(question, index=bundled_index)
    _assert_verbatim(answer, bundled_index)


@pytest.mark.parametrize("question", [None, b"Who did Pak Myong Ho meet?", 42, ["who"]])
def test_a_question_that_is_not_text_is_refused(bundled_index, question):
    with pytest.raises(QuestionError, match="must be text"):
        rag.ask(question, index=bundled_index)


@pytest.mark.parametrize("question",
                         ["\u200b\u200e\ufeff", "\x1b\x7f\x00\u2028\u3000", "\ud800\udfff"])
def test_invisible_only_questions_are_empty(bundled_index, question):
    with pytest.raises(QuestionError, match="empty"):
        rag.ask(question, index=bundled_index)


def test_control_characters_are_removed_not_fatal(bundled_index):
    clean = rag.ask(PAK, index=bundled_index)
    noisy = rag.ask("\x00Who did\tPak\u200bMyong Ho\x07 meet?\r\n\ud800", index=bundled_index)
    assert noisy.question == PAK
    assert (noisy.text, noisy.citations) == (clean.text, clean.citations)
    assert not clean.abstained


@pytest.mark.parametrize("question", [
    "북한과 중국의 무역은 얼마나 증가했습니까?",
    "中国对朝鲜的出口增长了多少？",
    "كم زادت الصادرات الصينية إلى كوريا الشمالية؟",
    "Насколько вырос экспорт Китая в Северную Корею?",
    "¿Con quién se reunió Pak Myong Ho?",
    "🙂🚢🇰🇵",
    "\u202eWho did Pak Myong Ho meet?",  # right-to-left override
])
def test_non_english_questions_are_answered_or_abstained_never_crash(bundled_index, question):
    answer = rag.ask(question, index=bundled_index)
    assert answer.abstained == (not answer.citations)
    _assert_verbatim(answer, bundled_index)
    for hit in rag.search(question, k=3, index=bundled_index):
        assert bundled_index.articles[hit.article_id].text[hit.start:hit.end] == hit.text


@pytest.mark.parametrize("question", [
    "<script>alert('x')</script>",
    "Who did <b>Pak Myong Ho</b> meet?<img src=x onerror=alert(1)>",
    "'; DROP TABLE articles; -- %s %d {0} {question} ${HOME} `rm -rf /`",
])
def test_html_and_script_in_a_question_are_plain_text(bundled_index, question):
    answer = rag.ask(question, index=bundled_index)
    assert answer.question == " ".join(question.split())  # kept as typed, not parsed
    assert "<script" not in answer.text and "onerror" not in answer.text
    _assert_verbatim(answer, bundled_index)


def test_cli_question_errors_are_messages(default_index_dir, capsys):
    assert main(["ask", " \t", "--index", str(default_index_dir)]) == 2
    assert "error: the question is empty" in capsys.readouterr().err
    assert main(["search", "y" * 5000, "--index", str(default_index_dir)]) == 2
    assert "Ask something shorter" in capsys.readouterr().err


# ---------------------------------------------------------------- corpus files

GOOD = {
    "good-1.txt": "Freight trains between Dandong and Sinuiju resumed on Monday, officials said.\n",
    "good-2.md": "---\ntitle: Port reopens\nsource: Test Wire\n---\n"
                 "The port at Nampo reopened to Chinese cargo ships in October.\n",
}
CP1252 = "Officials said the “new” ferry fare is €25 — a 10% rise.\n"
LATIN1 = "Le café de Zürich a rouvert ses portes à Pyongyang.\n"
UTF16 = "A UTF-16 export: Kim Jong Un visited Beijing.\n"

# file name -> (expected reason, or None when the file loads; a note it carries, if any)
EXPECTED: dict[str, tuple[str | None, str | None]] = {
    "binary-png.txt": ("binary file (NUL bytes)", None),
    "binary-no-nul.txt": ("binary file (control characters)", None),
    "empty.txt": ("the file is empty", None),
    "huge.txt": ("over the 10 MB limit for one file; split it", None),
    "truncated.json": ("malformed JSON at line 1", None),
    "deep.json": ("nested too deeply", None),
    "scalar.json": ("expected a list of article records", None),
    "no-bodies.json": ("no usable article records", None),
    "records.jsonl:2": ("malformed JSON line", None),
    "records.jsonl:3": ("has no body", None),
    "zz-copy-of-good-1.txt": ("duplicate of", None),
    "zz-dup-record.json#0": ("duplicate of", None),
    "loop-a.txt": ("symbolic link that loops", None),
    "loop-b.txt": ("symbolic link that loops", None),
    "broken-link.txt": ("broken symbolic link", None),
    "pipe.txt": ("a named pipe (FIFO), not a regular file", None),
    "zero.txt": ("a device, not a regular file", None),
    "scan.pdf": ("unsupported file type .pdf", None),
    "windows-1252.txt": (None, "read as cp1252"),
    "latin-1.txt": (None, "read as cp1252"),
    "utf-16.txt": (None, "UTF-16"),
    "mostly-utf8.txt": (None, "1 corrupt byte(s) shown as U+FFFD"),
}


def make_bad_corpus(folder: Path) -> Path:
    """Two good articles (one inside a folder named like a file) among every kind of bad file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in GOOD.items():
        (folder / name).write_text(text, encoding="utf-8")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    (folder / "binary-png.txt").write_bytes(png)
    (folder / "binary-no-nul.txt").write_bytes(bytes(range(1, 32)) * 40 + b"some text")
    (folder / "empty.txt").write_bytes(b"")
    with open(folder / "huge.txt", "w", encoding="utf-8") as handle:  # 50 MB of real text
        line = "Trade between the two countries rose again in the third quarter. " * 16 + "\n"
        handle.write(line * (50 * 1024 * 1024 // len(line) + 1))
    (folder / "truncated.json").write_text('[{"title": "Cut off", "body": "The ship')
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "scalar.json").write_text("42")
    (folder / "no-bodies.json").write_text(json.dumps(
        [{"title": "No body"}, {"body": "   "}, {"body": ["not", "text"]}, "a string"]))
    (folder / "records.jsonl").write_text(
        json.dumps({"body": "A JSONL record about the Rason trade zone.", "source": "Wire"})
        + "\n{broken\n" + json.dumps({"title": "no body here"}) + "\n")
    (folder / "zz-copy-of-good-1.txt").write_text(GOOD["good-1.txt"], encoding="utf-8")
    (folder / "zz-dup-record.json").write_text(json.dumps([{"body": GOOD["good-1.txt"]}]))
    (folder / "loop-a.txt").symlink_to("loop-b.txt")
    (folder / "loop-b.txt").symlink_to("loop-a.txt")
    (folder / "dir-loop").symlink_to(".", target_is_directory=True)
    (folder / "broken-link.txt").symlink_to("nowhere.txt")
    os.mkfifo(folder / "pipe.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4\n")
    (folder / "folder.txt").mkdir()
    (folder / "folder.txt" / "inside.txt").write_text("A bridge over the Yalu opened to trucks.\n")
    (folder / "windows-1252.txt").write_bytes(CP1252.encode("cp1252"))
    (folder / "latin-1.txt").write_bytes(LATIN1.encode("latin-1"))
    (folder / "utf-16.txt").write_bytes(UTF16.encode("utf-16"))
    (folder / "mostly-utf8.txt").write_bytes(
        "Kim’s “visit” to Zürich, résumé: ".encode() + b"\xff" + " naïve café.\n".encode())
    return folder


def call_unblocked(fn: Callable[[], Any], fifos: list[Path], timeout: float = 60) -> Any:
    """Run ``fn``; if it blocks (reading a FIFO), unblock it and fail instead of hanging."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        for fifo in fifos:  # give a blocked reader a writer, then EOF
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail(f"blocked for {timeout}s reading a named pipe")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory) -> Path:
    return make_bad_corpus(tmp_path_factory.mktemp("bad") / "corpus")


@pytest.fixture(scope="module")
def loaded(bad_corpus):
    return call_unblocked(lambda: load_articles([bad_corpus]), [bad_corpus / "pipe.txt"])


def _problem(loaded, bad_corpus: Path, name: str):
    wanted = str(bad_corpus / name)
    found = [p for p in loaded.problems if p.path == wanted]
    assert found, f"no problem reported for {name}: {[str(p) for p in loaded.problems]}"
    return found[0]


@pytest.mark.parametrize("name", [n for n, (reason, _) in EXPECTED.items() if reason])
def test_each_bad_file_is_skipped_with_a_reason_naming_it(loaded, bad_corpus, name):
    reason, _ = EXPECTED[name]
    problem = _problem(loaded, bad_corpus, name)
    assert problem.skipped and reason in problem.reason
    assert str(problem).startswith(f"skipped: {bad_corpus / name}: ")


@pytest.mark.parametrize("name, original", [
    ("windows-1252.txt", CP1252), ("latin-1.txt", LATIN1), ("utf-16.txt", UTF16)])
def test_non_utf8_files_load_verbatim_with_a_note(loaded, bad_corpus, name, original):
    [article] = [a for a in loaded.articles if a.path == str(bad_corpus / name)]
    assert article.text == original
    problem = _problem(loaded, bad_corpus, name)
    assert not problem.skipped and EXPECTED[name][1] in problem.reason


def test_mostly_utf8_file_keeps_its_utf8_and_marks_the_bad_byte(loaded, bad_corpus):
    [article] = [a for a in loaded.articles if a.path == str(bad_corpus / "mostly-utf8.txt")]
    assert article.text == "Kim’s “visit” to Zürich, résumé: \ufffd naïve café.\n"
    assert "re-save it as UTF-8" in _problem(loaded, bad_corpus, "mostly-utf8.txt").reason


def test_the_rest_is_loaded_once_each(loaded, bad_corpus):
    by_path = {a.path: a for a in loaded.articles}
    assert set(by_path) == {
        str(bad_corpus / "good-1.txt"), str(bad_corpus / "good-2.md"),
        str(bad_corpus / "folder.txt" / "inside.txt"),  # a folder named like a file is walked
        str(bad_corpus / "records.jsonl:1"),
        *(str(bad_corpus / n) for n, (r, _) in EXPECTED.items() if r is None),
    }
    assert len({a.id for a in loaded.articles}) == len(loaded.articles)
    # The folder symlink back to "." is not followed: no second copy of anything.
    assert not any("dir-loop" in p.path for p in loaded.problems)


def test_build_indexes_the_rest_and_names_every_skipped_file(bad_corpus, tmp_path, capsys):
    index = tmp_path / "index"
    code = call_unblocked(
        lambda: main(["build", str(bad_corpus), "--index", str(index), "--quiet"]),
        [bad_corpus / "pipe.txt"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "indexed 8 articles" in out.out
    lines = out.err.splitlines()
    for name, (reason, _) in EXPECTED.items():
        if reason:
            said = [x for x in lines if x.strip().startswith(f"skipped: {bad_corpus / name}: ")]
            assert said and reason in said[0], name
    hits = rag.search("ferry fare", k=1, index=index)
    assert "€25" in hits[0].text


def test_a_permission_error_is_a_skip_with_what_to_do(tmp_path, monkeypatch):
    # Root reads any file whatever its mode bits, so the refusal is simulated.
    (tmp_path / "ok.txt").write_text("Readable article about the border.")
    (tmp_path / "secret.txt").write_text("Unreadable article.")
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = load_articles([tmp_path])
    assert [a.text for a in result.articles] == ["Readable article about the border."]
    [problem] = result.problems
    assert problem.path == str(tmp_path / "secret.txt")
    assert "(permission denied); give read permission" in problem.reason


def test_a_malformed_metadata_sidecar_is_reported_and_the_texts_still_load(tmp_path):
    (tmp_path / "a.txt").write_text("Article body about trade.")
    (tmp_path / "articles.meta.json").write_text('{"a.txt": {"source": ')
    result = load_articles([tmp_path])
    assert [a.source for a in result.articles] == [None]
    [problem] = result.problems
    assert problem.path == str(tmp_path / "articles.meta.json")
    assert "loaded without it" in problem.reason


def test_explicit_bad_paths_are_rejected_by_add_files_without_building(bad_corpus, tmp_path):
    index = tmp_path / "index"
    names = ["pipe.txt", "folder.txt", "huge.txt", "loop-a.txt", "zero.txt", "scan.pdf"]
    results, report = call_unblocked(
        lambda: rag.add_files(index, [bad_corpus / n for n in names]), [bad_corpus / "pipe.txt"])
    assert report is None and not index.exists()
    assert [r.status for r in results] == ["rejected"] * len(names)
    reasons = dict(zip(names, (r.reason for r in results), strict=True))
    assert "named pipe" in reasons["pipe.txt"]
    assert "a folder, not a regular file; pass the files inside it" in reasons["folder.txt"]
    assert "split it" in reasons["huge.txt"]
    assert "loops" in reasons["loop-a.txt"]
    assert "a device" in reasons["zero.txt"]
    assert "unsupported file type .pdf" in reasons["scan.pdf"]
    with pytest.raises(ArticleError, match="named pipe"):
        call_unblocked(lambda: load_file(bad_corpus / "pipe.txt"), [bad_corpus / "pipe.txt"])


@pytest.mark.parametrize("setup", ["empty", "hidden-and-sidecar-only", "only-bad-files"])
def test_a_folder_with_no_articles_is_an_error_and_the_old_index_stays(
        setup, tmp_path, default_index_dir):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if setup == "hidden-and-sidecar-only":
        (corpus / ".draft.txt").write_text("A hidden draft.")
        (corpus / "articles.meta.json").write_text("{}")
    elif setup == "only-bad-files":
        (corpus / "empty.txt").write_bytes(b"")
        (corpus / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    index = tmp_path / "index"
    shutil.copytree(default_index_dir, index)
    before = rag.load_index(index).build_id
    with pytest.raises(CorpusError, match="no readable articles found in") as error:
        rag.build_index([corpus], index, progress=False)
    assert "supported files are" in str(error.value)
    if setup == "only-bad-files":
        assert "empty.txt: the file is empty" in str(error.value)
    assert rag.load_index(index).build_id == before
