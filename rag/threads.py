"""Keep BLAS on one thread while a question's arithmetic runs.

A question costs one forward pass of the embedding model (torch, on its own
OpenMP threads) and then a few matrix-vector products (numpy, on OpenBLAS's
threads). On a 2-core machine the two thread pools fight: OpenBLAS's workers
keep spinning after a product finishes and take a core from the next forward
pass. The products are small and bound by memory, so one thread does them
about as fast; limiting BLAS to one thread during retrieval and composing
made warm ``ask()`` on the MultiHop-RAG index about twice as fast (docs/experiments.md,
*Speed*).

Each thread limits and restores for itself, with its own threadpoolctl
controller (about 5 ms to make, once per thread). It is best effort: the
speed-up was measured on the calling (main) thread; from a worker thread,
OpenBLAS 0.3.31 did not always report the limit as set, though ``ask()`` in
a worker thread measured about as fast (p50 95 against 84 ms in the main
thread, other questions; 130 ms before). Only speed is at stake either way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (nesting is fine)."""
    depth = getattr(_local, "depth", 0)
    limiter = _limit() if depth == 0 else None
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
        if limiter is not None:
            limiter.restore_original_limits()


def _limit() -> Any:
    try:
        controller = getattr(_local, "controller", None)
        if controller is None:
            from threadpoolctl import ThreadpoolController

            controller = _local.controller = ThreadpoolController()
        return controller.limit(limits=1, user_api="blas")
    except Exception:  # pragma: no cover - threadpoolctl missing or unsupported BLAS
        # Only speed is at stake: carry on with BLAS as it is.
        return None
