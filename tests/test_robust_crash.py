"""Crash safety: a killed or failing build leaves the previous index intact and usable; a
rebuild while questions are answered serves one build or the other, never a mix; adding
articles is idempotent (same content, same ids, no duplicates).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rag
from rag import RagError
from rag.index_format import BUILDS, CURRENT, resolve_build

REPO = Path(__file__).resolve().parents[1]

ARTICLES_A = {
    "ferry.txt": "A ferry service between Nampo and Dalian restarted in October.\n\n"
                 "The ferry carries 120 passengers and runs twice a week, officials said.\n",
    "bridge.txt": "The Yalu River bridge between Dandong and Sinuiju opened to trucks.\n\n"
                  "About 40 trucks crossed the bridge on the first day.\n",
    "trade.txt": "Chinese exports to North Korea rose 31% in September.\n\n"
                 "Soybean oil and wigs led the rise, customs data showed.\n",
}
# Version B: every article changed (new numbers), so its ids differ from A's.
ARTICLES_B = {
    name: text.replace("120", "300").replace("40", "75").replace("31%", "52%")
    for name, text in ARTICLES_A.items()
}
QUESTIONS = ["How many passengers does the ferry carry?", "How many trucks crossed the bridge?",
             "By how much did Chinese exports rise in September?"]


def write_corpus(folder: Path, articles: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def snapshot(index: Path) -> dict[str, Any]:
    """What a crash must not change: the live pointer and the build folders."""
    return {
        "current": (index / CURRENT).read_text(),
        "builds": sorted(p.name for p in (index / BUILDS).iterdir()),
    }


@pytest.fixture()
def small_index(tmp_path: Path) -> Path:
    index = tmp_path / "index"
    rag.build_index([write_corpus(tmp_path / "a", ARTICLES_A)], index, progress=False)
    return index


def _big_corpus(folder: Path, n_articles: int = 300) -> Path:
    folder.mkdir()
    for i in range(n_articles):
        sentences = [f"Report {i}, item {j}: shipments of good {i * 7 + j} through port {j} "
                     f"rose {i + j} percent in month {j % 12 + 1}." for j in range(8)]
        (folder / f"big_{i:04d}.txt").write_text("\n\n".join(sentences) + "\n")
    return folder


# A tqdm bar with at least one step done: "embedding:  10%|█   | 64/640 [...]".
PROGRESS = re.compile(rb"([A-Za-z][A-Za-z ]*):\s+\d+%\|[^|\r\n]*\| *[1-9]\d*/\d+")


def test_sigkill_while_embedding_leaves_the_previous_index_intact(small_index, tmp_path):
    before = snapshot(small_index)
    answer_before = rag.ask(QUESTIONS[0], index=small_index)
    assert answer_before.citations
    corpus = _big_corpus(tmp_path / "big")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "rag", "build", str(corpus), "--index", str(small_index)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    seen = bytearray()
    embedding = threading.Event()

    def watch() -> None:
        # Embedding is the only step with a progress bar after the model has loaded:
        # once it has moved (whatever it is called), texts are being embedded.
        assert process.stderr is not None
        while chunk := process.stderr.read1(4096):
            seen.extend(chunk)
            for bar in PROGRESS.finditer(seen):
                if not bar.group(1).startswith(b"Loading"):
                    embedding.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert embedding.wait(240), f"never started embedding: {bytes(seen[-2000:])!r}"
        assert process.poll() is None, "the build finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    watcher.join(10)

    # On a loaded machine the kill can land after embedding, while the new build is
    # being written into its temporary folder: that folder may stay (the next build
    # removes it), but the live build and its pointer must not change.
    after_kill = snapshot(small_index)
    leftover = [b for b in after_kill["builds"] if b.startswith(".tmp-")]
    after_kill["builds"] = [b for b in after_kill["builds"] if b not in leftover]
    assert after_kill == before
    assert not list(small_index.glob(f"{CURRENT}.tmp-*"))
    index = rag.load_index(small_index)
    assert index.build_id == before["builds"][0] == before["current"].strip()
    after = rag.ask(QUESTIONS[0], index=small_index)
    assert (after.text, after.citations) == (answer_before.text, answer_before.citations)
    # The killed build held the build lock; the kernel released it with the process.
    write_corpus(tmp_path / "a", ARTICLES_B)
    report = rag.build_index([tmp_path / "a"], small_index, progress=False)
    assert resolve_build(small_index) == report.build_dir
    assert not any((small_index / BUILDS / b).exists() for b in leftover)


def test_a_build_failing_while_writing_leaves_no_trace(small_index, tmp_path, monkeypatch):
    before = snapshot(small_index)
    calls = []
    real_save = np.save

    def save_then_fail(*args, **kwargs):  # the disk fills up after the first file
        calls.append(args[0])
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", save_then_fail)
    with pytest.raises(RagError, match=r"No space left on device.*previous index.*untouched"):
        rag.build_index([write_corpus(tmp_path / "b", ARTICLES_B)], small_index, progress=False)
    monkeypatch.undo()
    assert calls and snapshot(small_index) == before  # the half-written build is gone
    assert rag.ask(QUESTIONS[1], index=small_index).citations


def test_a_build_interrupted_while_writing_leaves_no_trace(small_index, tmp_path, monkeypatch):
    before = snapshot(small_index)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rag.build_index([write_corpus(tmp_path / "b", ARTICLES_B)], small_index, progress=False)
    monkeypatch.undo()
    assert snapshot(small_index) == before


def test_leftovers_of_a_build_killed_while_writing_are_ignored_then_removed(small_index, tmp_path):
    """What SIGKILL can leave after embedding: a half-written temporary build, a finished
    build never made current, a half-written CURRENT. Readers ignore them; the next build
    removes them."""
    live = resolve_build(small_index)
    builds = small_index / BUILDS
    half = builds / ".tmp-20990101T000000-deadbeef-1"
    half.mkdir()
    (half / "chunks.jsonl").write_text('{"id": "trunc')
    orphan = builds / "20990101T000001-cafef00d-2"
    shutil.copytree(live, orphan)
    (small_index / f"{CURRENT}.tmp-999").write_text("20990101T000001-caf")
    before = snapshot(small_index)

    assert rag.load_index(small_index).path == live
    assert rag.ask(QUESTIONS[2], index=small_index).citations
    report = rag.build_index([write_corpus(tmp_path / "b", ARTICLES_B)], small_index,
                             progress=False)
    names = {p.name for p in builds.iterdir()}
    assert names == {live.name, report.build_dir.name}
    assert not list(small_index.glob(f"{CURRENT}.tmp-*"))
    assert len(before["builds"]) == 3


def test_a_second_build_while_one_is_writing_is_refused(small_index, tmp_path):
    before = snapshot(small_index)
    with open(small_index / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "another process" is building
        with pytest.raises(RagError, match=r"another build is writing the index.*wait"):
            rag.build_index([write_corpus(tmp_path / "b", ARTICLES_B)], small_index,
                            progress=False)
    assert snapshot(small_index) == before


def test_a_rebuild_while_answering_serves_one_build_never_a_mix(small_index, tmp_path):
    corpus = tmp_path / "a"
    texts = {}
    for version in (ARTICLES_A, ARTICLES_B):
        for text in version.values():
            texts[rag.Article.make_id(text)] = text
    ids_a = {rag.Article.make_id(t) for t in ARTICLES_A.values()}
    ids_b = {rag.Article.make_id(t) for t in ARTICLES_B.values()}
    stop = threading.Event()
    answers: list[rag.Answer] = []
    errors: list[BaseException] = []

    def answer_questions() -> None:
        n = 0
        while not stop.is_set():
            try:
                answers.append(rag.ask(QUESTIONS[n % 3], index=str(small_index)))
            except BaseException as exc:  # reported below
                errors.append(exc)
                return
            n += 1

    threads = [threading.Thread(target=answer_questions) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for version in (ARTICLES_B, ARTICLES_A, ARTICLES_B, ARTICLES_A):
            rag.build_index([write_corpus(corpus, version)], small_index, progress=False)
            count, deadline = len(answers), time.monotonic() + 30
            while len(answers) < count + 2 and time.monotonic() < deadline and not errors:
                time.sleep(0.05)  # let the readers answer from this build for a moment
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors
    assert len(answers) > 4
    served = set()
    for answer in answers:
        ids = {h.article_id for h in answer.hits} | {c.article_id for c in answer.citations}
        assert ids <= ids_a or ids <= ids_b, "one answer drew on two builds"
        served.add("A" if ids <= ids_a else "B")
        for item in (*answer.hits, *answer.citations):
            text = item.text if isinstance(item, rag.Hit) else item.quote
            assert texts[item.article_id][item.start:item.end] == text
    assert served == {"A", "B"}
    assert rag.ask(QUESTIONS[0], index=str(small_index)).hits[0].article_id in ids_a


def _tables(index: Path) -> tuple[str, str]:
    build = resolve_build(index)
    return (build / "articles.jsonl").read_text(), (build / "chunks.jsonl").read_text()


def test_adding_articles_is_idempotent_and_order_independent(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", ARTICLES_A)
    extra = corpus / "extra.json"
    extra.write_text(json.dumps([
        {"title": "Rail", "source": "Wire", "date": "2023-10-05",
         "body": "Freight trains between Dandong and Sinuiju resumed on Monday."},
        {"title": "Rail again", "body": "Freight trains between Dandong and Sinuiju resumed "
                                        "on Monday."},  # the same body twice in one file
    ]))
    first = [corpus / "bridge.txt", corpus / "ferry.txt"]
    rest = [corpus / "trade.txt", extra]

    at_once = tmp_path / "at-once"
    rag.build_index([*first, *rest], at_once, progress=False)
    step_by_step = tmp_path / "step-by-step"
    rag.build_index(first, step_by_step, progress=False)
    results, report = rag.add_files(step_by_step, rest)
    assert [r.status for r in results] == ["added", "added"]
    assert report is not None and report.articles == 4
    assert f"skipped: {extra}#1: duplicate of {extra}#0" in [str(p) for p in report.problems]
    # Same content, same ids, same tables, whichever way the articles arrived.
    assert _tables(step_by_step) == _tables(at_once)

    live = snapshot(step_by_step)
    copy = tmp_path / "renamed-copy-of-trade.md"
    copy.write_text(ARTICLES_A["trade.txt"])
    results, report = rag.add_files(step_by_step, [copy, corpus / "ferry.txt", extra])
    assert [r.status for r in results] == ["duplicate"] * 3 and report is None
    assert results[0].article_ids == (rag.Article.make_id(ARTICLES_A["trade.txt"]),)
    assert snapshot(step_by_step) == live  # nothing rebuilt

    twin_a, twin_b = tmp_path / "twin-a.txt", tmp_path / "twin-b.txt"
    for twin in (twin_a, twin_b):
        twin.write_text("A new customs post opened at Hunchun.\n")
    results, report = rag.add_files(step_by_step, [twin_a, twin_b])
    assert [r.status for r in results] == ["added", "duplicate"]
    assert report is not None and report.articles == 5
    index = rag.load_index(step_by_step)
    assert len(index.articles) == len(index.article_list) == 5
    assert len({c.id for c in index.chunks}) == len(index.chunks)


def test_a_reader_whose_build_is_removed_mid_load_reads_the_new_one(small_index, tmp_path,
                                                                    monkeypatch):
    """Two quick rebuilds can remove the build a slow reader had just resolved: the reader
    then loads the build that is current, whole, instead of failing."""
    import rag.index as index_module

    old = resolve_build(small_index)
    newer = small_index / BUILDS / "20990101T000000-feedface-1"
    shutil.copytree(old, newer)
    real_read = index_module.read_manifest
    swapped = []

    def read_after_swap(build: Path):
        if not swapped:  # between resolving CURRENT and reading: swap, then collect
            swapped.append(build)
            (small_index / CURRENT).write_text(newer.name + "\n")
            shutil.rmtree(old)
        return real_read(build)

    monkeypatch.setattr(index_module, "read_manifest", read_after_swap)
    index = rag.load_index(small_index)
    assert swapped == [old] and index.path == newer
    assert len(index.chunks) > 0


def test_the_same_corpus_rebuilt_within_a_second_gets_its_own_build(small_index, tmp_path):
    """Build ids are time (to the second), corpus hash and pid: a quick rebuild of the same
    corpus by the same process used to collide with the build it replaces."""
    ids = sorted(rag.Article.make_id(t) for t in ARTICLES_A.values())
    corpus_hash = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:8]
    now = datetime.now(UTC)
    taken = []
    for second in range(120):  # every id this build could take in the next two minutes
        stamp = now + timedelta(seconds=second)
        folder = small_index / BUILDS / f"{stamp:%Y%m%dT%H%M%S}-{corpus_hash}-{os.getpid()}"
        folder.mkdir(exist_ok=True)
        (folder / "placeholder").write_text("an earlier build of the same corpus")
        taken.append(folder.name)
    report = rag.build_index([tmp_path / "a"], small_index, progress=False)
    assert report.build_dir.name.rsplit("-", 1)[0] in taken
    assert resolve_build(small_index) == report.build_dir
    assert rag.load_index(small_index).build_id == report.build_dir.name


def test_an_interrupted_build_resumes_from_what_it_had_embedded(tmp_path, monkeypatch):
    """A build that dies after embedding some groups of chunks leaves them in the index
    folder; the next build embeds only the rest, and the index equals a clean build's."""
    from rag import build as build_module
    from rag.embeddings import get_embedder

    monkeypatch.setattr(build_module, "RESUME_EVERY", 1)
    corpus = write_corpus(tmp_path / "a", ARTICLES_A)
    clean = rag.build_index([corpus], tmp_path / "clean", progress=False)
    assert clean.chunks >= 3
    model = get_embedder(rag.Config().model)

    class DiesOnThirdGroup:
        calls = 0

        def encode_with_spans(self, texts, spans, *, progress=False):
            DiesOnThirdGroup.calls += 1
            if DiesOnThirdGroup.calls == 3:
                raise KeyboardInterrupt  # as a user's Ctrl-C would
            return model.encode_with_spans(texts, spans)

        def encode(self, texts, *, progress=False):
            return model.encode(texts)

    target = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        rag.build_index([corpus], target, progress=False, encoder=DiesOnThirdGroup())
    assert not (target / CURRENT).exists() and len(list((target / ".resume").iterdir())) == 2
    report = rag.build_index([corpus], target, progress=False)
    assert report.embedded < clean.embedded and not (target / ".resume").exists()
    np.testing.assert_allclose(rag.load_index(target).chunk_vectors,
                               rag.load_index(tmp_path / "clean").chunk_vectors, atol=1e-5)


def test_resume_parts_of_both_layouts_are_read_and_foreign_ones_skipped(tmp_path):
    """Parts written before sentence vectors were kept as fp16 hold one fp32 table; newer
    parts hold chunks (fp32) and sentences (fp16) apart. Both resume; another model's
    part does not."""
    from rag import build as build_module

    folder = tmp_path / build_module.RESUME
    folder.mkdir()
    dim = 4
    np.savez(folder / "000000.npz", keys=np.array(["old"]), vectors=np.ones((1, dim), np.float32),
             model=np.array("m"))
    build_module._save_resume(tmp_path, "m", {"chunk": np.full(dim, 2, np.float32),
                                              "sentence": np.full(dim, 3, np.float16)})
    build_module._save_resume(tmp_path, "other", {"foreign": np.zeros(dim, np.float32)})
    found = build_module._resume_vectors(tmp_path, "m", dim)
    assert sorted(found) == ["chunk", "old", "sentence"]
    assert found["sentence"].dtype == np.float16 and found["chunk"].dtype == np.float32
    assert found["sentence"].tolist() == [3.0] * dim and found["old"].tolist() == [1.0] * dim
