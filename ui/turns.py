"""The chat's answered turns, carried in its messages.

Each answer's chat message ends with a hidden element (:func:`turn_marker`) that
holds what the next question needs of it: the question as answered, the
answer's text and quotes (for a follow-up such as "Who said that?"), and how it
was asked (the question as typed, the search options, the number of quotes),
so that "Show more quotes" can ask it again with more. The browser sends the chat's
messages back with each event, so the server keeps no state per user.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from rag.records import Answer

History = list[dict[str, Any]]

#: The hidden element of an answer's chat message that carries its turn.
_TURN = re.compile(r'<span class="rag-turn" hidden data-turn="([^"]*)"></span>')


def turn_marker(answer: Answer, request: dict[str, Any] | None = None,
                max_quotes: int | None = None) -> str:
    """The hidden element that lets the next question lean on ``answer``, and
    "Show more quotes" ask it again: ``request`` is the search options it was asked
    with (:func:`ui.app.ask_request`), ``max_quotes`` the most quotes it could have."""
    turn: dict[str, Any] = {
        "question": answer.resolved_question or answer.question, "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [{"quote": c.quote} for c in answer.citations]}
    if request is not None and max_quotes is not None:
        turn["asked"] = {"question": answer.question, "request": request,
                         "max_quotes": max_quotes}
    return (f'<span class="rag-turn" hidden data-turn="'
            f'{html.escape(json.dumps(turn, ensure_ascii=False), quote=True)}"></span>')


def _content_text(message: object) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # Gradio may hand text back as parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def turn_of(message: object) -> dict[str, Any] | None:
    """The turn an answer's chat message carries (its :func:`turn_marker`), or None
    for any other message."""
    if not (isinstance(message, dict) and message.get("role") == "assistant"):
        return None
    found = _TURN.search(_content_text(message))
    if not found:
        return None
    try:
        turn = json.loads(html.unescape(found.group(1)))
    except ValueError:
        return None
    return turn if isinstance(turn, dict) else None


def previous_turn(history: History | None) -> dict[str, Any] | None:
    """The chat's last answered turn (from its answer's :func:`turn_marker`), or None."""
    for message in reversed(history or []):
        turn = turn_of(message)
        if turn is not None:
            return turn
    return None


def can_show_more(history: History | None, most: int) -> bool:
    """Whether the chat's last message is an answer that "Show more quotes" can add to:
    it has as many quotes as it was allowed (so more may match), fewer than ``most``."""
    turn = turn_of(history[-1]) if history else None
    asked = turn.get("asked") if turn else None
    if not isinstance(asked, dict) or turn is None or turn.get("abstained"):
        return False
    allowed = asked.get("max_quotes")
    shown = len(turn.get("citations") or [])
    return isinstance(allowed, int) and shown >= allowed and allowed < most
