"""HTML for the chat: answers, evidence cards, abstentions and the index panel.

An answer shows one card per story: every quote from an article is marked in
one short context, and an article that several outlets ran (near-identical
text) is one card that says where else it "also ran". Cards show the article as
cleaned (no image markup, breadcrumbs or share buttons), at the offsets of the
stored text, and the opened article scrolls in a box of its own.

Plain functions, no Gradio: they are unit-tested without a browser.

Every piece of article text, metadata and question is passed through
``html.escape`` before it is put into HTML, so an article containing
``<script>`` shows that text instead of running it. The HTML produced here
contains no newline at all: the chat renders messages as Markdown, and a
Markdown HTML block ends at a blank line, after which article text would be
parsed as Markdown. Newlines of the article become ``<br>``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from rag.clean import kept_blocks
from rag.records import Answer, Article, Citation, Hit

#: Characters of surrounding text shown on each side of a quote in a card: a short
#: context, so that an answer of three quotes fits one screen.
CONTEXT_CHARS = 100
#: ... but at least this many when a card holds several quotes.
MIN_CONTEXT_CHARS = 60
#: Runs of line breaks and blank (or non-breaking-space) lines in shown HTML.
_BLANK_LINES = re.compile(r"<br>(?:[\s\xa0]*<br>)+")
#: The opened article scrolls inside a box this tall (px), never stretching the chat.
ARTICLE_BOX_PX = 220
#: Two cited articles are copies of one story (syndicated by several outlets)
#: when this share of their word triples is the same.
SYNDICATED_OVERLAP = 0.8
#: Longer articles are shown as a window around the quote when opened, so one
#: huge upload cannot make every answer that cites it megabytes of HTML.
MAX_ARTICLE_CHARS = 60_000
#: Closest passages shown when the articles do not answer the question.
MAX_CLOSEST = 3
#: Characters of a closest passage shown before its card is opened.
PASSAGE_PREVIEW_CHARS = 500

# A sentence ends with . ! ? or … (maybe followed by closing quotes or brackets)
# and then white space; a blank line ends one too. A single line break does
# not: many articles are hard-wrapped in mid-sentence.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)|\n[ \t]*\n")
_MARKER = re.compile(r"\[(\d+)\]")


def esc(value: object) -> str:
    """``value`` as HTML text: escaped (quotes too), line breaks as ``<br>``."""
    text = html.escape(str(value), quote=True)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def safe_url(url: str | None) -> str | None:
    """``url`` if it is a plain http(s) link, else None (no ``javascript:`` links)."""
    if not url:
        return None
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme.lower() not in {"http", "https"} or not parsed.netloc:
        return None
    return url


def context_span(text: str, start: int, end: int, radius: int = CONTEXT_CHARS) -> tuple[int, int]:
    """The span around ``text[start:end]`` to show with it: about ``radius`` characters
    each side, trimmed to sentence boundaries when there is one (else to a word)."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    lo = max(0, start - radius)
    if lo > 0:
        # Begin after the first sentence end in the window, so the context opens
        # on a whole sentence; failing that, on a whole word.
        first = next(_SENTENCE_END.finditer(text, lo, start), None)
        if first is not None:
            lo = first.end()
        else:
            space = text.find(" ", lo, start)
            lo = space + 1 if space >= 0 else start
        while lo < start and text[lo].isspace():
            lo += 1
    hi = min(len(text), end + radius)
    if hi < len(text):
        ends = list(_SENTENCE_END.finditer(text, end, hi))
        if ends:
            last = ends[-1]
            hi = last.start() if last.group().startswith("\n") else last.end()
        else:
            space = text.rfind(" ", end, hi)
            hi = space if space >= 0 else end
        while hi > end and text[hi - 1].isspace():
            hi -= 1
    return lo, hi


def highlight(text: str, start: int, end: int, lo: int = 0, hi: int | None = None,
              mark_class: str = "") -> str:
    """``text[lo:hi]`` as escaped HTML with exactly ``text[start:end]`` in ``<mark>``."""
    hi = len(text) if hi is None else hi
    start, end = max(lo, start), min(hi, end)
    attr = f' class="{esc(mark_class)}"' if mark_class else ""
    return (
        ("… " if lo > 0 else "")
        + esc(text[lo:start])
        + f"<mark{attr}>{esc(text[start:end])}</mark>"
        + esc(text[end:hi])
        + (" …" if hi < len(text) else "")
    )


def highlight_spans(text: str, spans: Sequence[tuple[int, int]], lo: int = 0,
                    hi: int | None = None, mark_class: str = "",
                    labels: dict[tuple[int, int], str] | None = None) -> str:
    """``text[lo:hi]`` as escaped HTML with each ``text[start:end]`` of ``spans`` in
    ``<mark>`` (clipped to the window; overlapping spans merged into one mark), each
    followed by its marker from ``labels`` ("[2]") when given."""
    hi = len(text) if hi is None else hi
    attr = f' class="{esc(mark_class)}"' if mark_class else ""
    out, cursor = [], lo
    for span in sorted(spans):
        start, end = max(span[0], cursor, lo), min(span[1], hi)
        if end <= start:
            continue
        label = (labels or {}).get(span)
        sup = f'<sup class="rag-ref">{esc(label)}</sup>' if label else ""
        out.append(esc(text[cursor:start]) + f"<mark{attr}>{esc(text[start:end])}</mark>{sup}")
        cursor = end
    out.append(esc(text[cursor:hi]))
    return "".join(out)


def _blocks(article: Article) -> list[tuple[int, int]]:
    """The spans of the article a reader is shown: its text less the lines cleaning
    dropped (image markup, breadcrumbs, share buttons ...), offsets unchanged."""
    return kept_blocks(article.text, article.dropped) or [(0, len(article.text))]


def _block_of(blocks: Sequence[tuple[int, int]], start: int, end: int,
              size: int) -> tuple[int, int]:
    """The kept block holding ``start:end`` (the whole text if none does)."""
    return next(((s, e) for s, e in blocks if s <= start and end <= e), (0, size))


def _context(article: Article, spans: Sequence[tuple[int, int]], mark_class: str = "",
             labels: dict[tuple[int, int], str] | None = None) -> str:
    """The quotes ``spans`` of ``article``, each in a few words of its surroundings
    within its cleaned block, as one stretch of escaped HTML: windows that touch
    are merged, others joined by " … "."""
    text = article.text
    blocks = _blocks(article)
    # The more quotes a card holds, the less of their surroundings each gets.
    radius = max(CONTEXT_CHARS // max(1, len(spans)), MIN_CONTEXT_CHARS)
    windows: list[list[int]] = []
    for start, end in sorted(spans):
        b_lo, b_hi = _block_of(blocks, start, end, len(text))
        lo, hi = context_span(text[:b_hi], max(start, b_lo), end, radius)
        lo = max(lo, b_lo)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    parts = [highlight_spans(text, spans, lo, hi, mark_class, labels) for lo, hi in windows]
    lead = "… " if windows and windows[0][0] > 0 else ""
    tail = " …" if windows and windows[-1][1] < len(text) else ""
    # Blank lines between paragraphs take a line each at most.
    return _BLANK_LINES.sub("<br>", lead + " … ".join(parts) + tail)


def _meta_line(item: Citation | Hit) -> str:
    """Outlet · date · link of a card: as the article states them, or "… not stated"."""
    parts = [f'<span class="rag-outlet">{esc(item.source_label)}</span>',
             f'<span class="rag-date">{esc(item.date_label)}</span>']
    link = safe_url(item.url)
    if link:
        parts.append(f'<a class="rag-link" href="{esc(link)}" target="_blank" '
                     f'rel="noopener noreferrer">{esc(link)}</a>')
    return '<div class="rag-meta">' + " · ".join(parts) + "</div>"


def _title(title: str | None, article: Article | None) -> str:
    """The card's title: the article's (stated, or the start of its first sentence);
    never a file name or an id."""
    if title:
        return title
    return article.label if article is not None else "title not stated"


def _whole_article(article: Article, spans: Sequence[tuple[int, int]], mark_class: str = "",
                   what: str = "quote") -> str:
    """The article in a ``<details>`` element with ``spans`` highlighted: its text less
    the lines cleaning dropped, in a box of at most ``ARTICLE_BOX_PX`` that scrolls."""
    text = article.text
    first = min(spans) if spans else (0, 0)
    lo, hi = 0, len(text)
    note = ""
    if len(text) > MAX_ARTICLE_CHARS:
        half = MAX_ARTICLE_CHARS // 2
        lo = max(0, min(first[0] - half, len(text) - MAX_ARTICLE_CHARS))
        hi = min(len(text), lo + MAX_ARTICLE_CHARS)
        note = (f'<div class="rag-note">The article has {len(text):,} characters; '
                f"characters {lo:,}–{hi:,} are shown.</div>")
    shown = [(max(s, lo), min(e, hi)) for s, e in _blocks(article) if s < hi and e > lo]
    body = "<br>".join(highlight_spans(text, spans, s, e, mark_class) for s, e in shown)
    where = ", ".join(f"{s:,}–{e:,}" for s, e in sorted(spans))
    plural = "s" if len(spans) > 1 else ""
    return (
        '<details class="rag-full"><summary>Read the whole article '
        f'<span class="rag-where">({what}{plural} at characters {where})</span></summary>'
        f'{note}<div class="rag-article" style="max-height:{ARTICLE_BOX_PX}px;'
        f'overflow-y:auto">{body}</div></details>'
    )


def _shingles(text: str) -> set[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text.casefold())
    return {tuple(tokens[i:i + 3]) for i in range(max(1, len(tokens) - 2))}


def syndicated(a: Article, b: Article) -> bool:
    """Whether ``a`` and ``b`` are copies of one story: at least
    ``SYNDICATED_OVERLAP`` of the word triples of the shorter one are in the other
    (an outlet's own headline, byline or footer aside)."""
    if a.id == b.id:
        return True
    sa, sb = _shingles(a.text), _shingles(b.text)
    if not sa or not sb:
        return False
    return len(sa & sb) / min(len(sa), len(sb)) >= SYNDICATED_OVERLAP


def group_citations(citations: Sequence[Citation], articles: dict[str, Article],
                    ) -> list[list[Citation]]:
    """The citations by story, in the order of their first marker: one group per
    article, an article that is a syndicated copy of an earlier one joining its group."""
    groups: list[list[Citation]] = []
    for c in citations:
        article = articles.get(c.article_id)
        for group in groups:
            first = articles.get(group[0].article_id)
            if group[0].article_id == c.article_id or (
                    article is not None and first is not None and syndicated(first, article)):
                group.append(c)
                break
        else:
            groups.append([c])
    return groups


def _also_ran(group: Sequence[Citation]) -> str:
    """"also ran in: Outlet · date; …" for the copies of a card's story."""
    seen: dict[str, Citation] = {}
    for c in group[1:]:
        if c.article_id != group[0].article_id:
            seen.setdefault(c.article_id, c)
    if not seen:
        return ""
    copies = "; ".join(f"{esc(c.source_label)} · {esc(c.date_label)}" for c in seen.values())
    return f'<div class="rag-also">also ran in: {copies}</div>'


def render_card(group: Sequence[Citation], articles: dict[str, Article]) -> str:
    """One evidence card for one story: every quote of it highlighted in a short
    context, with the outlet, date, title and link of the article first cited,
    the other outlets that ran a copy, and the whole article when opened."""
    first = group[0]
    article = articles.get(first.article_id)
    refs = "".join(f'<span class="rag-ref">[{c.n}]</span>' for c in group)
    head = (f'<div class="rag-card-head">{refs} '
            f'<span class="rag-title">{esc(_title(first.title, article))}</span></div>')
    spans: list[tuple[int, int]] = []
    loose: list[Citation] = []
    for c in group:
        if article is not None and article.text[c.start:c.end] == c.quote:
            spans.append((c.start, c.end))
        elif article is not None and c.article_id != article.id and c.quote in article.text:
            at = article.text.index(c.quote)  # a copy's quote, found in the story shown
            spans.append((at, at + len(c.quote)))
        else:
            # The index changed under the answer (an upload rebuilt it): the quote
            # is still exact, only its surroundings are unavailable.
            loose.append(c)
    # With several quotes in a card, each is followed by its marker.
    labels = ({span: f"[{c.n}]" for span, c in zip(spans, [c for c in group if c not in loose],
                                                     strict=True)} if len(group) > 1 else None)
    context = _context(article, spans, labels=labels) if article is not None and spans else ""
    context += " ".join(f"<mark>{esc(c.quote)}</mark>" for c in loose)
    full = _whole_article(article, spans) if article is not None and spans else ""
    numbers = " ".join(str(c.n) for c in group)
    return (f'<div class="rag-card" data-n="{numbers}">{head}{_meta_line(first)}'
            f'{_also_ran(group)}<blockquote class="rag-context">{context}</blockquote>'
            f"{full}</div>")


def render_citation(citation: Citation, article: Article | None) -> str:
    """The evidence card of a single citation (:func:`render_card`)."""
    return render_card([citation], {} if article is None else {article.id: article})


def render_passage(hit: Hit, article: Article | None) -> str:
    """A card for a retrieved passage that does *not* answer the question."""
    title = _title(hit.title, article)
    text = " ".join(hit.text.split())
    if len(text) > PASSAGE_PREVIEW_CHARS:
        cut = text.rfind(" ", 0, PASSAGE_PREVIEW_CHARS)
        text = text[: cut if cut > 0 else PASSAGE_PREVIEW_CHARS] + "…"
    full = ""
    if article is not None and article.text[hit.start:hit.end] == hit.text:
        full = _whole_article(article, [(hit.start, hit.end)], mark_class="rag-weak",
                              what="passage")
    return (
        '<div class="rag-card rag-not-answer">'
        '<div class="rag-card-head"><span class="rag-badge">does not answer</span> '
        f'<span class="rag-title">{esc(title)}</span></div>'
        f"{_meta_line(hit)}"
        f'<blockquote class="rag-context">{esc(text)}</blockquote>{full}</div>'
    )


def render_answer_text(answer: Answer) -> str:
    """The answer's text, escaped, with its ``[n]`` markers styled."""
    known = {c.n for c in answer.citations}

    def marker(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f'<sup class="rag-ref">[{n}]</sup>' if n in known else match.group(0)

    return _MARKER.sub(marker, esc(answer.text))


def render_answer(answer: Answer, index: Any) -> str:
    """The chat message for ``answer``: its text with ``[n]`` markers, then one
    evidence card per story (an article and its syndicated copies, every quote of
    it highlighted); or, for an abstention, a notice and the closest
    passages labelled as not answering the question.

    ``index`` is the loaded ``rag.Index`` the answer came from (for the article
    texts around the quotes); None shows the quotes alone.
    """
    articles: dict[str, Article] = getattr(index, "articles", None) or {}
    hints_html = ""
    if answer.hints:
        hints_html = ('<div class="rag-hints">Read from the question (to rank passages, '
                      "not to filter them): "
                      + "; ".join(esc(h) for h in answer.hints) + "</div>")
    if answer.abstained:
        reason = (f'<div class="rag-reason">Why: {esc(answer.reason)}</div>'
                  if answer.reason else "")
        closest = answer.hits[:MAX_CLOSEST]
        cards = "".join(render_passage(h, articles.get(h.article_id)) for h in closest)
        if closest:
            passages = ('<div class="rag-section">Closest passages — these do '
                        "<strong>not</strong> answer the question:</div>" + cards)
        else:
            passages = '<div class="rag-section">No passage matched (check the filters).</div>'
        return (
            '<div class="rag-answer rag-abstained">'
            '<div class="rag-abstain"><span class="rag-badge">no answer</span> '
            f"{esc(answer.text)}</div>{reason}{hints_html}{passages}</div>"
        )
    groups = group_citations(answer.citations, articles)
    cards = "".join(render_card(g, articles) for g in groups)
    n, k = len(answer.citations), len(groups)
    indirect = answer.confidence_label == "indirect"
    badge = '<span class="rag-badge rag-indirect">indirect</span> ' if indirect else ""
    why = (f'<div class="rag-reason">Why: {esc(answer.reason)}</div>'
           if indirect and answer.reason else "")
    return (
        f'<div class="rag-answer{" rag-answer-indirect" if indirect else ""}">'
        f'<div class="rag-answer-text">{badge}{render_answer_text(answer)}</div>{why}'
        f'{hints_html}'
        f'<div class="rag-section">Evidence ({n} quote{"s" if n != 1 else ""} from {k} '
        f'{"stories" if k != 1 else "story"}, verbatim from the articles):</div>'
        f"{cards}</div>"
    )


def render_question(question: str) -> str:
    """The user's question as a chat message: escaped, never rendered as HTML."""
    return f'<div class="rag-question">{esc(question)}</div>'


def render_resolved(question: str) -> str:
    """The question a follow-up was answered as, above its answer: "Answered as: …"."""
    return f'<div class="rag-resolved">Answered as: <q>{esc(question)}</q></div>'


#: Above an answer asked again for more quotes when none more match well enough.
NO_MORE_TEXT = ("No more quotes: these are all the sentences that match the question "
                "well enough.")


def render_no_more() -> str:
    """The note above an answer that "Show more quotes" could not add to."""
    return f'<div class="rag-no-more">{esc(NO_MORE_TEXT)}</div>'


def render_error(message: str) -> str:
    """The chat's reply when it cannot answer as asked (a bad date, an empty
    question, a rejected upload): ``message``, escaped, in plain words."""
    return f'<div class="rag-error">{esc(message)}</div>'


def render_notice(message: str) -> str:
    """A message of the chat that is not an answer (what an upload added), escaped."""
    return f'<div class="rag-notice">{esc(message)}</div>'


def _outlets(outlets: Sequence[str], most: int = 12) -> str:
    if not outlets:
        return "none stated"
    shown = ", ".join(outlets[:most])
    more = len(outlets) - most
    return f"{shown} and {more} more ({len(outlets)} in all)" if more > 0 else shown


def render_info(info: dict[str, Any], folder: object = None) -> str:
    """The index panel: articles, chunks, outlets, date span, model, build time
    (and ``folder``, the index folder, if given; else the build's own)."""
    span = info.get("date_span")
    outlets: Sequence[str] = info.get("outlets") or []
    rows = [
        ("Articles", f"{info.get('articles', 0):,}"),
        ("Chunks", f"{info.get('chunks', 0):,}"),
        ("Outlets", _outlets(outlets)),
        ("Dates", f"{span[0]} to {span[1]}" if span else "no article is dated"),
        ("Model", info.get("model") or "?"),
        ("Built", info.get("built_at") or "?"),
        ("Folder", str(folder or info.get("path") or "?")),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="rag-info">{body}</table>'


def render_uploads(results: Sequence[dict[str, Any]]) -> str:
    """The per-file result table of an upload (file, status, reason), escaped."""
    if not results:
        return ""
    rows = []
    for r in results:
        status = str(r.get("status", ""))
        n = int(r.get("articles") or 0)
        label = f"added ({n} article{'s' if n != 1 else ''})" if status == "added" else status
        rows.append(
            f'<tr class="rag-up-{esc(status)}"><td>{esc(r.get("file", ""))}</td>'
            f'<td class="rag-up-status">{esc(label)}</td><td>{esc(r.get("reason", ""))}</td></tr>'
        )
    counts = {s: sum(1 for r in results if r.get("status") == s)
              for s in ("added", "duplicate", "rejected")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return (f'<div class="rag-uploads"><div class="rag-note">{esc(summary)}</div>'
            '<table><tr><th>File</th><th>Result</th><th>Reason</th></tr>'
            + "".join(rows) + "</table></div>")


CSS = """
.rag-answer-text { font-size: 1.02em; line-height: 1.55; }
.rag-ref { color: #1d4ed8; font-weight: 600; margin-left: 1px; }
.rag-section { margin: 12px 0 6px; font-size: 0.9em; color: #555; }
.rag-card { border: 1px solid #d8dde6; border-left: 4px solid #2563eb; border-radius: 6px;
            padding: 8px 12px; margin: 8px 0; background: #fbfcfe; color: #1f2937; }
.rag-card.rag-not-answer { border-left-color: #9ca3af; background: #f7f7f7; }
.rag-card-head { font-weight: 600; font-size: 0.95em; }
.rag-meta { font-size: 0.85em; color: #555; margin: 2px 0 4px; word-break: break-all; }
.rag-context { margin: 6px 0; padding: 4px 10px; border-left: 2px solid #e5e7eb;
               font-size: 0.93em; line-height: 1.5; color: #333; }
.rag-answer mark { background: #fde68a; color: inherit; padding: 0 1px; }
.rag-answer mark.rag-weak { background: #e5e7eb; }
.rag-full summary { cursor: pointer; color: #1d4ed8; font-size: 0.88em; }
.rag-where { color: #777; }
.rag-article { max-height: 220px; overflow-y: auto; font-size: 0.9em; line-height: 1.5;
               padding: 6px 10px; border: 1px solid #eee; background: #fff; margin-top: 4px; }
.rag-also { font-size: 0.82em; color: #555; margin: 0 0 4px; }
.rag-card-head .rag-ref { margin-right: 2px; }
.rag-badge.rag-indirect { background: #fef3c7; color: #92400e; }
.rag-badge { display: inline-block; font-size: 0.75em; text-transform: uppercase;
             letter-spacing: 0.04em; padding: 1px 6px; border-radius: 4px;
             background: #e5e7eb; color: #374151; margin-right: 4px; }
.rag-abstain { font-weight: 600; }
.rag-abstained .rag-abstain .rag-badge { background: #fee2e2; color: #991b1b; }
.rag-error { border-left: 4px solid #dc2626; padding: 4px 10px; }
.rag-notice { border-left: 4px solid #16a34a; padding: 4px 10px; }
.rag-note { font-size: 0.82em; color: #777; }
.rag-reason { font-size: 0.85em; color: #6b7280; margin: 6px 0 0; }
.rag-resolved, .rag-no-more { font-size: 0.88em; color: #4b5563; margin: 0 0 6px; }
.rag-hints { font-size: 0.85em; color: #6b7280; margin: 6px 0 0; font-style: italic; }
table.rag-info { border: none; margin: 0; font-size: 0.88em; width: 100%; }
table.rag-info th, table.rag-info td { border: none; padding: 2px 6px; font-size: inherit;
                                       vertical-align: top; background: none; }
table.rag-info th { text-align: left; font-weight: 600; white-space: nowrap; }
table.rag-info td { word-break: break-word; }
#rag-ask { align-self: stretch; }
.rag-uploads table { width: 100%; font-size: 0.85em; border-collapse: collapse; margin: 0;
                     table-layout: fixed; border: none; }
.rag-uploads th, .rag-uploads td { padding: 3px 6px; border: none; font-size: inherit;
                                   border-bottom: 1px solid #e5e7eb; vertical-align: top;
                                   text-align: left; background: none;
                                   overflow-wrap: anywhere; }
.rag-uploads th:nth-child(1) { width: 34%; }
.rag-uploads th:nth-child(2) { width: 24%; }
.rag-up-added .rag-up-status { color: #15803d; font-weight: 600; }
.rag-up-duplicate .rag-up-status { color: #92400e; }
.rag-up-rejected .rag-up-status { color: #b91c1c; font-weight: 600; }
"""
