"""Cross-model retrieval: query i should retrieve gallery item i (the same stimulus) by cosine similarity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .maps import check_paired


def retrieval_recall(queries, gallery, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Recall@k: the fraction of queries i whose own gallery item i is among the k most cosine-similar items.

    Ties are broken against the correct item (its rank counts every item scoring at least as high).
    Returns ``{"R@1": .., "R@5": ..}`` for the given ``ks``.
    """
    q, g = check_paired(queries, gallery, ("queries", "gallery"))
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} features but the gallery has {g.shape[1]}; map one space into "
                         "the other first (e.g. LinearMap().fit(...).transform(queries))")
    ks = [int(k) for k in ((ks,) if isinstance(ks, int | np.integer) else ks)]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    sims = qn @ gn.T
    own = np.diag(sims)
    rank = (sims > own[:, None]).sum(1) + (sims == own[:, None]).sum(1) - 1  # 0 = best; ties count against
    return {f"R@{k}": float((rank < k).mean()) for k in ks}
