"""Make docs/screenshot.png: the chat answering a question, in headless Chromium.

    python -m ui.screenshot [--index DIR] [--question Q] [--out docs/screenshot.png]

Needs Debian's ``chromium`` (``apt-get install chromium``) and the playwright
Python package; Playwright's own browser download is not used. The PNG is
reduced to a palette of colours so it stays small (under 300 KB).
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import sys
from pathlib import Path

CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DEFAULT_QUESTION = "By how much did Chinese exports to North Korea rise in September?"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"
MAX_BYTES = 300_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shrink_png(data: bytes, limit: int = MAX_BYTES) -> bytes:
    """``data`` (a PNG) re-encoded with an adaptive palette, as small as needed."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    best = data
    for colors in (256, 128, 64, 32):
        out = io.BytesIO()
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
                       ).save(out, format="PNG", optimize=True)
        best = out.getvalue()
        if len(best) < limit:
            break
    return best


def take(url: str, question: str, out: Path, *, open_card: bool = False) -> Path:
    """Ask ``question`` in the chat at ``url`` and save a screenshot to ``out``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(url, wait_until="networkidle")
            box = page.locator("#rag-question textarea")
            box.fill(question)
            box.press("Enter")
            page.locator("#rag-chat .rag-card mark").first.wait_for(timeout=60_000)
            if open_card:
                page.locator("#rag-chat details.rag-full summary").first.click()
            # Let the chat scroll the new question into view (see SCROLL_TO_QUESTION).
            page.wait_for_timeout(800)
            png = page.screenshot(full_page=False)
        finally:
            browser.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(shrink_png(png))
    return out


def main(argv: list[str] | None = None) -> int:
    """Start the app on a free port, take the screenshot, stop the app."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--index", metavar="DIR", help="index folder (default: bundled)")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: no Chromium at {CHROMIUM}; apt-get install chromium", file=sys.stderr)
        return 2

    from ui.app import build_app, launch_app

    demo = build_app(args.index)
    url = launch_app(demo, port=free_port())
    try:
        out = take(url, args.question, args.out)
    finally:
        demo.close()
    print(f"wrote {out} ({out.stat().st_size / 1000:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
