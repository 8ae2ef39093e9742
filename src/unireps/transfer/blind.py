"""Blind matching: which caption belongs to which image, from the two similarity structures alone.

Given image features X (n, d_X) and text features Y (n, d_Y) of the same n items in an unknown order, build each
side's kernel K = C Cᵀ with C the centred, row-normalised features (cosine similarity of centred rows), and solve
the quadratic assignment problem

    max_P  tr(K_X P K_Y Pᵀ)   over permutation matrices P,

optionally with ``n_seeds`` known pairs fixed (seeded graph matching), by the Fast Approximate QAP algorithm
(Vogelstein et al. 2015; :func:`scipy.optimize.quadratic_assignment`, ``method="faq"``). This is the training-free
matching of Maniparambil et al. (CVPR 2024, "Do Vision and Language Encoders Represent the World Similarly?").
No parameter is learned; with no seeds nothing paired is used at all.

Accuracy is the fraction of the non-seed items matched to their own caption. A random bijection of m items matches
1 item on average, so chance is 1 / m. The text rows are shuffled before matching (and the answer mapped back), so
an algorithm that returned the identity would score at chance. Of ``n_init`` FAQ starts (first the barycentre,
then random doubly stochastic matrices), the one with the largest objective is kept: the choice uses no
pairing information.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .maps import check_paired


def cosine_kernel(X) -> np.ndarray:
    """(n, n) cosine similarities of the centred rows of X.

    >>> tuple((cosine_kernel(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]]))[0].round(2) + 0.0).tolist())
    (1.0, -1.0, 0.0, 0.0)
    """
    from .maps import as_matrix

    c = as_matrix(X)
    c = c - c.mean(0)
    norms = np.linalg.norm(c, axis=1, keepdims=True)
    if np.any(norms < 1e-12 * max(float(np.abs(c).max()), 1e-300)):
        raise ValueError("a row equals the mean of all rows (zero after centring), so its cosine similarity is "
                         "undefined; drop duplicate or degenerate items first")
    c = c / norms
    return c @ c.T


@dataclass(frozen=True)
class BlindMatch:
    """Result of :func:`blind_match`. ``match[i]``: the text row assigned to image row i; ``seeds``: the rows
    given as known pairs; ``accuracy``: the fraction of the other rows matched correctly; ``chance``: 1 / their
    number; ``objective``: tr(K_X P K_Y Pᵀ) of the answer."""

    match: np.ndarray
    seeds: np.ndarray
    accuracy: float
    chance: float
    objective: float
    n_items: int


def _check_int(name: str, v, lo: int) -> int:
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def blind_match(X, Y, n_seeds: int = 0, *, seed: int = 0, n_init: int = 5, shuffle_seeds: bool = False,
                seeds: np.ndarray | None = None) -> BlindMatch:
    """Match the rows of X to the rows of Y (truly paired row by row) from their kernels alone; see the module.

    ``n_seeds`` known pairs are drawn at random (``seed``) unless ``seeds`` (row indices) are given.
    ``shuffle_seeds=True`` is the permutation null: the seed rows are given with their captions shuffled among
    them, i.e. wrong pairs.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(12, 5)); Q = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    >>> blind_match(X, X @ Q, n_seeds=0, n_init=3).accuracy
    1.0
    """
    x, y = check_paired(X, Y, ("X (image features)", "Y (text features)"))
    n = len(x)
    n_seeds = _check_int("n_seeds", n_seeds, 0)
    n_init = _check_int("n_init", n_init, 1)
    if n < 3:
        raise ValueError(f"blind matching needs at least 3 items, got {n}")
    rng = np.random.default_rng(seed)
    if seeds is None:
        if n_seeds > n - 2:
            raise ValueError(f"n_seeds={n_seeds} leaves fewer than 2 of the {n} items to match; use at most {n - 2}")
        seeds = np.sort(rng.choice(n, size=n_seeds, replace=False))
    else:
        seeds = np.unique(np.asarray(seeds, dtype=np.int64))
        if seeds.size and (seeds.min() < 0 or seeds.max() >= n or seeds.size > n - 2):
            raise ValueError(f"seeds must be distinct row indices in 0..{n - 1}, leaving at least 2 rows to match")
    return _solve(cosine_kernel(x), cosine_kernel(y), seeds, rng, n_init, shuffle_seeds)


def _solve(kx: np.ndarray, ky: np.ndarray, seeds: np.ndarray, rng: np.random.Generator, n_init: int,
           shuffle_seeds: bool) -> BlindMatch:
    from scipy.optimize import quadratic_assignment

    n = len(kx)
    perm = rng.permutation(n)  # text row perm[j] is shown at position j
    inv = np.argsort(perm)
    seed_txt = seeds.copy()
    if shuffle_seeds and len(seeds) > 1:
        while np.array_equal(seed_txt, seeds):
            seed_txt = rng.permutation(seeds)
    partial = np.column_stack([seeds, inv[seed_txt]]) if len(seeds) else None
    kys = ky[np.ix_(perm, perm)]
    best = None
    for start in range(n_init):
        opts = {"maximize": True, "P0": "barycenter" if start == 0 else "randomized", "rng": rng}
        if partial is not None:
            opts["partial_match"] = partial
        res = quadratic_assignment(kx, kys, method="faq", options=opts)
        if best is None or res.fun > best.fun:
            best = res
    match = perm[best.col_ind]
    rest = np.setdiff1d(np.arange(n), seeds)
    acc = float(np.mean(match[rest] == rest))
    return BlindMatch(match=match, seeds=seeds, accuracy=acc, chance=1.0 / len(rest), objective=float(best.fun),
                      n_items=n)
