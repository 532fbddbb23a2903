"""Shared helpers for the chat's tests: one temporary index, one running app.

The index holds the bundled articles plus one extra article whose text and
metadata contain HTML (``<script>alert(1)</script>``, ``<b>bold</b>``), to
check that the chat shows such text as text. It is built once per test
session (about 15 s) however many test modules ask for it.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

EXPORTS_QUESTION = "By how much did Chinese exports to North Korea rise in September?"
EXPORTS_FACT = "30.75%"
SCRIPT = "<script>alert(1)</script>"
BOLD = "<b>bold</b>"
SPICE_QUESTION = "How much did clove prices rise in Zanzibar in March?"
SPICE_QUOTE = (
    f"Clove prices in Zanzibar rose by 17 percent in March {SCRIPT} according to the "
    "island's spice board."
)
EXTRA_ARTICLE = f"""---
title: "Zanzibar clove <b>prices</b> climb"
source: "Island <i>Spice</i> Times"
published: 2024-03-28
url: "https://example.org/cloves?a=1&b=<2>"
---
STONE TOWN — {SPICE_QUOTE}
Farmers said the {BOLD} harvest was smaller than usual after long rains.
Exporters <img src=x onerror="alert(2)"> expect shipments to India to resume in May.
The board said it would publish new auction rules next month.
"""

_LOCK = threading.Lock()
_BUILT: dict[str, Path] = {}


def write_extra_article(folder: Path) -> Path:
    """Write the HTML-laden extra article (Markdown with front matter) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zanzibar_cloves.md"
    path.write_text(EXTRA_ARTICLE, encoding="utf-8")
    return path


def shared_index_dir(factory: pytest.TempPathFactory) -> Path:
    """The session's test index (bundled articles + the extra one), built once."""
    import rag

    with _LOCK:
        if "index" not in _BUILT:
            base = factory.mktemp("ui-index")
            extra = write_extra_article(base / "extra")
            rag.build_index([rag.bundled_corpus_dir(), extra], base / "index", progress=False)
            _BUILT["index"] = base / "index"
        return _BUILT["index"]


def copy_index(source: Path, target: Path) -> Path:
    """A private copy of an index, for tests that add articles to it."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock"))
    return target


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def ui_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of the session's test index."""
    return shared_index_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def running_app(ui_index: Path) -> Iterator[tuple[str, Any]]:
    """The chat app over the test index, served on 127.0.0.1: (url, blocks)."""
    from ui.app import build_app, launch_app

    demo = build_app(ui_index)
    url = launch_app(demo, host="127.0.0.1", port=free_port())
    try:
        yield url, demo
    finally:
        demo.close()
