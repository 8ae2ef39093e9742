"""Non-IID label partitions of a labelled training set across federated clients.

Dirichlet label skew (Hsu, Qi & Brown 2019, "Measuring the effects of non-identical data distribution for federated
visual classification"; the partition of Yurochkin et al. 2019 and Wang et al. 2020, FedMA): for every class c,
proportions p_c ~ Dir(α · 1_K) over the K clients split the examples of class c (shuffled) between the clients.
Small α (0.1) gives each client a few classes; large α (10, 100) approaches an IID split.

Convention: a draw is rejected and redrawn (same generator) while any client holds fewer than ``min_size``
examples, so every client is non-empty; the number of redraws is returned.  The result depends only on the labels,
K, α and ``seed`` (``numpy.random.default_rng(seed)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def dirichlet_partition(labels, n_clients: int, alpha: float, *, seed: int = 0, min_size: int = 10,
                        max_draws: int = 1000) -> list[np.ndarray]:
    """Split the indices of ``labels`` into ``n_clients`` disjoint sorted index arrays by Dirichlet(α) label skew.

    Every index is assigned to exactly one client; every client gets at least ``min_size`` indices (draws that
    violate this are redrawn, at most ``max_draws`` times, then a ValueError says how to relax it).

    >>> import numpy as np
    >>> parts = dirichlet_partition(np.repeat(np.arange(10), 50), n_clients=5, alpha=0.1, seed=0)
    >>> len(parts), sum(len(p) for p in parts), min(len(p) for p in parts) >= 10
    (5, 500, True)
    """
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array of class ids, got shape {y.shape}")
    if not isinstance(n_clients, int | np.integer) or n_clients < 2:
        raise ValueError(f"n_clients must be an integer >= 2, got {n_clients!r}")
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha (Dirichlet concentration) must be a positive number, got {alpha!r}")
    if n_clients * min_size > len(y):
        raise ValueError(f"{n_clients} clients x min_size {min_size} exceeds the {len(y)} examples; use fewer "
                         "clients or a smaller min_size")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    for _ in range(max_draws):
        parts: list[list[np.ndarray]] = [[] for _ in range(n_clients)]
        for c in classes:
            idx = rng.permutation(np.flatnonzero(y == c))
            p = rng.dirichlet(np.full(n_clients, float(alpha)))
            cuts = (np.cumsum(p)[:-1] * len(idx)).astype(int)
            for k, chunk in enumerate(np.split(idx, cuts)):
                parts[k].append(chunk)
        out = [np.sort(np.concatenate(p)) for p in parts]
        if min(len(p) for p in out) >= min_size:
            return out
    raise ValueError(f"no Dirichlet(alpha={alpha}) draw in {max_draws} gave every one of {n_clients} clients "
                     f">= {min_size} examples; raise alpha, lower min_size or use fewer clients")


def partition_summary(labels, parts: list[np.ndarray], n_classes: int | None = None) -> pd.DataFrame:
    """Counts per client (rows ``client``) and class (columns), plus ``n``, ``n_classes_held`` (classes with at
    least one example) and ``top_class_share`` (the largest class's share of the client's data; 1/C when IID).

    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1])
    >>> partition_summary(y, [np.array([0, 1]), np.array([2, 3])])["n_classes_held"].tolist()
    [1, 1]
    """
    y = np.asarray(labels)
    n_classes = int(n_classes or y.max() + 1)
    counts = np.stack([np.bincount(y[p], minlength=n_classes) for p in parts])
    import pandas as pd  # not on the clients' import path (Flower actors)

    table = pd.DataFrame(counts, columns=[f"class_{c}" for c in range(n_classes)])
    table.insert(0, "client", np.arange(len(parts)))
    table["n"] = counts.sum(1)
    table["n_classes_held"] = (counts > 0).sum(1)
    table["top_class_share"] = counts.max(1) / np.maximum(counts.sum(1), 1)
    return table
