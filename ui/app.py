"""The chat in a browser: ``rag serve`` starts this Gradio app.

The logic lives in plain functions (:func:`respond`, :func:`add_articles`, the
renderers in :mod:`ui.render`) so it is tested without a browser;
:func:`build_app` only wires them to Gradio components. The chat handler is
exposed as the API endpoint ``/ask``: ``gradio_client`` callers get the chat
history, the answer as JSON, and an empty question box back. "Show more quotes"
is ``/more``: the chat history in, the history with its last answer asked again
with more quotes, and that answer as JSON, out.

Errors never cover the chat as Gradio toasts: a bad question, date filter or
upload is answered in the conversation, in words saying what was wrong and what
to do, and logged as one warning line (``rag.ui``); an unexpected failure is
logged with its traceback and the chat says briefly that it happened.
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Offline tool: no usage statistics or version checks sent by Gradio.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr

import rag
from rag.articles import normalise_date
from rag.config import Config
from rag.errors import RagError
from rag.index import Index

from .render import (
    CSS,
    render_answer,
    render_error,
    render_info,
    render_no_more,
    render_notice,
    render_question,
    render_resolved,
    render_uploads,
)
from .turns import History, can_show_more, previous_turn, turn_marker, turn_of
from .uploads import MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES, add_uploads

log = logging.getLogger("rag.ui")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_K = 30
#: "Show more quotes" asks the last question again with this many more quotes allowed ...
MORE_QUOTES_STEP = 3
#: ... up to this many (an answer by default has ``Config.max_quotes``, 3, so that
#: it fits one screen).
MAX_QUOTES = 12
#: Characters of a question that could not be asked shown in the chat (it may be huge).
MAX_SHOWN_QUESTION = 1000

#: Shown on the empty chat when the index holds the bundled articles.
BUNDLED_EXAMPLES = (
    "By how much did Chinese exports to North Korea rise in September?",
    "Who did Pak Myong Ho meet?",
    "Which senior Chinese leader went to Pyongyang for the party anniversary?",
    "Where did Kim have lunch during his stay in Beijing?",
)

PLACEHOLDER = (
    "### Ask a question about the news articles\n"
    "Every answer is made of **verbatim quotes**, each marked [n] and shown with its "
    "article. When the articles don't answer, the chat says so. Try one of these:"
)

#: Said in the chat when answering failed for a reason that is not the user's.
UNEXPECTED_TEXT = ("Something went wrong while answering: an error in the program, not in "
                   "your question. It is logged on the server; try again, or ask another "
                   "question.")

# Browser-side: bring the newest question (and the start of its answer) into view,
# or the chat's newest message about a problem or an upload when it comes later.
SCROLL_TO_QUESTION = """() => { setTimeout(() => {
  const asked = document.querySelectorAll(
    '#rag-chat .rag-question, #rag-chat .rag-error, #rag-chat .rag-notice');
  if (!asked.length) return;
  const last = asked[asked.length - 1];
  let box = last.parentElement;
  while (box && !(box.scrollHeight > box.clientHeight + 4 &&
                  /auto|scroll/.test(getComputedStyle(box).overflowY))) {
    box = box.parentElement;
  }
  if (!box) return;
  const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top;
  box.scrollTop = Math.max(0, box.scrollTop + top - 56);
}, 150); }"""

# Gradio recognises a handler's gr.Progress parameter by its default value
# (evaluated once either way, so a module-level instance is equivalent).
_PROGRESS = gr.Progress()


# ---------------------------------------------------------------- plain logic


def resolve_index_dir(index_dir: str | Path | None) -> Path:
    """The index folder to serve: ``index_dir``, or the bundled corpus's index
    (built on first use)."""
    if index_dir is None:
        rag.get_index(None)  # builds the bundled index if it is missing
        return rag.default_index_dir()
    return Path(index_dir)


def config_for(index: Index, *, hybrid: bool = True, hints: bool = True,
               max_quotes: int | None = None) -> Config:
    """A Config matching the index's build settings, with question-time options set
    (``max_quotes`` None: the default number of quotes)."""
    settings = {**Config().build_settings(), **index.manifest.get("settings", {})}
    asked: dict[str, Any] = {"hybrid": bool(hybrid), "hints": bool(hints)}
    if max_quotes is not None:
        asked["max_quotes"] = max_quotes
    return Config.from_dict({**settings, **asked})


class ChatInputError(ValueError):
    """A value typed or chosen in the chat that cannot be used; the message says
    what was wrong and what to do, in words for the reader."""


def _blank_to_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_k(k: object) -> int:
    if k is None or k == "":
        return Config().k
    try:
        value = float(k)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if value != value or value != int(value) or not 1 <= value <= MAX_K:
        raise ChatInputError(
            f"The number of passages to read must be a whole number from 1 to {MAX_K}, "
            f"not {k!r}. Set it under “Search options” and ask again.")
    return int(value)


def _as_day(value: object, label: str) -> str | None:
    text = _blank_to_none(value)
    if text is not None and normalise_date(text) is None:
        raise ChatInputError(
            f"“{text}” in “{label}” is not a date. Write it as YYYY-MM-DD (for example "
            "2024-05-29), or empty the box, and ask again.")
    return text


def user_message(exc: Exception) -> str:
    """What to tell the reader about a user error: its message as a sentence."""
    text = str(exc).strip() or "The question cannot be answered as asked."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def ask_request(
    question: str,
    k: object = None,
    sources: Sequence[str] | str | None = None,
    since: object = None,
    until: object = None,
    hybrid: bool = True,
    hints: bool = True,
) -> dict[str, Any]:
    """The arguments for ``rag.ask`` from the chat's controls (blank = no filter)."""
    if isinstance(sources, str):
        sources = [sources]
    chosen = [s for s in (sources or []) if s and str(s).strip()]
    return {
        "k": _as_k(k),
        "sources": chosen or None,  # nothing selected means every outlet
        "since": _as_day(since, "Published since"),
        "until": _as_day(until, "Published until"),
        "hybrid": bool(hybrid),
        "hints": bool(hints),
    }


def respond(
    question: str,
    history: History | None,
    k: object = None,
    sources: Sequence[str] | str | None = None,
    since: object = None,
    until: object = None,
    hybrid: bool = True,
    hints: bool = True,
    *,
    index_dir: str | Path | None = None,
    max_quotes: int | None = None,
) -> tuple[History, dict[str, Any], str]:
    """Answer ``question`` in the chat, with at most ``max_quotes`` quotes (None:
    ``Config.max_quotes``, 3; "Show more quotes" asks again with more: :func:`more_quotes`).

    A question that leans on the chat's last answered turn ("Who said that?",
    "What about in August?") is answered with that turn as ``history``; the
    answer then says the question it answered ("Answered as: …").

    Returns the new history (the question and the answer's HTML appended), the
    answer as a JSON-able dict (``Answer.to_dict()`` plus the ``request`` that
    was run) and ``""`` to clear the question box.

    Nothing is raised. Bad input (an empty or overlong question, a malformed
    date) is answered in the chat by a message saying what was wrong and what
    to do, logged as one warning line; the dict is then ``{"error": message,
    "request": ...}`` and the question stays in its box, to be fixed and sent
    again. An unexpected failure is logged with its traceback and the chat
    says briefly that it happened.
    """
    messages = list(history or [])
    shown = str(question or "").strip()
    keep = str(question) if shown else ""  # left in the box, to fix and send again
    request: dict[str, Any] | None = None
    try:
        request = ask_request(question, k, sources, since, until, hybrid, hints)
        index = rag.get_index(index_dir)
        turn = previous_turn(messages)
        config = config_for(index, hybrid=request["hybrid"], hints=request["hints"],
                            max_quotes=max_quotes)
        answer = rag.ask(
            question, k=request["k"], index=index, sources=request["sources"],
            since=request["since"], until=request["until"], config=config,
            history=[turn] if turn else None,
        )
    except (RagError, ValueError) as exc:  # QuestionError is a ValueError
        message = user_message(exc)
        log.warning("chat: %s", message)
        return (_error_reply(messages, shown, message), {"error": message, "request": request},
                keep)
    except Exception:
        log.exception("chat: unexpected error answering %r", shown[:200])
        return (_error_reply(messages, shown, UNEXPECTED_TEXT),
                {"error": UNEXPECTED_TEXT, "request": request}, keep)
    messages.append({"role": "user", "content": render_question(answer.question)})
    resolved = render_resolved(answer.resolved_question) if answer.resolved_question else ""
    messages.append({"role": "assistant",
                     "content": resolved + render_answer(answer, index)
                     + turn_marker(answer, request, config.max_quotes)})
    data = answer.to_dict()
    data["request"] = request
    return messages, data, ""


#: Said when "Show more quotes" has no answer to add to (the last message is not one).
NO_ANSWER_TO_ADD_TO = ("“Show more quotes” adds quotes to the chat's last answer, and the "
                       "last message is not an answer: ask a question first.")


def more_quotes(history: History | None, *, index_dir: str | Path | None = None,
                ) -> tuple[History, dict[str, Any]]:
    """"Show more quotes": the chat's last answer asked again, as it was asked (the
    question as typed, with the turn before it, the same search options), with
    ``MORE_QUOTES_STEP`` more quotes allowed (at most ``MAX_QUOTES``); the new
    answer replaces the old one. When no more sentences match well enough (each
    quote must score near the best one), the answer says so.

    Returns the new history and the answer as in :func:`respond`. Nothing is
    raised: with no answer to add to, or when asking again fails, the chat
    says so below the answer, which is kept.
    """
    messages = list(history or [])
    turn = turn_of(messages[-1]) if messages else None
    asked = turn.get("asked") if turn else None
    request = asked.get("request") if isinstance(asked, dict) else None
    if (turn is None or not isinstance(asked, dict) or not isinstance(request, dict)
            or len(messages) < 2 or turn.get("abstained")):
        message = NO_ANSWER_TO_ADD_TO
        if turn is not None and turn.get("abstained"):
            message = "The articles don't answer the last question: there are no quotes to add."
        log.warning("chat: %s", message)
        return ([*messages, {"role": "assistant", "content": render_error(message)}],
                {"error": message, "request": request})
    shown = len(turn.get("citations") or [])
    try:
        allowed = int(asked.get("max_quotes") or Config().max_quotes)
    except (TypeError, ValueError):
        allowed = Config().max_quotes
    wanted = max(1, min(MAX_QUOTES, max(allowed, shown) + MORE_QUOTES_STEP))
    before = messages[:-2]
    new, data, _ = respond(str(asked.get("question") or ""), before, request.get("k"),
                           request.get("sources"), request.get("since"), request.get("until"),
                           bool(request.get("hybrid", True)), bool(request.get("hints", True)),
                           index_dir=index_dir, max_quotes=wanted)
    if "error" in data:  # the old answer stays; the chat says what went wrong
        return [*messages, new[-1]], data
    if len(data.get("citations") or []) <= shown:
        new[-1] = {**new[-1], "content": render_no_more() + new[-1]["content"]}
    return new, data


def more_button(history: History | None) -> Any:
    """The "Show more quotes" button, shown while the chat's last answer may have more."""
    return gr.Button(visible=can_show_more(history, MAX_QUOTES))


def _error_reply(messages: History, question: str, message: str) -> History:
    """``messages`` with the question (if any) and the chat's reply ``message``."""
    if question:
        shown = question if len(question) <= MAX_SHOWN_QUESTION else (
            question[:MAX_SHOWN_QUESTION] + "…")
        messages.append({"role": "user", "content": render_question(shown)})
    messages.append({"role": "assistant", "content": render_error(message)})
    return messages


def add_articles(
    files: Sequence[str | Path] | None,
    index_dir: str | Path,
    progress: Callable[..., Any] | None = None,
) -> list[dict[str, Any]]:
    """Index uploaded files into the index at ``index_dir``: one result per file
    (``file``, ``status``: added/duplicate/rejected, ``articles``, ``reason``);
    none for no files. ``progress(fraction, desc=...)`` is called as the build
    goes (``gr.Progress`` fits). Nothing is raised: rejected files are logged as
    one warning line, an unexpected failure with its traceback (every file is
    then reported rejected, saying so)."""
    if not files:
        log.warning("upload: %s", upload_message([]))
        return []

    def on_stage(name: str, fraction: float) -> None:
        if progress is not None:
            progress(fraction, desc=f"{name}…")

    if progress is not None:
        progress(0.0, desc="checking files…")
    try:
        rows = [r.to_dict() for r in add_uploads(index_dir, files, on_stage=on_stage)]
    except Exception:
        log.exception("upload: unexpected error adding %d file(s)", len(files))
        return [{"file": Path(str(f)).name, "status": "rejected", "articles": 0,
                 "reason": "an error in the program stopped the upload (it is logged on the "
                           "server); try again"} for f in files]
    if any(r["status"] == "rejected" for r in rows):
        log.warning("upload: %s", upload_message(rows))
    return rows


def _files(rows: Sequence[dict[str, Any]]) -> str:
    return f"{len(rows)} file{'s' if len(rows) != 1 else ''}"


def upload_message(results: Sequence[dict[str, Any]]) -> str:
    """What the chat says about an upload (``add_articles``' results): what was
    added, and for each file that was not, why and what to do."""
    if not results:
        return ("No file was chosen. Choose one or more article files "
                f"({', '.join(UPLOAD_SUFFIXES)}) under “Add articles”, then press "
                "“Add to the index”.")
    by = {s: [r for r in results if r.get("status") == s] for s in ("added", "duplicate",
                                                                       "rejected")}
    said = []
    if by["added"]:
        n = sum(int(r.get("articles") or 0) for r in by["added"])
        said.append(f"Added {_files(by['added'])} ({n} article{'s' if n != 1 else ''}): "
                    "they are searchable now.")
    if by["duplicate"]:
        said.append(f"{_files(by['duplicate'])} already in the index (same text): "
                    + ", ".join(str(r.get("file")) for r in by["duplicate"]) + ".")
    if by["rejected"]:
        said.append(f"Could not add {_files(by['rejected'])}: "
                    + "; ".join(f"{r.get('file')}: {r.get('reason')}" for r in by["rejected"])
                    + ". Fix the file and add it again.")
    return " ".join(said)


def upload_reply(history: History | None, results: object) -> History:
    """``history`` with the chat's message about an upload appended (an error
    message when a file was rejected or none was chosen)."""
    rows = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
    text = upload_message(rows)
    problem = not rows or any(r.get("status") == "rejected" for r in rows)
    return [*(history or []), {"role": "assistant",
                               "content": render_error(text) if problem else render_notice(text)}]


def example_questions(index: Index) -> list[str]:
    """Questions to suggest on the empty chat: curated ones for the bundled
    articles, otherwise ones built from the index's article titles."""
    from rag.articles import bundled_corpus_dir
    from rag.records import Article

    bundled = {
        Article.make_id(p.read_text(encoding="utf-8"))
        for p in sorted(bundled_corpus_dir().glob("*.txt"))
    }
    if any(i in index.articles for i in bundled):
        return list(BUNDLED_EXAMPLES)
    # The first titled articles: a large index reads its records on demand.
    titles = [a.title for a in itertools.islice(index.article_list, 100) if a.title][:3]
    return [f"What does the article “{t[:80]}” report?" for t in titles]


def warm_up(index: Index) -> None:
    """Load the embedding model and BM25 now, so the first question is quick."""
    index.embedder().encode_query("warm up")
    index.bm25()


# ---------------------------------------------------------------- the Gradio app


def build_app(index_dir: str | Path | None = None, *, warm: bool = True) -> gr.Blocks:
    """The chat app for the index at ``index_dir`` (None: the bundled articles).

    Launch it with :func:`launch_app` (which adds the CSS and the upload limit).
    """
    root = resolve_index_dir(index_dir)
    index = rag.get_index(root)
    if warm:
        warm_up(index)
    examples: list[Any] = [{"text": q} for q in example_questions(index)]

    def current_sources() -> list[str]:
        return rag.get_index(root).sources()

    def on_ask(question: str, history: History | None, k: object,
               sources: list[str] | None, since: str, until: str,
               hybrid: bool, hints: bool) -> tuple[History, dict[str, Any], str]:
        return respond(question, history, k, sources, since, until, hybrid, hints,
                       index_dir=root)

    def on_example(evt: gr.SelectData, history: History | None, k: object,
                   sources: list[str] | None, since: str, until: str,
                   hybrid: bool, hints: bool) -> tuple[History, dict[str, Any], str]:
        value = evt.value if isinstance(evt.value, dict) else {}
        return respond(str(value.get("text") or ""), history, k, sources, since, until, hybrid,
                       hints, index_dir=root)

    def on_more(history: History | None) -> tuple[History, dict[str, Any]]:
        return more_quotes(history, index_dir=root)

    def on_add(files: list[str] | None, progress: gr.Progress = _PROGRESS) -> tuple[
            str, list[dict[str, Any]], str, Any, None]:
        results = add_articles(files, root, progress)
        fresh = rag.get_index(root)
        return (render_uploads(results), results, render_info(fresh.info(), root),
                gr.Dropdown(choices=fresh.sources()), None)

    def on_load() -> tuple[str, Any]:
        fresh = rag.get_index(root)
        return render_info(fresh.info(), root), gr.Dropdown(choices=fresh.sources())

    with gr.Blocks(title="rag — cited answers from news articles",
                   analytics_enabled=False) as demo:
        gr.Markdown("## rag — answers from news articles, quoted and cited")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat", elem_id="rag-chat", height=560,
                    placeholder=PLACEHOLDER, examples=examples or None,
                    latex_delimiters=[],  # "$" in financial news is not LaTeX
                    feedback_options=None, buttons=["copy_all"],
                    # Answers are long (evidence cards): rather than jumping to the
                    # bottom, SCROLL_TO_QUESTION shows the newest question.
                    autoscroll=False,
                )
                # Under the latest answer while it may have more quotes than it shows.
                more = gr.Button("Show more quotes", visible=False,
                                 size="sm", variant="secondary", elem_id="rag-more")
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question about the articles…", show_label=False,
                        scale=5, elem_id="rag-question", max_lines=4,
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=0, min_width=90,
                                           elem_id="rag-ask")
            with gr.Column(scale=2):
                with gr.Accordion("Search options", open=False):
                    k = gr.Slider(1, MAX_K, value=Config().k, step=1,
                                  label="Passages to read (k)")
                    sources = gr.Dropdown(
                        choices=current_sources(), value=[], multiselect=True,
                        label="Outlets", info="None selected: every outlet.",
                    )
                    with gr.Row():
                        since = gr.Textbox("", label="Published since",
                                           placeholder="YYYY-MM-DD", elem_id="rag-since")
                        until = gr.Textbox("", label="Published until",
                                           placeholder="YYYY-MM-DD", elem_id="rag-until")
                    gr.Markdown("A date filter leaves out articles with no date.",
                                elem_classes="rag-note")
                    hybrid = gr.Checkbox(value=Config().hybrid,
                                         label="Hybrid retrieval (keywords + meaning)")
                    hints = gr.Checkbox(value=Config().hints,
                                        label="Use outlets and dates named in the question")
                with gr.Accordion("Add articles", open=False):
                    files = gr.File(
                        file_count="multiple", file_types=list(UPLOAD_SUFFIXES),
                        elem_id="rag-files",
                        label=f"Article files ({', '.join(UPLOAD_SUFFIXES)}; "
                              f"up to {MAX_UPLOAD_BYTES // 2**20} MB each)",
                    )
                    gr.Markdown(
                        "Give outlet, title and date with YAML front matter in `.md` "
                        "(`title:`, `source:`, `published:`, `url:`) or as fields of "
                        "`.json`/`.jsonl` records.", elem_classes="rag-note")
                    add_button = gr.Button("Add to the index", elem_id="rag-add")
                    table = gr.HTML("", elem_id="rag-upload-results")
                    # The same results as data, for API callers (not shown).
                    table_data = gr.JSON(visible=False, label="Upload results")
                with gr.Accordion("This index", open=True):
                    info = gr.HTML(render_info(index.info(), root))
                with gr.Accordion("Last answer as JSON", open=False):
                    answer_json = gr.JSON(label="Answer")

        controls = [k, sources, since, until, hybrid, hints]
        ask_outputs = [chatbot, answer_json, question]

        def then_show(event: Any) -> None:
            """After ``event`` changed the chat: the "Show more quotes" button shown or
            hidden for its last message, and the newest question brought into view."""
            event.then(None, js=SCROLL_TO_QUESTION)
            event.then(more_button, [chatbot], [more], api_visibility="private",
                       show_progress="hidden")

        then_show(ask_button.click(on_ask, [question, chatbot, *controls], ask_outputs,
                                   api_name="ask"))
        then_show(question.submit(on_ask, [question, chatbot, *controls], ask_outputs,
                                  api_visibility="private"))
        then_show(chatbot.example_select(on_example, [chatbot, *controls], ask_outputs,
                                         api_visibility="private"))
        then_show(more.click(on_more, [chatbot], [chatbot, answer_json], api_name="more"))
        # The chat says what the upload did (and what to do about a rejected file).
        then_show(add_button.click(on_add, [files], [table, table_data, info, sources, files],
                                   api_name="add", concurrency_limit=1, show_progress_on=[table]
                                   ).then(upload_reply, [chatbot, table_data], [chatbot],
                                          api_visibility="private"))
        # A page opened after an upload sees the new outlets and counts.
        demo.load(on_load, None, [info, sources], api_visibility="private")
    return demo


def launch_app(
    demo: gr.Blocks,
    *,
    host: str = DEFAULT_HOST,
    port: int | None = DEFAULT_PORT,
    auth: tuple[str, str] | None = None,
    quiet: bool = True,
) -> str:
    """Start ``demo`` in a background thread (never shared publicly); returns its URL.

    Call ``demo.block_thread()`` to keep serving, ``demo.close()`` to stop.
    """
    _, url, _ = demo.launch(
        server_name=host, server_port=port, auth=auth, share=False,
        prevent_thread_lock=True, quiet=quiet, show_error=True, css=CSS,
        theme=gr.themes.Default(primary_hue="blue"),
        max_file_size=MAX_UPLOAD_BYTES, ssr_mode=False, mcp_server=False, pwa=False,
        enable_monitoring=False, footer_links=["api"],
    )
    return str(url)


# ---------------------------------------------------------------- rag serve


def _parse_auth(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise RagError("--auth must be USER:PASS, both non-empty")
    return user, password


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rag serve``."""
    parser.add_argument("--index", metavar="DIR",
                        help="index folder (default: the bundled articles' index)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--auth", metavar="USER:PASS",
                        help="require this user name and password (also $RAG_AUTH)")


def serve_main(args: argparse.Namespace) -> int:
    """Run ``rag serve``: start the app, print its URL, serve until interrupted."""
    # One line per user error in the server's output, with where it comes from.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    auth = _parse_auth(args.auth or os.environ.get("RAG_AUTH") or None)
    if not 1 <= args.port <= 65535:
        raise RagError(f"--port must be between 1 and 65535, got {args.port}")
    if args.index is None:
        where = rag.default_index_dir()
        first = "" if (where / "CURRENT").is_file() else " (building it now: about a minute)"
        print(f"using the bundled articles' index at {where}{first}", file=sys.stderr)
    started = time.perf_counter()
    demo = build_app(args.index)
    try:
        url = launch_app(demo, host=args.host, port=args.port, auth=auth)
    except OSError as exc:
        raise RagError(f"cannot listen on {args.host}:{args.port} ({exc}); "
                       "choose another --port") from exc
    if not _is_loopback(args.host) and auth is None:
        print(f"warning: listening on {args.host} without --auth: anyone who can reach "
              "this machine can use the chat and add articles", file=sys.stderr)
    print(f"rag chat ready in {time.perf_counter() - started:.1f}s at {url}", flush=True)
    print("press Ctrl+C to stop", file=sys.stderr)
    try:
        demo.block_thread()
    finally:
        demo.close()
    return 0
