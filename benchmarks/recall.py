"""Recall@k of an approximate search against exact search, counted two ways.

- **by ids**: the share of the exact top k's ids the search returns. A corpus with
  duplicate chunks (the same wire story in two outlets; bench_scale's corpora, made by
  resampling paragraphs, have many) has ties at the k-th score, and exact search's
  choice among tied copies is arbitrary, so this undercounts: a search that returns
  the other copy is as right.
- **with ties** (the convention of ann-benchmarks): the share of the returned results
  that score at least the exact k-th score (less ``TIE``). This is the figure the
  benchmarks report as ``ann_recall_at_10``; the by-ids one is reported beside it.
"""

from __future__ import annotations

import numpy as np

#: Scores this close to the k-th are ties (fp32 cosines of identical vectors agree
#: to ~1e-7).
TIE = 1e-6


def recall_at(scores: np.ndarray, found: np.ndarray, k: int = 10) -> tuple[float, float]:
    """(by ids, with ties) for one question: ``scores`` are the exact scores of every
    chunk, ``found`` the ids the approximate search returned (-1: none)."""
    found = np.asarray(found, dtype=np.int64)[:k]
    found = found[found >= 0]
    exact = np.argpartition(-scores, k)[:k] if len(scores) > k else np.arange(len(scores))
    kth = float(scores[exact].min()) if len(exact) else 0.0
    by_ids = len(set(exact.tolist()) & set(found.tolist())) / k
    with_ties = float(np.sum(scores[found] >= kth - TIE)) / k
    return by_ids, with_ties
