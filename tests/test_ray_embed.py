"""The Ray encoder gives the same vectors as the in-process model (a local Ray instance)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray")


@pytest.mark.slow
def test_ray_workers_encode_like_the_in_process_model(bundled_index):
    from rag.embeddings import get_embedder
    from rag.ray_embed import BATCH, RayEncoder

    # More texts than one batch, so that both workers get some.
    chunks = (bundled_index.chunks * (BATCH // len(bundled_index.chunks) + 2))[: BATCH + 9]
    texts = [c.text for c in chunks]
    spans = [[(0, min(40, len(t))), (10, min(120, len(t)))] for t in texts]
    local, local_spans = get_embedder(bundled_index.model).encode_with_spans(texts, spans)
    with RayEncoder(bundled_index.model, workers=2) as ray_encoder:
        vectors, span_vectors = ray_encoder.encode_with_spans(texts, spans)
        plain = ray_encoder.encode(texts[:3])
    np.testing.assert_allclose(vectors, local, atol=1e-5)
    assert len(span_vectors) == len(local_spans)
    for got, want in zip(span_vectors, local_spans, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(plain, get_embedder(bundled_index.model).encode(texts[:3]),
                               atol=1e-5)


def test_a_bad_worker_count_or_cluster_is_a_clear_error():
    from rag.errors import ConfigError, RagError
    from rag.ray_embed import RayEncoder

    with pytest.raises(ConfigError, match="at least 1"):
        RayEncoder("all-MiniLM-L6-v2", workers=0)
    with pytest.raises(RagError, match=r"cannot start or join ray://127\.0\.0\.1:1"):
        RayEncoder("all-MiniLM-L6-v2", address="ray://127.0.0.1:1").start()


@pytest.mark.slow
def test_rag_build_on_ray_writes_the_same_index_to_the_chosen_store(bundled_index, tmp_path):
    import rag
    from rag.cli import main

    pytest.importorskip("milvus_lite")
    target = tmp_path / "ray-index"
    uri = f"milvus://{tmp_path / 'chunks.db'}"
    assert main(["build", "--index", str(target), "--quiet", "--ray", "--ray-workers", "2",
                 "--store", uri]) == 0
    built = rag.load_index(target)
    try:
        assert [c.id for c in built.chunks] == [c.id for c in bundled_index.chunks]
        assert [a.id for a in built.article_list] == [a.id for a in bundled_index.article_list]
        np.testing.assert_allclose(built.chunk_vectors, bundled_index.chunk_vectors, atol=1e-5)
        np.testing.assert_array_equal(built.sentences, bundled_index.sentences)
        np.testing.assert_allclose(built.sentence_vectors.astype(np.float32),
                                   bundled_index.sentence_vectors.astype(np.float32), atol=2e-3)
        assert built.manifest["store"]["uri"] == uri
        assert built.store.count() == len(built.chunks)
    finally:
        built.store.close()
