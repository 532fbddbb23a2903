"""The chat in a browser: ``rag serve`` starts this Gradio app.

The logic lives in plain functions (:func:`respond`, :func:`add_articles`, the
renderers in :mod:`ui.render`) so it is tested without a browser;
:func:`build_app` only wires them to Gradio components. The chat handler is
exposed as the API endpoint ``/ask``: ``gradio_client`` callers get the chat
history, the answer as JSON, and an empty question box back.
"""

from __future__ import annotations

import argparse
import ipaddress
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
from rag.config import Config
from rag.errors import RagError
from rag.index import Index

from .render import CSS, render_answer, render_info, render_question, render_uploads
from .uploads import MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES, add_uploads

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_K = 30

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

History = list[dict[str, Any]]

# Browser-side: bring the newest question (and the start of its answer) into view.
SCROLL_TO_QUESTION = """() => { setTimeout(() => {
  const asked = document.querySelectorAll('#rag-chat .rag-question');
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


def config_for(index: Index, *, hybrid: bool = True, hints: bool = True) -> Config:
    """A Config matching the index's build settings, with question-time options set."""
    settings = {**Config().build_settings(), **index.manifest.get("settings", {})}
    return Config.from_dict({**settings, "hybrid": bool(hybrid), "hints": bool(hints)})


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
        raise gr.Error(f"the number of passages must be a whole number, got {k!r}") from None
    if value != int(value) or not 1 <= value <= MAX_K:
        raise gr.Error(f"the number of passages must be a whole number from 1 to {MAX_K}")
    return int(value)


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
        "since": _blank_to_none(since),
        "until": _blank_to_none(until),
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
) -> tuple[History, dict[str, Any], str]:
    """Answer ``question`` in the chat.

    Returns the new history (the question and the answer's HTML appended), the
    answer as a JSON-able dict (``Answer.to_dict()`` plus the ``request`` that
    was run) and ``""`` to clear the question box. Bad input (an empty question,
    a malformed date) raises ``gr.Error`` with a message for the user.
    """
    request = ask_request(question, k, sources, since, until, hybrid, hints)
    try:
        index = rag.get_index(index_dir)
        answer = rag.ask(
            question, k=request["k"], index=index, sources=request["sources"],
            since=request["since"], until=request["until"],
            config=config_for(index, hybrid=request["hybrid"], hints=request["hints"]),
        )
    except (RagError, ValueError) as exc:  # QuestionError is a ValueError
        raise gr.Error(str(exc)) from exc
    messages = list(history or [])
    messages.append({"role": "user", "content": render_question(answer.question)})
    messages.append({"role": "assistant", "content": render_answer(answer, index)})
    data = answer.to_dict()
    data["request"] = request
    return messages, data, ""


def add_articles(
    files: Sequence[str | Path] | None,
    index_dir: str | Path,
    progress: Callable[..., Any] | None = None,
) -> list[dict[str, Any]]:
    """Index uploaded files into the index at ``index_dir``: one result per file
    (``file``, ``status``: added/duplicate/rejected, ``articles``, ``reason``).
    ``progress(fraction, desc=...)`` is called as the build goes (``gr.Progress`` fits)."""
    if not files:
        raise gr.Error("choose one or more article files first")

    def on_stage(name: str, fraction: float) -> None:
        if progress is not None:
            progress(fraction, desc=f"{name}…")

    if progress is not None:
        progress(0.0, desc="checking files…")
    results = add_uploads(index_dir, files, on_stage=on_stage)
    return [r.to_dict() for r in results]


def example_questions(index: Index) -> list[str]:
    """Questions to suggest on the empty chat: curated ones for the bundled
    articles, otherwise ones built from the index's article titles."""
    from rag.articles import bundled_corpus_dir
    from rag.records import Article

    bundled = {
        Article.make_id(p.read_text(encoding="utf-8"))
        for p in sorted(bundled_corpus_dir().glob("*.txt"))
    }
    if bundled & set(index.articles):
        return list(BUNDLED_EXAMPLES)
    titles = [a.title for a in index.article_list if a.title][:3]
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

    def on_add(files: list[str] | None, progress: gr.Progress = _PROGRESS) -> tuple[
            str, list[dict[str, Any]], str, Any, None]:
        results = add_articles(files, root, progress)
        added = sum(1 for r in results if r["status"] == "added")
        if added:
            gr.Info(f"{added} file(s) added; they are searchable now")
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
                                           placeholder="YYYY-MM-DD")
                        until = gr.Textbox("", label="Published until",
                                           placeholder="YYYY-MM-DD")
                    gr.Markdown("A date filter leaves out articles with no date.",
                                elem_classes="rag-note")
                    hybrid = gr.Checkbox(value=Config().hybrid,
                                         label="Hybrid retrieval (keywords + meaning)")
                    hints = gr.Checkbox(value=Config().hints,
                                        label="Use outlets and dates named in the question")
                with gr.Accordion("Add articles", open=False):
                    files = gr.File(
                        file_count="multiple", file_types=list(UPLOAD_SUFFIXES),
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
        ask_button.click(on_ask, [question, chatbot, *controls], ask_outputs, api_name="ask"
                         ).then(None, js=SCROLL_TO_QUESTION)
        question.submit(on_ask, [question, chatbot, *controls], ask_outputs,
                        api_visibility="private").then(None, js=SCROLL_TO_QUESTION)
        chatbot.example_select(on_example, [chatbot, *controls], ask_outputs,
                               api_visibility="private").then(None, js=SCROLL_TO_QUESTION)
        add_button.click(on_add, [files], [table, table_data, info, sources, files],
                         api_name="add", concurrency_limit=1, show_progress_on=[table])
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
