import json
import shutil

import numpy as np
import pytest

import rag
from rag import Config, CorruptIndexError, IndexMismatchError, IndexNotFoundError
from rag.index_format import CURRENT, FORMAT_VERSION, resolve_build


@pytest.fixture()
def index_copy(default_index_dir, tmp_path):
    target = tmp_path / "idx"
    shutil.copytree(default_index_dir, target)
    return target


def test_manifest_records_model_settings_versions_and_counts(bundled_index):
    manifest = bundled_index.manifest
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"] == "all-MiniLM-L6-v2" and manifest["dimension"] == 384
    assert manifest["chunking"]["max_tokens"] == 256
    assert manifest["rag_version"] == rag.__version__
    assert manifest["counts"]["articles"] == 5
    assert manifest["counts"]["chunks"] == len(bundled_index.chunks) > 5
    assert manifest["corpus_hash"] and manifest["built_at"]
    assert bundled_index.faiss.ntotal == len(bundled_index.chunks)
    assert set(manifest["files"]) >= {"chunks.faiss", "chunks.jsonl"}
    # The vectors are stored once, in the FAISS index.
    assert "chunk_vectors.npy" not in manifest["files"]
    assert not (bundled_index.path / "chunk_vectors.npy").exists()
    files = {p.name for p in bundled_index.path.iterdir()}
    assert not any(name.endswith((".pkl", ".pickle")) for name in files)


def test_vectors_are_normalised_and_match_chunks(bundled_index):
    norms = np.linalg.norm(bundled_index.chunk_vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)
    for chunk in bundled_index.chunks:
        article = bundled_index.articles[chunk.article_id]
        assert article.text[chunk.start:chunk.end] == chunk.text


def test_rebuild_reuses_unchanged_embeddings(index_copy, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(rag.bundled_corpus_dir(), corpus)
    report = rag.build_index([corpus], index_copy, progress=False)
    assert report.embedded == 0 and report.reused > 0
    (corpus / "new.txt").write_text("Freight trains between Dandong and Sinuiju resumed.")
    report = rag.build_index([corpus], index_copy, progress=False)
    assert report.articles == 6 and 0 < report.embedded <= 3
    assert len(list((index_copy / "builds").iterdir())) <= 2  # old builds collected


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexNotFoundError, match="rag build"):
        rag.load_index(tmp_path / "nothing")
    with pytest.raises(IndexNotFoundError):
        rag.ask("anything?", index=tmp_path / "nothing")


def test_other_model_or_settings_fail_with_rebuild_message(index_copy):
    with pytest.raises(IndexMismatchError, match="rebuild"):
        rag.load_index(index_copy, config=Config(chunk_tokens=128))
    build = resolve_build(index_copy)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["settings"]["model"] = "another-model"
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="another-model"):
        rag.load_index(index_copy, config=Config())


def test_newer_format_version_is_refused(index_copy):
    build = resolve_build(index_copy)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="newer"):
        rag.load_index(index_copy)


def test_truncated_vectors_are_detected(index_copy):
    vectors = resolve_build(index_copy) / "chunks.faiss"
    vectors.write_bytes(vectors.read_bytes()[:-100])
    with pytest.raises(CorruptIndexError, match="rebuild"):
        rag.load_index(index_copy)


def test_an_older_build_with_its_own_vector_file_still_loads_from_it(index_copy):
    # Builds before 2026-12-07 wrote chunk_vectors.npy beside chunks.faiss.
    build = resolve_build(index_copy)
    question = "By how much did Chinese exports to North Korea rise in September?"
    current = rag.load_index(index_copy)
    expected = rag.ask(question, index=current).text
    np.save(build / "chunk_vectors.npy", np.array(current.chunk_vectors), allow_pickle=False)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["files"]["chunk_vectors.npy"] = {
        "bytes": (build / "chunk_vectors.npy").stat().st_size}
    (build / "manifest.json").write_text(json.dumps(manifest))
    older = rag.load_index(index_copy)
    # Read from the file (a memory map), not from the FAISS storage.
    assert isinstance(older.chunk_vectors.base, np.memmap)
    assert not isinstance(current.chunk_vectors.base, np.memmap)
    np.testing.assert_array_equal(older.chunk_vectors, current.chunk_vectors)
    assert rag.ask(question, index=older).text == expected
    (build / "chunk_vectors.npy").write_bytes((build / "chunk_vectors.npy").read_bytes()[:-64])
    with pytest.raises(CorruptIndexError, match=r"chunk_vectors\.npy is .*rebuild"):
        rag.load_index(index_copy)


def test_chunk_table_out_of_step_with_vectors(index_copy):
    build = resolve_build(index_copy)
    chunks = (build / "chunks.jsonl").read_text().splitlines()
    (build / "chunks.jsonl").write_text("\n".join(chunks[:-1]) + "\n")
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["files"]["chunks.jsonl"]["bytes"] = (build / "chunks.jsonl").stat().st_size
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndexError, match="inconsistent"):
        rag.load_index(index_copy)


def test_current_pointer_to_missing_build(index_copy):
    (index_copy / CURRENT).write_text("no-such-build\n")
    with pytest.raises(CorruptIndexError, match="missing"):
        rag.load_index(index_copy)


def test_add_files_is_incremental_and_idempotent(index_copy, tmp_path):
    extra = tmp_path / "extra.md"
    extra.write_text("---\ntitle: Ferry service\nsource: Test Wire\npublished: 2023-10-05\n---\n"
                     "A ferry service between Nampo and Dalian restarted in October.\n")
    results, report = rag.add_files(index_copy, [extra, tmp_path / "missing.txt"])
    assert [r.status for r in results] == ["added", "rejected"]
    assert report is not None and report.articles == 6 and report.embedded <= 3
    results, report = rag.add_files(index_copy, [extra])
    assert [r.status for r in results] == ["duplicate"] and report is None
    hits = rag.search("ferry to Dalian", k=1, index=index_copy)
    assert hits[0].source == "Test Wire"


def test_an_onnx_model_builds_searches_and_refuses_the_other_model(tmp_path):
    # bge-small-en-v1.5 runs through onnxruntime, not sentence-transformers: the
    # whole path (chunk with its tokenizer, embed, write, load, search) must hold.
    bge = Config(model="bge-small-en-v1.5")
    target = tmp_path / "bge"
    report = rag.build_index([rag.bundled_corpus_dir()], target, config=bge, progress=False)
    assert report.articles == 5 and report.embedded > 5
    index = rag.load_index(target, config=bge)
    assert index.manifest["model"] == "bge-small-en-v1.5" and index.dimension == 384
    assert np.allclose(np.linalg.norm(index.chunk_vectors, axis=1), 1.0, atol=1e-4)
    hits = rag.search("By how much did Chinese exports to North Korea rise?", index=index,
                      config=bge, k=3)
    assert hits and any("export" in h.text.lower() for h in hits)
    with pytest.raises(IndexMismatchError, match=r"bge-small-en-v1\.5"):
        rag.load_index(target, config=Config())


def test_the_part_model_encodes_every_sentence_on_its_own(part_model_index):
    from rag.answer import sentence_text
    from rag.config import PART_MODEL

    index = part_model_index
    assert index.manifest["settings"]["part_model"] == index.part_model == PART_MODEL
    assert "part_vectors.npy" in index.manifest["files"]
    assert index.part_vectors.shape == (len(index.sentences), 384)
    assert np.allclose(np.linalg.norm(index.part_vectors, axis=1), 1.0, atol=1e-2)
    embedder = index.part_embedder()
    for row in (0, len(index.sentences) // 2, len(index.sentences) - 1):
        alone = embedder.encode([sentence_text(index, row)])[0]
        assert float(alone @ index.part_vectors[row]) > 0.99  # stored as float16


def test_a_rebuild_reuses_part_vectors(part_model_index, tmp_path):
    from rag.config import PART_MODEL

    config = Config(part_model=PART_MODEL)
    target = tmp_path / "idx"
    shutil.copytree(part_model_index.path.parents[1], target)
    corpus = tmp_path / "corpus"
    shutil.copytree(rag.bundled_corpus_dir(), corpus)
    report = rag.build_index([corpus], target, config=config, progress=False)
    assert report.part_embedded == 0 and report.embedded == 0
    (corpus / "new.txt").write_text("Freight trains between Dandong and Sinuiju resumed.")
    report = rag.build_index([corpus], target, config=config, progress=False)
    assert report.part_embedded == 1  # only the new article's one sentence
    assert rag.load_index(target, config=config).part_vectors.shape[0] == report.sentences


def test_an_index_without_a_part_model_and_an_older_one(bundled_index, tmp_path):
    from rag.config import PART_MODEL

    assert bundled_index.part_model is None and bundled_index.part_vectors is None
    assert not (bundled_index.path / "part_vectors.npy").exists()
    target = tmp_path / "idx"
    shutil.copytree(bundled_index.path.parents[1], target)
    with pytest.raises(IndexMismatchError, match="part_model"):
        rag.load_index(target, config=Config(part_model=PART_MODEL))
    # An index built before there was a part model records none: it loads as one without.
    manifest_file = resolve_build(target) / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    del manifest["settings"]["part_model"]
    manifest_file.write_text(json.dumps(manifest))
    assert rag.load_index(target).part_model is None
    assert rag.load_index(target, config=Config()).part_model is None


def test_missing_part_vectors_are_detected(part_model_index, tmp_path):
    target = tmp_path / "idx"
    shutil.copytree(part_model_index.path.parents[1], target)
    build = resolve_build(target)
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest["files"]["part_vectors.npy"]
    (build / "manifest.json").write_text(json.dumps(manifest))
    (build / "part_vectors.npy").unlink()
    with pytest.raises(CorruptIndexError, match="part vectors"):
        rag.load_index(target)


def test_the_faiss_index_is_chosen_by_size_and_recorded(tmp_path, monkeypatch):
    """Small corpora get an exact flat index; above the threshold, HNSW, whose
    candidates are what the exact search finds (on a small real index, with the
    threshold lowered to force it)."""
    import numpy as np

    import rag
    from rag import build as build_module
    from rag.store import Restriction

    corpus = rag.bundled_corpus_dir()
    flat_dir, hnsw_dir = tmp_path / "flat", tmp_path / "hnsw"
    rag.build_index([corpus], flat_dir, progress=False)
    monkeypatch.setattr(build_module, "HNSW_ABOVE", 5)
    rag.build_index([corpus], hnsw_dir, progress=False)
    flat, hnsw = rag.load_index(flat_dir), rag.load_index(hnsw_dir)
    assert flat.manifest["faiss"] == {"type": "flat"} and not flat.approximate
    assert hnsw.manifest["faiss"]["type"] == "hnsw" and hnsw.approximate
    assert hnsw.faiss.hnsw.efSearch == hnsw.manifest["faiss"]["efSearch"]
    # A view asks the OS for its chunks' vectors where FAISS stores them: the file's end.
    from rag.scope import _vectors_file

    file, offset = _vectors_file(hnsw)
    stored = np.fromfile(file, dtype=np.float32, offset=offset)
    assert stored.tobytes() == np.ascontiguousarray(hnsw.chunk_vectors).tobytes()
    assert _vectors_file(flat) is None
    vector = flat.embedder().encode_query("Kim Jong Un visit to Beijing")
    exact = np.argsort(-(flat.chunk_vectors @ vector), kind="stable")[:10]
    found = hnsw.store.candidates(hnsw, vector, [], None, None).dense(10, Restriction(None, None))
    assert list(found) == list(exact)
    mask = np.zeros(len(hnsw.chunks), dtype=bool)
    mask[::2] = True
    restricted = hnsw.store.candidates(hnsw, vector, [], None, None).dense(
        5, Restriction(None, mask))
    assert all(mask[r] for r in restricted) and len(restricted) == 5
    # Beyond EXACT_SUBSET rows a filtered search is the HNSW graph's, with a bitmap.
    from rag import store as store_module

    monkeypatch.setattr(store_module, "EXACT_SUBSET", 0)
    graph = hnsw.store.candidates(hnsw, vector, [], None, None).dense(5, Restriction(None, mask))
    order = np.argsort(-(flat.chunk_vectors @ vector), kind="stable")
    assert graph.tolist() == [int(r) for r in order if mask[r]][:5]
    # The answers are the same on both indexes.
    question = "By how much did Chinese exports to North Korea rise in September?"
    assert rag.ask(question, index=flat).text == rag.ask(question, index=hnsw).text


def test_bm25_is_written_at_build_and_an_older_build_derives_it(tmp_path):
    """The BM25 indexes and word statistics are files of the build, loaded memory-mapped;
    a build from before them (no such files in its manifest) still loads and scores
    the same."""
    import json
    import shutil

    import numpy as np

    import rag
    from rag.index_format import IDF, MANIFEST, resolve_build

    new_dir, old_dir = tmp_path / "new", tmp_path / "old"
    rag.build_index([rag.bundled_corpus_dir()], new_dir, progress=False)
    build = resolve_build(new_dir)
    manifest = json.loads((build / MANIFEST).read_text())
    assert IDF in manifest["files"] and any(f.startswith("bm25_chunks/") for f in manifest["files"])
    shutil.copytree(new_dir, old_dir)
    old_build = resolve_build(old_dir)
    for name in [f for f in manifest["files"] if f == IDF or f.startswith("bm25_")]:
        del manifest["files"][name]
    (old_build / MANIFEST).write_text(json.dumps(manifest))
    shutil.rmtree(old_build / "bm25_chunks")
    new, old = rag.load_index(new_dir), rag.load_index(old_dir)
    terms = ["export", "north", "korea", "septemb"]
    np.testing.assert_allclose(new.bm25().get_scores(terms), old.bm25().get_scores(terms),
                               rtol=1e-6)
    np.testing.assert_allclose(new.sentence_bm25(terms), old.sentence_bm25(terms), rtol=1e-6)
    assert new.idf() == old.idf()


def test_bm25_files_do_not_depend_on_the_hash_seed(tmp_path):
    # Word ids in sorted order: two builds of one corpus write the same BM25 files
    # (bm25s numbers words in a set's order, which follows the hash seed).
    import os
    import subprocess
    import sys

    script = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from rag.index import lexical_indexes, save_lexical\n"
        "from rag.records import Article, Chunk\n"
        "text = 'Exports to North Korea rose. Trade with China fell sharply in May.'\n"
        "a = Article(id='a1', text=text)\n"
        "c = Chunk(id='c1', article_id='a1', start=0, end=len(text), text=text, ordinal=0,"
        " n_tokens=14)\n"
        "s = np.array([[0, 0, 28], [0, 29, len(text)]])\n"
        "out = Path(sys.argv[1]); out.mkdir()\n"
        "save_lexical(out, *lexical_indexes([c], s, [a]))\n"
    )
    written = []
    for seed in ("1", "2"):
        folder = tmp_path / f"seed-{seed}"
        subprocess.run([sys.executable, "-c", script, str(folder)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed})
        written.append({str(f.relative_to(folder)): f.read_bytes()
                        for f in sorted(folder.rglob("*")) if f.is_file()})
    assert written[0] == written[1] and len(written[0]) > 2
