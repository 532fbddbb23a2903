import numpy as np
import pytest

from rag import ConfigError
from rag.embeddings import Embedder, get_embedder, resolve_model_path


def test_packaged_model_loads_offline_and_normalises():
    embedder = get_embedder("all-MiniLM-L6-v2")
    assert get_embedder("all-MiniLM-L6-v2") is embedder
    vectors = embedder.encode(["Chinese exports to North Korea rose.", "A cat sat on a mat."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.encode_query("How much did exports to North Korea grow?")
    assert float(vectors[0] @ query) > float(vectors[1] @ query) + 0.2


def test_model_is_not_loaded_until_used():
    fresh = Embedder("all-MiniLM-L6-v2")
    assert fresh._model is None
    assert fresh.encode([]).shape == (0, 384)
    assert fresh._model is not None


def test_unknown_model_says_what_to_do():
    with pytest.raises(ConfigError, match="not available offline"):
        resolve_model_path("some/other-model")
