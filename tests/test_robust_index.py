"""Damaged or foreign indexes: each is refused with a message that says to rebuild, and a
rebuild over the damage works.

Already covered in test_index.py (not repeated): a missing index, truncated
chunks.faiss (size check), another model or chunking in the config, a newer
format version, one chunk line removed, CURRENT naming a missing build.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

import rag
from rag import CorruptIndexError, IndexMismatchError, IndexNotFoundError
from rag.index_format import CURRENT, FORMAT_VERSION, MANIFEST, resolve_build

TINY = "The Yalu River bridge between Dandong and Sinuiju opened to trucks on Monday.\n"


@pytest.fixture()
def index_copy(default_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "idx"
    shutil.copytree(default_index_dir, target)
    return target


def _manifest(index: Path) -> dict:
    return json.loads((resolve_build(index) / MANIFEST).read_text())


def _write_manifest(index: Path, manifest: dict) -> None:
    (resolve_build(index) / MANIFEST).write_text(json.dumps(manifest))


def _resize(index: Path, name: str) -> None:
    """Record a file's new size in the manifest, so only deeper checks can catch the damage."""
    manifest = _manifest(index)
    manifest["files"][name]["bytes"] = (resolve_build(index) / name).stat().st_size
    _write_manifest(index, manifest)


def test_a_folder_that_is_not_an_index_says_how_to_build(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TINY)
    for where in (corpus, corpus / "a.txt", tmp_path / "missing"):
        with pytest.raises(IndexNotFoundError, match=r"no index at .*rag build PATH --index"):
            rag.load_index(where)


@pytest.mark.parametrize("name", ["chunks.faiss", "sentence_vectors.npy", "sentences.npy",
                                  "articles.jsonl", "chunks.jsonl"])
def test_a_truncated_file_is_caught_even_when_the_manifest_agrees(index_copy, name):
    path = resolve_build(index_copy) / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptIndexError, match=rf"{name} is \d+ bytes, expected \d+.*rebuild"):
        rag.load_index(index_copy)
    _resize(index_copy, name)  # now the size check passes: the parser or the counts must object
    with pytest.raises(CorruptIndexError, match="rebuild it with rag build PATH --index"):
        rag.load_index(index_copy)


@pytest.mark.parametrize("damage", ["empty", "not json", "a list", "settings a list",
                                    "no dimension", "files without sizes"])
def test_a_damaged_manifest_is_corrupt_not_a_crash(index_copy, damage):
    path = resolve_build(index_copy) / MANIFEST
    manifest = json.loads(path.read_text())
    if damage == "empty":
        path.write_text("")
    elif damage == "not json":
        path.write_bytes(b"\x00\xff{")
    elif damage == "a list":
        path.write_text("[1, 2]")
    else:
        if damage == "settings a list":
            manifest["settings"] = [1]
        elif damage == "no dimension":
            del manifest["dimension"]
        else:
            manifest["files"] = {"chunks.jsonl": 12}
        path.write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndexError, match="rebuild"):
        rag.load_index(index_copy)


def test_a_newer_format_with_settings_unknown_here_says_newer(index_copy):
    # Without the version check first, the unknown setting failed as a ConfigError.
    manifest = _manifest(index_copy)
    manifest["format_version"] = FORMAT_VERSION + 1
    manifest["settings"]["reranker"] = "cross-encoder"
    _write_manifest(index_copy, manifest)
    with pytest.raises(IndexMismatchError, match=r"newer than this rag.*upgrade rag"):
        rag.load_index(index_copy)
    with pytest.raises(IndexMismatchError, match="newer"):
        rag.ask("Who did Pak Myong Ho meet?", index=index_copy)


def test_an_older_format_says_rebuild(index_copy):
    manifest = _manifest(index_copy)
    manifest["format_version"] = FORMAT_VERSION - 1
    _write_manifest(index_copy, manifest)
    with pytest.raises(IndexMismatchError, match=r"old format version.*rebuild"):
        rag.load_index(index_copy)


def test_an_index_of_a_model_not_installed_is_refused_when_asked(index_copy):
    manifest = _manifest(index_copy)
    manifest["model"] = manifest["settings"]["model"] = "some-org/other-model"
    manifest["chunking"]["tokenizer"] = "some-org/other-model"
    _write_manifest(index_copy, manifest)
    index = rag.load_index(index_copy)  # its own settings: loads, for inspection
    assert index.info()["model"] == "some-org/other-model"
    with pytest.raises(IndexMismatchError, match=r"'some-org/other-model'.*not available.*rebuild"):
        rag.ask("Who did Pak Myong Ho meet?", index=index_copy)
    with pytest.raises(IndexMismatchError, match="other settings"):
        rag.load_index(index_copy, config=rag.Config())


def test_a_manifest_claiming_another_dimension_is_inconsistent(index_copy):
    manifest = _manifest(index_copy)
    manifest["dimension"] = 768
    _write_manifest(index_copy, manifest)
    with pytest.raises(CorruptIndexError, match=r"inconsistent.*768 dimensions"):
        rag.load_index(index_copy)


def test_a_consistent_index_of_another_dimension_is_refused_when_asked(index_copy):
    """Every file agrees on 768 dimensions, but the model makes 384: no query can work."""
    build = resolve_build(index_copy)
    vectors = rag.load_index(index_copy).chunk_vectors
    wide = np.hstack([vectors, np.zeros((len(vectors), 384), dtype=np.float32)])
    flat = faiss.IndexFlatIP(768)
    flat.add(wide)
    (build / "chunks.faiss").write_bytes(faiss.serialize_index(flat).tobytes())
    sentence_vectors = np.load(build / "sentence_vectors.npy")
    np.save(build / "sentence_vectors.npy",
            np.hstack([sentence_vectors, np.zeros_like(sentence_vectors)]), allow_pickle=False)
    manifest = _manifest(index_copy)
    manifest["dimension"] = 768
    _write_manifest(index_copy, manifest)
    for name in ("chunks.faiss", "sentence_vectors.npy"):
        _resize(index_copy, name)
    index = rag.load_index(index_copy)
    with pytest.raises(IndexMismatchError, match=r"768-dimensional.*384-dimensional.*rebuild"):
        rag.ask("Who did Pak Myong Ho meet?", index=index)


def test_chunk_offsets_out_of_step_with_their_articles(index_copy):
    build = resolve_build(index_copy)
    lines = (build / "chunks.jsonl").read_text().splitlines()
    chunk = json.loads(lines[0])
    chunk["start"] += 5  # same count, same text, wrong place
    lines[0] = json.dumps(chunk)
    (build / "chunks.jsonl").write_text("\n".join(lines) + "\n")
    _resize(index_copy, "chunks.jsonl")
    with pytest.raises(CorruptIndexError, match="chunk offsets do not match"):
        rag.load_index(index_copy)


def test_sentence_table_pointing_past_its_articles(index_copy):
    build = resolve_build(index_copy)
    sentences = np.load(build / "sentences.npy")
    sentences[-1, 2] = 10**6
    np.save(build / "sentences.npy", sentences, allow_pickle=False)
    _resize(index_copy, "sentences.npy")
    with pytest.raises(CorruptIndexError, match="sentence offsets"):
        rag.load_index(index_copy)


def test_article_table_missing_the_article_of_a_chunk(index_copy):
    build = resolve_build(index_copy)
    articles = (build / "articles.jsonl").read_text().splitlines()
    (build / "articles.jsonl").write_text("\n".join(articles[1:]) + "\n")
    _resize(index_copy, "articles.jsonl")
    manifest = _manifest(index_copy)
    manifest["counts"]["articles"] -= 1
    _write_manifest(index_copy, manifest)
    with pytest.raises(CorruptIndexError, match="not in the article table"):
        rag.load_index(index_copy)


@pytest.mark.parametrize("pointer", ["", "../../etc", ".tmp-half-written", "\x00\xff"])
def test_a_bad_current_pointer_is_corrupt(index_copy, pointer):
    (index_copy / "builds" / ".tmp-half-written").mkdir()
    (index_copy / CURRENT).write_bytes(pointer.encode("utf-8", "surrogateescape")
                                       if pointer != "\x00\xff" else b"\x00\xff")
    with pytest.raises(CorruptIndexError, match="rebuild"):
        rag.load_index(index_copy)


def test_rebuilding_over_a_damaged_index_works(index_copy, tmp_path):
    """The advice in every message above, followed: rag build over the damage."""
    build = resolve_build(index_copy)
    (build / "chunks.faiss").write_bytes(b"garbage")
    _resize(index_copy, "chunks.faiss")
    with pytest.raises(CorruptIndexError):
        rag.load_index(index_copy)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bridge.txt").write_text(TINY)
    report = rag.build_index([corpus], index_copy, progress=False)
    assert report.articles == 1 and report.embedded == 1
    answer = rag.ask("Which bridge opened to trucks?", index=index_copy)
    assert answer.citations and "Yalu River bridge" in answer.citations[0].quote
    assert resolve_build(index_copy) == report.build_dir
    assert len(list((index_copy / "builds").iterdir())) == 2  # the new one and the previous
