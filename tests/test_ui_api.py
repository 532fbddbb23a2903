"""The chat app over HTTP (gradio_client), its uploads, and ``rag serve``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from tests.ui_fixtures import (
    EXPORTS_FACT,
    EXPORTS_QUESTION,
    copy_index,
    free_port,
    running_app,  # noqa: F401 - a fixture
    ui_index,  # noqa: F401 - a fixture
)
from ui import uploads
from ui.app import _parse_auth, add_articles, build_app, launch_app, upload_reply
from ui.uploads import add_uploads, corpus_dir, sanitize_filename

REPO = Path(__file__).resolve().parents[1]
# Gradio's own event bookkeeping trips pandas deprecation warnings: not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
NEW_ARTICLE = (
    "The Tallinn harbour authority said on Monday that ferry traffic to Helsinki "
    "reached 9.4 million passengers last year, a record for the route.\n"
    "Officials credited new fast ferries for the rise.\n"
)


def _text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


@pytest.fixture(scope="module")
def client(running_app: tuple[str, Any]) -> Client:  # noqa: F811 - fixture
    return Client(running_app[0], verbose=False)


# ---------------------------------------------------------------- /ask


def test_ask_endpoint_answers_with_a_citation(client: Client) -> None:
    history, data, box = client.predict(EXPORTS_QUESTION, [], 8, [], "", "", True,
                                        api_name="/ask")
    assert EXPORTS_FACT in data["text"]
    assert not data["abstained"]
    assert data["citations"], "the answer cites no article"
    citation = data["citations"][0]
    assert citation["article_id"] and citation["quote"] in data["text"]
    assert EXPORTS_FACT in citation["quote"]
    assert box == ""
    shown = _text(history[-1])
    assert "<mark>" in shown and 'class="rag-card"' in shown


def test_ask_endpoint_defaults_and_filters(client: Client) -> None:
    _, data, _ = client.predict(EXPORTS_QUESTION, api_name="/ask")
    assert EXPORTS_FACT in data["text"]
    _, data, _ = client.predict(EXPORTS_QUESTION, [], 3, ["The Speaker"], "", "", False, False,
                                api_name="/ask")
    assert data["request"] == {"k": 3, "sources": ["The Speaker"], "since": None,
                               "until": None, "hybrid": False, "hints": False}
    assert not data["hints"]
    assert len(data["hits"]) <= 3
    assert {h["source"] for h in data["hits"]} <= {"The Speaker"}


def test_ask_endpoint_answers_bad_input_with_a_chat_message(client: Client) -> None:
    # No exception: the error is the chat's reply, and the question is left to fix.
    history, data, box = client.predict(EXPORTS_QUESTION, [], 8, [], "yesterday-ish", "", True,
                                        api_name="/ask")
    said = "“yesterday-ish” in “Published since” is not a date"
    assert said in data["error"] and box == EXPORTS_QUESTION
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert 'class="rag-error"' in _text(history[-1]) and said in _text(history[-1])
    history, data, box = client.predict("  ", history, api_name="/ask")
    assert "The question is empty" in data["error"] and box == ""
    assert [m["role"] for m in history] == ["user", "assistant", "assistant"]
    assert "The question is empty" in _text(history[-1])
    # The chat goes on: the same question with a good filter is answered.
    history, data, _ = client.predict(EXPORTS_QUESTION, history, 8, [], "", "", True,
                                      api_name="/ask")
    assert EXPORTS_FACT in data["text"] and len(history) == 5


def test_a_follow_up_is_answered_with_the_previous_turn_and_says_so(client: Client) -> None:
    history, first, _ = client.predict(EXPORTS_QUESTION, [], 8, [], "", "", True,
                                       api_name="/ask")
    assert first["resolved_question"] is None
    assert "Answered as" not in _text(history[-1])
    # The chat's history, sent back as the client got it, carries the first turn.
    history, data, _ = client.predict("What about in August?", history, 8, [], "", "", True,
                                      api_name="/ask")
    resolved = "By how much did Chinese exports to North Korea rise in August?"
    assert data["question"] == "What about in August?"
    assert data["resolved_question"] == resolved
    assert data["citations"] and not data["abstained"]
    shown = _text(history[-1])
    assert 'class="rag-resolved"' in shown and f"Answered as: <q>{resolved}</q>" in shown
    assert "What about in August?" in _text(history[-2])
    # A question that stands on its own after it is answered as asked.
    history, data, _ = client.predict("Who did Pak Myong Ho meet?", history, api_name="/ask")
    assert data["resolved_question"] is None and "Answered as" not in _text(history[-1])


def test_more_quotes_through_the_api_asks_the_last_question_again(client: Client) -> None:
    question = ("Which Chinese diplomats have held talks with North Korean foreign ministry "
                "officials?")
    history, first, _ = client.predict(question, [], 8, [], "", "", True, api_name="/ask")
    assert len(first["citations"]) == 3  # the default: an answer that fits a screen
    # The chat as the client got it back: its last answer, asked again with more quotes.
    history, more = client.predict(history, api_name="/more")
    assert more["question"] == question and len(more["citations"]) > 3
    assert len(history) == 2 and _text(history[-1]).count('class="rag-card"') >= 1
    # With nothing to add to, the chat says so; nothing is raised.
    history, said = client.predict([], api_name="/more")
    assert "ask a question first" in said["error"] and "rag-error" in _text(history[-1])


def test_only_ask_more_and_add_are_public(client: Client) -> None:
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/ask", "/more", "/add"}
    assert not api["unnamed_endpoints"]


def test_auth_is_required_when_set(ui_index: Path) -> None:  # noqa: F811 - fixture
    demo = build_app(ui_index, warm=False)
    url = launch_app(demo, port=free_port(), auth=("reader", "s3cret"))
    try:
        with pytest.raises(Exception):  # noqa: B017 - the client raises various errors
            Client(url, verbose=False)
        authed = Client(url, auth=("reader", "s3cret"), verbose=False)
        _, data, _ = authed.predict(EXPORTS_QUESTION, api_name="/ask")
        assert EXPORTS_FACT in data["text"]
    finally:
        demo.close()


def test_parse_auth() -> None:
    assert _parse_auth("u:p:q") == ("u", "p:q")
    assert _parse_auth(None) is None
    for bad in ("nopass", ":p", "u:"):
        with pytest.raises(Exception, match="USER:PASS"):
            _parse_auth(bad)


# ---------------------------------------------------------------- uploads


@pytest.fixture()
def own_index(ui_index: Path, tmp_path: Path) -> Path:  # noqa: F811 - fixture
    return copy_index(ui_index, tmp_path / "index")


def test_upload_through_the_api_is_searchable_at_once(own_index: Path, tmp_path: Path) -> None:
    import rag

    files = tmp_path / "up"
    files.mkdir()
    (files / ".tallinn ferries.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    bundled = sorted(rag.bundled_corpus_dir().glob("*.txt"))[0]
    (files / "again.txt").write_bytes(bundled.read_bytes())
    (files / "empty.md").write_text("   \n", encoding="utf-8")

    demo = build_app(own_index, warm=False)
    url = launch_app(demo, port=free_port())
    try:
        client = Client(url, verbose=False)
        table, results, info, _, cleared = client.predict(
            [handle_file(str(p)) for p in sorted(files.iterdir())], api_name="/add")
        rows = {r["file"]: r for r in results}
        assert (rows["tallinn_ferries.txt"]["status"], rows["tallinn_ferries.txt"]["articles"]
                ) == ("added", 1)
        assert rows["again.txt"]["status"] == "duplicate"
        assert rows["empty.md"]["status"] == "rejected" and "empty" in rows["empty.md"]["reason"]
        assert "added (1 article)" in table and "1 added, 1 duplicate, 1 rejected" in table
        assert "<th>Articles</th><td>7</td>" in info  # 6 articles + the new one
        assert cleared is None
        # Only the added file is kept, under its sanitised name, in <index>/corpus/.
        assert sorted(p.name for p in corpus_dir(own_index).iterdir()) == ["tallinn_ferries.txt"]
        _, data, _ = client.predict("How many passengers took the Tallinn-Helsinki ferries?",
                                    api_name="/ask")
        assert "9.4 million" in data["text"]
        assert data["citations"][0]["quote"] in NEW_ARTICLE
    finally:
        demo.close()


def test_sanitize_filename() -> None:
    assert sanitize_filename("../../etc/passwd.txt") == "passwd.txt"
    assert sanitize_filename("..\\..\\win.ini.TXT") == "win_ini.txt"
    assert sanitize_filename(".bashrc.md") == "bashrc.md"
    assert sanitize_filename("...") == "article"
    assert sanitize_filename("Café news (1).html") == "Cafe_news_1.html"
    assert sanitize_filename("a\x00b;rm -rf.json") == "a_b_rm_-rf.json"
    assert len(sanitize_filename("x" * 500 + ".txt")) <= 90
    for name in ("/abs/path.txt", "a/../../b.txt", "\u202ecod.txt", "nul\x00.txt"):
        safe = sanitize_filename(name)
        assert "/" not in safe and "\\" not in safe and not safe.startswith(".")


def test_uploads_are_checked_and_kept_in_the_corpus_folder(
        own_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.txt").write_text("word " * 400, encoding="utf-8")
    (src / "tool.exe").write_bytes(b"MZ\x00\x00")
    (src / "bad.json").write_text("{not json", encoding="utf-8")
    (src / "link.txt").symlink_to(src / "big.txt")
    (src / "ferries.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    (src / "ferries.md").write_text(NEW_ARTICLE + "More.\n", encoding="utf-8")
    (src / "wire.jsonl").write_text(
        '{"title": "Port news", "source": "Wire", "body": "The port of Riga handled more '
        'grain this spring than ever."}\n{oops\n', encoding="utf-8")
    # A file of that name is there already: the upload is numbered, not overwritten.
    corpus_dir(own_index).mkdir()
    (corpus_dir(own_index) / "ferries.txt").write_text("keep me", encoding="utf-8")

    stages: list[str] = []
    results = add_uploads(own_index, sorted(src.iterdir()),
                          on_stage=lambda name, frac: stages.append(name))
    by_file = {r.file: r for r in results}
    assert "over the" in by_file["big.txt"].reason and by_file["big.txt"].status == "rejected"
    assert "unsupported file type .exe" in by_file["tool.exe"].reason
    assert "malformed JSON" in by_file["bad.json"].reason
    assert by_file["link.txt"].reason == "not a regular file"
    assert by_file["ferries_2.txt"].status == "added"
    assert by_file["ferries.md"].status == "added"
    assert by_file["wire.jsonl"].status == "added" and by_file["wire.jsonl"].articles == 1
    assert "1 note(s): malformed JSON line" in by_file["wire.jsonl"].reason
    assert "done" in stages
    kept = sorted(p.name for p in corpus_dir(own_index).iterdir())
    assert kept == ["ferries.md", "ferries.txt", "ferries_2.txt", "wire.jsonl"]
    assert (corpus_dir(own_index) / "ferries.txt").read_text() == "keep me"
    # Sent again: a duplicate, reported under its own name, and no copy is left.
    again = add_uploads(own_index, [src / "ferries.txt"])
    assert [(r.file, r.status) for r in again] == [("ferries.txt", "duplicate")]
    assert sorted(p.name for p in corpus_dir(own_index).iterdir()) == kept
    assert not any(p.name.startswith(".") for p in own_index.rglob("*") if p.name != ".lock")


def test_add_articles_reports_progress_and_needs_files(own_index: Path, tmp_path: Path) -> None:
    calls: list[tuple[float, str]] = []
    (tmp_path / "a.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    rows = add_articles([tmp_path / "a.txt"], own_index,
                        lambda frac, desc="": calls.append((frac, desc)))
    assert rows == [{"file": "a.txt", "status": "added", "articles": 1, "reason": ""}]
    assert calls[0][0] == 0.0 and calls[-1][0] == 1.0
    assert add_articles([], own_index) == []  # no exception: the chat says what to do


def test_the_chat_says_what_an_upload_did_and_why_a_file_was_rejected(
        own_index: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ferries.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    (src / "scan.txt").write_bytes(b"\x00\x01\x02" * 50)
    (src / "empty.md").write_text("   \n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rag.ui"):
        rows = add_articles(sorted(src.iterdir()), own_index)
    [record] = [r for r in caplog.records if r.name == "rag.ui"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    history = upload_reply([{"role": "user", "content": "q"}], rows)
    assert len(history) == 2 and history[-1]["role"] == "assistant"
    said = history[-1]["content"]
    assert said.startswith('<div class="rag-error">')
    assert "Added 1 file (1 article): they are searchable now." in said
    assert "Could not add 2 files: empty.md:" in said and "scan.txt: looks like a binary" in said
    assert "Fix the file and add it again." in said
    # Nothing chosen: the chat says how to upload; all added: a notice, not an error.
    assert "No file was chosen" in upload_reply([], add_articles(None, own_index))[-1]["content"]
    ok = upload_reply(None, [{"file": "a.txt", "status": "added", "articles": 2, "reason": ""}])
    assert ok[-1]["content"].startswith('<div class="rag-notice">Added 1 file (2 articles)')


# ---------------------------------------------------------------- rag serve


@pytest.fixture()
def served(ui_index: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:  # noqa: F811
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--index", str(ui_index), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO)
    lines: list[str] = []
    try:
        yield proc, lines
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_rag_serve_prints_its_url_and_serves(
        served: tuple[subprocess.Popen[str], list[str]]) -> None:
    proc, lines = served
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "http://" in line:
            break
    url_line = next((line for line in lines if "http://" in line), None)
    assert url_line, f"rag serve printed no URL: {lines!r} (exit {proc.poll()})"
    url = url_line[url_line.index("http://"):].split()[0]
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert b"rag" in response.read()
