"""Embedding spread over a Ray cluster: one model per worker, batches handed out in order.

``rag build PATHS --ray [ADDRESS]`` uses this in place of the in-process model. Each
worker (a Ray actor) loads the index's model once and runs the same
``Embedder.encode_with_spans`` the single-process build runs, on its share of the
chunks; the results come back in input order, so the index is the same as a
single-process build's (same ids, vectors equal within float tolerance: a batch's
padding differs).

Without an address a local Ray instance is started in this process (as the tests
do); with one (``auto`` or ``ray://host:10001``) the build joins that cluster,
whose nodes need this package and its model installed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, RagError

#: Chunks per task: large enough to keep a worker's model busy, small enough to
#: spread a small build over every worker.
BATCH = 64
_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


class _Worker:
    """A Ray actor holding one model (its torch threads set to its share of the CPUs)."""

    def __init__(self, model: str, threads: int):
        for key, value in _ENV.items():
            os.environ.setdefault(key, value)
        try:
            import torch

            torch.set_num_threads(max(1, threads))
        except ImportError:  # pragma: no cover - an ONNX-only model needs no torch
            pass
        from rag.embeddings import make_embedder

        self.embedder = make_embedder(model)
        self.embedder.warm_up()

    def spans(self, texts: list[str],
              spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.embedder.encode_with_spans(texts, spans, progress=False)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


class RayEncoder:
    """Encodes like an ``Embedder`` (``encode_with_spans``, ``encode``) on Ray workers."""

    def __init__(self, model: str, *, address: str | None = None, workers: int = 2,
                 cpus_per_worker: float = 1.0):
        if workers < 1:
            raise ConfigError(f"Ray workers must be at least 1, got {workers}")
        self.model = model
        self.address = address
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self._actors: list[Any] = []
        self._started_ray = False

    def __enter__(self) -> RayEncoder:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - installed with the project
            raise RagError("the Ray build needs ray: pip install 'rag[ray]'") from exc
        if not ray.is_initialized():
            _check_reachable(self.address)
            try:
                if self.address:
                    ray.init(address=self.address, runtime_env={"env_vars": _ENV},
                             log_to_driver=False)
                else:
                    ray.init(num_cpus=max(1, round(self.workers * self.cpus_per_worker)),
                             include_dashboard=False, log_to_driver=False,
                             runtime_env={"env_vars": _ENV})
            except Exception as exc:  # ray raises ConnectionError, RuntimeError, ...
                where = self.address or "a local Ray instance"
                raise RagError(f"cannot start or join {where} ({str(exc)[:300]}); start the "
                               "cluster (ray start --head) or leave out the address to "
                               "run a local one") from exc
            self._started_ray = True
        actor = ray.remote(num_cpus=self.cpus_per_worker)(_Worker)
        threads = max(1, int(self.cpus_per_worker))
        self._actors = [actor.remote(self.model, threads) for _ in range(self.workers)]

    def stop(self) -> None:
        import ray

        for a in self._actors:
            ray.kill(a)
        self._actors = []
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    def _spread(self, method: str, jobs: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Run ``method`` on each job, round-robin over the workers; results in job order."""
        import ray

        if not self._actors:
            self.start()
        refs = [getattr(self._actors[i % len(self._actors)], method).remote(*job)
                for i, job in enumerate(jobs)]
        try:
            return list(ray.get(refs))
        except Exception as exc:
            raise RagError(f"a Ray worker failed while embedding ({str(exc)[:300]}); the "
                           "index was not changed: build again") from exc

    def encode_with_spans(self, texts: list[str], spans: list[list[tuple[int, int]]], *,
                          progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """As ``Embedder.encode_with_spans``, each batch of ``BATCH`` texts on a worker."""
        jobs = [(texts[lo: lo + BATCH], spans[lo: lo + BATCH])
                for lo in range(0, len(texts), BATCH)]
        if not jobs:
            return np.zeros((0, 0), dtype=np.float32), []
        results = self._spread("spans", jobs)
        vectors = np.vstack([v for v, _ in results]).astype(np.float32)
        span_vectors = [s for _, batch in results for s in batch]
        return vectors, span_vectors

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        jobs = [(texts[lo: lo + BATCH],) for lo in range(0, len(texts), BATCH)]
        if not jobs:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(self._spread("encode", jobs)).astype(np.float32)


def _check_reachable(address: str | None) -> None:
    """Fail at once on a ``ray://host:port`` nothing listens at (Ray's client would
    wait about 30 s before saying so)."""
    import socket

    if not address or not address.startswith("ray://"):
        return
    host, _, port = address.removeprefix("ray://").partition(":")
    try:
        with socket.create_connection((host, int(port or 10001)), timeout=3):
            return
    except (OSError, ValueError) as exc:
        raise RagError(f"cannot start or join {address} ({exc}); start the cluster "
                       "(ray start --head) or leave out the address to run a local one"
                       ) from exc
