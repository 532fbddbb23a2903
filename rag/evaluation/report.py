"""Write an evaluation run's ``report.md``, ``results.json`` and PNG plots.

The markdown is meant for anyone: a header saying when, on what machine, with
which package version, model and settings, then plain tables. The compact table
printed at the end of a run is included verbatim, so the report shows exactly
what the run printed. Plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .followup import followup_line, followup_markdown

__all__ = ["compact_table", "machine_info", "render_markdown", "run_info", "write_outputs"]


# --------------------------------------------------------------------------- facts


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (or ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Cores, CPU model, memory, OS and Python of this machine."""
    mem_gb: float | None = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except (OSError, ValueError):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        usable = os.cpu_count() or 0
    return {
        "cores": usable,
        "cpu_model": cpu_model(),
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def run_info() -> dict[str, Any]:
    """Date, machine and package version of a run (for the report header)."""
    from .cache import package_version

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "rag_version": package_version(),
    }


# --------------------------------------------------------------------------- formatting


def fmt(value: Any, digits: int = 4) -> str:
    """A number for a table: fixed decimals, ``n/a`` for None."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A fixed-width table for the terminal."""
    cells = [list(headers)] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, row in enumerate(cells):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


_RETRIEVAL_COLS = ("hits@4", "hits@10", "map@10", "mrr@10", "evidence_recall@10",
                   "all_evidence@10")
_RETRIEVAL_HEAD = ("Hits@4", "Hits@10", "MAP@10", "MRR@10", "EvRecall@10", "AllEv@10")


def _multihop_rows(results: dict[str, Any]) -> list[list[Any]]:
    ret = results["retrieval"]
    rows: list[list[Any]] = []
    for system, label in (("ours", "rag"), ("bm25", "BM25 only")):
        block = ret[system]
        for qtype, summary in [("all", block["overall"]), *block["by_type"].items()]:
            rows.append([label, qtype, summary["n"], *(summary[c] for c in _RETRIEVAL_COLS)])
    return rows


def compact_table(results: dict[str, Any]) -> str:
    """The summary printed at the end of a run (and copied into the report)."""
    lines: list[str] = []
    cost = results["cost"]
    verbatim = results["answers"]["verbatim"]
    if results["set"] == "multihop":
        lines.append(f"MultiHop-RAG retrieval, non-null queries, top 10 "
                     f"({results['n_questions']} of {results['n_questions_total']} queries; "
                     f"{results['corpus_articles_indexed']} of "
                     f"{results['corpus_articles_total']} articles indexed)")
        lines.append(text_table(("system", "type", "n", *_RETRIEVAL_HEAD),
                                _multihop_rows(results)))
        for p in results["published"]:
            lines.append(f"{p['system']}: Hits@4 {fmt(p['hits@4'])}  Hits@10 "
                         f"{fmt(p['hits@10'])}  MRR@10 {fmt(p['mrr@10'])}")
        ans = results["answers"]
        ab = ans["abstention"]
        lines.append(
            f"answers: accuracy {fmt(ans['overall']['accuracy'])} on "
            f"{ans['overall']['n_scored']} short non-yes/no answers; citations on a gold "
            f"article {fmt(ans['overall']['citation_precision'])}; null-query abstention "
            f"{fmt(ab['null_abstention_rate'])}; false abstention "
            f"{fmt(ab['false_abstention_rate'])}"
        )
    else:
        rows = []
        for qtype, s in [("all", results["overall"]), *results["by_type"].items()]:
            ab = s["abstention"]
            rows.append([qtype, s["n"], s["recall@1"], s["recall@5"], s["recall@10"], s["mrr"],
                         s["answer_accuracy"], s["citation_precision"], ab["recall"]
                         if qtype in ("all", "unanswerable") else ab["false_abstention_rate"]])
        lines.append(f"Seed questions ({results['overall']['n']} of "
                     f"{results['n_questions_total']})")
        lines.append(text_table(
            ("type", "n", "R@1", "R@5", "R@10", "MRR", "AnsAcc", "CitePrec", "Abst*"), rows))
        ab = results["overall"]["abstention"]
        turns = followup_line(results)
        lines += [turns] if turns else []
        lines.append(
            f"* Abst: abstention recall for 'all'/'unanswerable', false-abstention rate "
            f"otherwise. Abstention precision {fmt(ab['precision'])}, recall "
            f"{fmt(ab['recall'])}, F1 {fmt(ab.get('f1'))}, false-abstention rate "
            f"{fmt(ab['false_abstention_rate'])}"
        )
        quotes = results["answers"].get("quotes")
        if quotes:
            lines.append(_quotes_line(quotes))
    lines.append(
        f"verbatim quotes: {fmt(verbatim['verbatim_share'])} of {verbatim['citations']} "
        f"citations ({len(verbatim['violations'])} violations)"
    )
    lines.append(
        f"cost: build {fmt(cost['build_seconds'], 1)} s ({cost['index_origin']}), "
        f"{fmt(cost['chunks_per_second'], 1)} chunks/s; ask p50 {fmt(cost['ask_ms_p50'], 1)} ms, "
        f"p95 {fmt(cost['ask_ms_p95'], 1)} ms; search p50 {fmt(cost['search_ms_p50'], 1)} ms; "
        f"peak memory {fmt(cost['peak_memory_mb'], 0)} MB; run {fmt(cost['run_seconds'], 1)} s"
    )
    return "\n".join(lines)


def _bar(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _quotes_line(q: dict[str, Any]) -> str:
    """The seed run's quote figures on one line, each with its bar."""
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(q["by_reason"].items()))
    return (f"quotes: answer first {fmt(q['answer_first_rate'])} of {q['answer_first_n']} "
            f"answered answerable questions (bar >= {q['answer_first_bar']}: "
            f"{_bar(q['answer_first_ok'])}); caption/headline/fragment quotes {q['problems']}"
            f"{f' ({reasons})' if reasons else ''} (bar {q['problems_bar']}: "
            f"{_bar(q['problems_ok'])})")


def _quotes_section(results: dict[str, Any]) -> list[str]:
    q = results["answers"].get("quotes")
    if not q:
        return []
    lines = [
        "## Quotes that answer",
        "",
        "Answer first: share of answered answerable questions whose first quote holds a "
        "gold evidence quote (same article, >= 60% of the gold span covered, or the gold "
        "span covering >= 60% of the quote). Non-answers: quotes that are captions, photo "
        "credits, headlines, bylines, breadcrumbs, widgets, markup or fragments (including "
        "a quote that does not start where a sentence may start), by the rules of "
        "`rag.quotable`.",
        "",
        md_table(("measure", "value", "bar", "met"), [
            ["answer first", q["answer_first_rate"], f">= {q['answer_first_bar']}",
             _bar(q["answer_first_ok"])],
            ["non-answer quotes", q["problems"], f"{q['problems_bar']}",
             _bar(q["problems_ok"])],
        ]),
        "",
    ]
    if q["examples"]:
        lines += ["Non-answer quotes:", ""]
        lines += [f"- {x['id']} [{x['n']}] {x['reason']}: {x['quote'][:160]!r}"
                  for x in q["examples"][:30]]
        lines.append("")
    if q["answer_first_misses"]:
        lines += ["First quote holds no gold quote:", ""]
        lines += [f"- {x['id']} {x['question']!r}: {(x['first_quote'] or '')[:160]!r}"
                  for x in q["answer_first_misses"][:30]]
        lines.append("")
    return lines


# --------------------------------------------------------------------------- markdown


def _header(results: dict[str, Any]) -> list[str]:
    run = results["run"]
    mach = run["machine"]
    settings = results["settings"]
    index = results["index"]
    cost = results["cost"]
    shown = ", ".join(f"{k}={v}" for k, v in settings.items() if k != "model")
    limit = f" (--limit {results['limit']}, evenly spaced)" if results.get("limit") else ""
    built = ", ".join(f"{k}={v}" for k, v in (results.get("index_settings") or {}).items())
    return [
        f"# rag eval: {results['title']}",
        "",
        f"- Date: {run['date']}",
        f"- Machine: {mach['cores']} cores, {mach['cpu_model']}, "
        f"{fmt(mach['memory_gb'], 1)} GB RAM, {mach['os']}, Python {mach['python']}",
        f"- Package: rag {run['rag_version']}",
        f"- Model: {settings['model']}",
        f"- Settings: {shown}",
        f"- Index: {index['articles']} articles, {index['chunks']} chunks, built with "
        f"{built} ({cost['index_origin']}: {cost['index_path']})",
        f"- Questions: {results.get('n_questions', results.get('overall', {}).get('n'))} of "
        f"{results['n_questions_total']}{limit}",
        "",
    ]


def _cost_section(results: dict[str, Any]) -> list[str]:
    c = results["cost"]
    origin = {
        "built": "built in this run",
        "cached": "reused from the eval cache; time of the run that built it",
        "given": "index given with --index; time from its manifest",
    }[c["index_origin"]]
    rows = [
        ["index build (s)", fmt(c["build_seconds"], 1), origin],
        ["chunks", c["chunks"], ""],
        ["chunks per second (build)", fmt(c["chunks_per_second"], 1),
         "chunks / whole build time (incl. chunking, writing)"],
        ["index load (s)", fmt(c["index_load_seconds"], 2), ""],
        ["search() p50 / p95 (ms)", f"{fmt(c['search_ms_p50'], 1)} / "
         f"{fmt(c['search_ms_p95'], 1)}", "search(k=10), timed around the call"],
        ["ask() p50 / p95 (ms)", f"{fmt(c['ask_ms_p50'], 1)} / {fmt(c['ask_ms_p95'], 1)}",
         "ask() right after search() of the same question: its vector is reused"],
        ["peak memory (MB)", fmt(c["peak_memory_mb"], 0), "ru_maxrss of the eval process"],
        ["whole run (s)", fmt(c["run_seconds"], 1), "including build or load"],
    ]
    if results["set"] == "multihop":
        rows.append(["BM25 baseline (s)", fmt(results["retrieval"]["bm25_seconds"], 2),
                     "index + all queries"])
    return ["## Cost", "", md_table(("what", "value", "note"), rows), ""]


def _verbatim_section(results: dict[str, Any]) -> list[str]:
    v = results["answers"]["verbatim"]
    lines = [
        "## Verbatim quotes",
        "",
        f"{fmt(v['verbatim_share'])} of {v['citations']} citation quotes are exactly "
        "`article.text[start:end]` of their source article (required: 1.0000).",
        "",
    ]
    if v["violations"]:
        lines += ["**RUN FAILED: quotes not verbatim:**", ""]
        lines += [f"- {x['question']!r} [{x['n']}] {x['article_id']} "
                  f"[{x['start']}:{x['end']}]: {x['reason']}" for x in v["violations"][:50]]
        lines.append("")
    return lines


def _multihop_markdown(results: dict[str, Any]) -> list[str]:
    ret = results["retrieval"]
    ours, bm25 = ret["ours"]["overall"], ret["bm25"]["overall"]
    lines: list[str] = []
    if results["corpus_articles_indexed"] < results["corpus_articles_total"]:
        lines += [
            f"> **Smoke run on a subset corpus** ({results['corpus_articles_indexed']} of "
            f"{results['corpus_articles_total']} articles): retrieval is easier than on the "
            "full corpus; these numbers are not comparable to the paper.",
            "",
        ]
    lines += [
        f"> Data: {results['credit']}",
        "",
        "## Retrieval (non-null queries, top 10 chunks)",
        "",
        "A chunk is a hit when one of the query's gold `fact` strings is contained in it, "
        "both with all whitespace removed. Hits@k, MAP@10 and MRR@10 follow the paper's "
        "evaluation script (`retrieval_evaluate.py` of github.com/yixuantt/MultiHop-RAG). "
        "Stricter: EvRecall@10 = share of a query's gold facts found in its top 10, "
        "averaged; AllEv@10 = share of queries with every gold fact in the top 10.",
        "",
    ]
    rows: list[list[Any]] = [
        ["rag (this run)", ours["n"], *(ours[c] for c in _RETRIEVAL_COLS)],
        ["BM25 only, same chunks (this run)", bm25["n"], *(bm25[c] for c in _RETRIEVAL_COLS)],
    ]
    for p in results["published"]:
        rows.append([p["system"] + " (published)", None, p["hits@4"], p["hits@10"],
                     p["map@10"], p["mrr@10"], None, None])
    lines += [md_table(("system", "n", *_RETRIEVAL_HEAD), rows), ""]
    lines += [
        "Published figures: Tang and Yang, COLM 2024, as given in the dataset README "
        "(chunks of 256 tokens, top 10, null queries left out; hosted or large models); "
        "n/a = not stated there.",
        "",
        "### By question type",
        "",
        md_table(("system", "type", "n", *_RETRIEVAL_HEAD), _multihop_rows(results)),
        "",
        "![Hits@k by question type](hits_by_type.png)",
        "",
        "![Hits@k for k = 1..10](hits_at_k.png)",
        "",
    ]
    ans = results["answers"]
    arows = []
    for qtype, b in [("all non-null", ans["overall"]), *ans["by_type"].items()]:
        arows.append([qtype, b["n"], b["n_scored"], b["accuracy"], b["accuracy_when_answered"],
                      b["citation_precision"], b["false_abstention_rate"]])
    ab = ans["abstention"]
    lines += [
        "## Answers",
        "",
        "Accuracy: the gold answer, case-normalised, is contained in the answer text or "
        "one of its citation quotes (abstentions count as wrong). Yes/no/true/false gold "
        "answers are left out: an answer made of quotes cannot state them. Citation "
        "precision: share of citations pointing at an article of the query's evidence.",
        "",
        md_table(("type", "n", "n scored", "accuracy", "accuracy when answered",
                  "citations on gold article", "false abstention rate"), arows),
        "",
        "## Abstention",
        "",
        md_table(
            ("null-query abstention rate", "abstention precision", "abstention recall",
             "false abstention rate", "abstained", "null queries", "answerable"),
            [[ab["null_abstention_rate"], ab["precision"], ab["recall"],
              ab["false_abstention_rate"], ab["n_abstained"], ab["n_unanswerable"],
              ab["n_answerable"]]],
        ),
        "",
    ]
    return lines


def _seed_markdown(results: dict[str, Any]) -> list[str]:
    rows = []
    for qtype, s in [("all", results["overall"]), *results["by_type"].items()]:
        rows.append([qtype, s["n"], s["n_answerable"], s["recall@1"], s["recall@5"],
                     s["recall@10"], s["mrr"], s["answer_accuracy"],
                     s["answer_accuracy_when_answered"], s["citation_precision"]])
    ab = results["overall"]["abstention"]
    return [
        "## Retrieval and answers",
        "",
        "Recall@k: share of a question's gold evidence quotes held by a top-k chunk of "
        "`search(k=10)` (quote contained, whitespace removed, or >= 60% of its span "
        "covered), averaged over answerable questions. MRR: 1/rank of the first chunk "
        "holding any gold quote. Answer accuracy: a gold string, case-normalised, occurs "
        "in the answer text or its quotes (abstentions count as wrong). Citation "
        "precision: share of citations pointing at a gold article.",
        "",
        md_table(("type", "n", "answerable", "R@1", "R@5", "R@10", "MRR", "answer acc",
                  "acc when answered", "citations on gold"), rows),
        "",
        "![Recall@k by type](recall_by_type.png)",
        "",
        "## Abstention",
        "",
        md_table(("abstention precision", "abstention recall", "abstention F1",
                  "false abstention rate", "abstained", "unanswerable", "answerable"),
                 [[ab["precision"], ab["recall"], ab.get("f1"), ab["false_abstention_rate"],
                   ab["n_abstained"], ab["n_unanswerable"], ab["n_answerable"]]]),
        "",
        *_quotes_section(results),
    ]


def render_markdown(results: dict[str, Any], printed: str | None = None) -> str:
    """The full ``report.md`` text."""
    lines = _header(results)
    if results["set"] == "multihop":
        lines += _multihop_markdown(results)
    else:
        lines += _seed_markdown(results) + followup_markdown(results)
    lines += _verbatim_section(results)
    lines += _cost_section(results)
    lines += ["![Latency](latency.png)", ""]
    lines += [
        "## What the run printed",
        "",
        "```",
        printed if printed is not None else compact_table(results),
        "```",
        "",
    ]
    if results["set"] == "multihop":
        lines += [f"Credit: {results['credit']}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _plot_bars(
    path: Path,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    ylabel: str,
    note: str | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) + 2), 4.2))
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [v if v is not None else 0.0 for v in values], width, label=label)
    ax.set_xticks(range(len(groups)), list(groups))
    # Headroom above 1.0 so the legend never covers a bar.
    ax.set_ylim(0, 1.18)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=max(1, len(series)), loc="upper center")
    ax.grid(axis="y", alpha=0.3)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.04 if note else 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_latency(
    path: Path, latency: Mapping[str, Sequence[float]], note: str | None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in latency.items():
        if values:
            ax.hist(values, bins=40, alpha=0.6, label=f"{label}()")
    ax.set_xlabel("milliseconds per call")
    ax.set_ylabel("calls")
    ax.set_title("Latency per question")
    ax.legend()
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.04 if note else 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_hits_at_k(path: Path, results: dict[str, Any], note: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = list(range(1, 11))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for system, label, style in (("ours", "rag", "-o"), ("bm25", "BM25 only", "--s")):
        curve = results["retrieval"][system]["hits_curve"]
        ax.plot(ks, [v if v is not None else 0.0 for v in curve], style, label=label)
    for p, marker in zip(results["published"], ("^", "v"), strict=False):
        pts = [(k, p[f"hits@{k}"]) for k in (4, 10) if p[f"hits@{k}"] is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker, linestyle="none", label=p["system"])
    ax.set_xticks(ks)
    ax.set_ylim(0, 1)
    ax.set_xlabel("k")
    ax.set_ylabel("Hits@k (non-null queries)")
    ax.set_title("MultiHop-RAG: Hits@k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, note, fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(results: dict[str, Any], out: Path) -> list[Path]:
    """Write the run's PNG plots into ``out``; return their paths."""
    written: list[Path] = []
    if results["set"] == "multihop":
        note = "Data: MultiHop-RAG, Tang & Yang, COLM 2024 (ODC-BY)"
        ret = results["retrieval"]
        groups = ["all", *ret["ours"]["by_type"].keys()]

        def pick(system: str, key: str) -> list[float | None]:
            block = ret[system]
            return [block["overall"][key] if g == "all" else block["by_type"][g][key]
                    for g in groups]

        series = {
            "rag Hits@4": pick("ours", "hits@4"),
            "rag Hits@10": pick("ours", "hits@10"),
            "BM25 Hits@4": pick("bm25", "hits@4"),
            "BM25 Hits@10": pick("bm25", "hits@10"),
        }
        path = out / "hits_by_type.png"
        _plot_bars(path, [g.replace("_query", "") for g in groups], series,
                   "MultiHop-RAG: Hits@k by question type", "share of queries", note)
        written.append(path)
        path = out / "hits_at_k.png"
        _plot_hits_at_k(path, results, note)
        written.append(path)
    else:
        note = None
        groups = [t for t, s in results["by_type"].items() if s["n_answerable"]]
        series = {
            f"Recall@{k}": [results["by_type"][g][f"recall@{k}"] for g in groups]
            for k in (1, 5, 10)
        }
        path = out / "recall_by_type.png"
        _plot_bars(path, groups, series, "Seed set: evidence recall@k by type",
                   "share of gold quotes")
        written.append(path)
    path = out / "latency.png"
    _plot_latency(path, results["latency_ms"], note)
    written.append(path)
    return written


# --------------------------------------------------------------------------- files


def write_outputs(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write ``results.json``, ``report.md`` and the plots into ``out`` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    results.setdefault("run", run_info())
    printed = compact_table(results)
    paths = {"results": out / "results.json", "report": out / "report.md"}
    paths["results"].write_text(json.dumps(results, indent=1, ensure_ascii=False),
                                encoding="utf-8")
    for plot in write_plots(results, out):
        paths[plot.stem] = plot
    paths["report"].write_text(render_markdown(results, printed), encoding="utf-8")
    return paths
