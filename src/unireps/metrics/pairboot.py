"""RDM comparisons on many stimulus resamples at once, without building or re-ranking each resampled RDM.

A bootstrap draw resamples the n stimuli with replacement (indices ``idx``); its resampled condensed RDM holds,
for every pair of draw positions i < j with ``idx[i] != idx[j]``, the original dissimilarity of the pair
{idx[i], idx[j]} (pairs of two copies of one stimulus are dropped, as ``unireps.metrics.ceiling.score_sample`` and
rsatoolbox do).  With c_a the number of copies of stimulus a in the draw, the original pair {a, b} appears

    w_ab = c_a c_b

times in it.  Every comparison of ``unireps.metrics.rsa`` except Kendall's tau is then a weighted statistic over
the m = n(n-1)/2 original pairs with weights w (Pearson r, cosine, and on ranks Spearman's rho and rho-a), and
the average rank of pair p in the resampled RDM is

    rank_p = W_<(v_p) + (W_=(v_p) + 1) / 2,

W_< and W_= the total weight of the pairs with a smaller and with an equal value: one sort of each original RDM
serves every draw (a cumulative sum per draw instead of a sort).  The values equal those of building the
resampled RDMs and comparing them (``unireps.metrics.ceiling.compare_matrix``) up to float rounding.
"""

from __future__ import annotations

import numpy as np

WEIGHTED_METHODS = ("spearman", "pearson", "cosine", "rho_a")
_WEIGHT_ELEMENTS = 1 << 22  # pair weights built at once by compare_resamples (32 MB of float64)
_CHUNK_ELEMENTS = 1 << 24  # draws per chunk: at most 128 MB of float64 in (pairs x draws) arrays


def pair_weights(draws: np.ndarray, n: int) -> np.ndarray:
    """Multiplicity of every original pair in each resampled RDM: (n_draws, n(n-1)/2) float64, w_ab = c_a c_b.

    ``draws``: (n_draws, n) stimulus indices drawn with replacement, or a list of index arrays of any lengths
    (e.g. the halves of a split: weight 1 for the pairs within a half, 0 otherwise); pairs in condensed
    (``squareform``) order.

    >>> import numpy as np
    >>> pair_weights(np.array([[0, 0, 2]]), 3)  # pairs (0,1), (0,2), (1,2)
    array([[0., 2., 0.]])
    """
    draws = draws if isinstance(draws, list) else np.atleast_2d(np.asarray(draws))
    counts = np.stack([np.bincount(np.asarray(d), minlength=n) for d in draws]).astype(np.float64)
    i, j = np.triu_indices(n, 1)
    return counts[:, i] * counts[:, j]


def _cumsum_rows(A: np.ndarray) -> np.ndarray:
    """Cumulative sums down the rows of A (m, B), in place.  With many columns one vector addition per row (numpy's
    cumsum along axis 0 is about 4x slower there).  Exact for integer-valued float64 below 2**53 (pair weights)."""
    if A.shape[1] < 128:
        return np.cumsum(A, axis=0, out=A)
    for i in range(1, len(A)):
        np.add(A[i], A[i - 1], out=A[i])
    return A


def _ranks(v: np.ndarray, WT: np.ndarray) -> np.ndarray:
    """Average ranks of v's entries in each weighted sample (columns of WT (m, B)): (m, B).

    C = cumulative weight in sorted order; a tie group ending at C_end with C_before before it has average rank
    (C_before + 1 + C_end) / 2."""
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    last = np.r_[sorted_v[1:] != sorted_v[:-1], True]  # the last entry of each group of equal values
    C = _cumsum_rows(WT[order])
    if last.all():  # no ties
        ends = C
        before = np.empty_like(C)
        before[0] = 0.0
        before[1:] = C[:-1]
    else:
        ends = C[last]
        before = np.vstack([np.zeros((1, C.shape[1])), ends[:-1]])
    ends += before
    ends += 1.0
    ends *= 0.5
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    group = inverse if last.all() else (np.cumsum(np.r_[True, last[:-1]]) - 1)[inverse]
    return ends[group]


def _prepared(v: np.ndarray, WT: np.ndarray, compare: str) -> np.ndarray:
    """(m, B): v ranked (rank methods) in each weighted sample (columns of WT), weighted-centred unless cosine."""
    P = _ranks(v, WT) if compare in ("spearman", "rho_a") else np.repeat(v[:, None], WT.shape[1], axis=1)
    if compare != "cosine":
        P -= np.einsum("mb,mb->b", P, WT) / WT.sum(0)
    return P


def resampled_compare(A: np.ndarray, B: np.ndarray, compare: str, weights: np.ndarray) -> np.ndarray:
    """compare(A[k], B[l]) on every resampled RDM: (n_draws, len(A), len(B)).

    ``A`` (kA, m), ``B`` (kB, m): condensed RDMs over the same n stimuli; ``weights`` (n_draws, m): the
    multiplicity of each pair in each draw (``pair_weights``).  ``compare`` in spearman / pearson / cosine / rho_a
    (definitions of ``unireps.metrics.rsa``; Kendall's tau has no weighted form here: resample and use
    ``compare_matrix``).  Equal to ``compare_matrix`` of the resampled RDMs up to float rounding: with x, y the
    weighted-centred values (ranks for spearman and rho-a; uncentred for cosine),
    r = sum_p w_p x_p y_p / sqrt(sum_p w_p x_p^2 sum_p w_p y_p^2); rho-a = 12 sum_p w_p x_p y_p / (M^3 - M),
    M = sum_p w_p.

    >>> import numpy as np
    >>> from unireps.metrics.ceiling import compare_matrix
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.random((2, 45)), rng.random((1, 45))  # 10 stimuli
    >>> idx = rng.integers(0, 10, 10)
    >>> fast = resampled_compare(A, B, "spearman", pair_weights(idx[None], 10))[0]
    >>> i, j = np.triu_indices(10, 1)
    >>> keep = idx[i] != idx[j]
    >>> lo, hi = np.minimum(idx[i], idx[j])[keep], np.maximum(idx[i], idx[j])[keep]
    >>> flat = 10 * lo - lo * (lo + 1) // 2 + (hi - lo - 1)
    >>> bool(np.allclose(fast, compare_matrix(A[:, flat], B[:, flat], "spearman"), atol=1e-12))
    True
    """
    if compare not in WEIGHTED_METHODS:
        raise ValueError(f"resampled_compare supports compare in {WEIGHTED_METHODS}, got {compare!r}; for Kendall's "
                         "tau build each resampled RDM and use unireps.metrics.ceiling.compare_matrix")
    A, B = np.atleast_2d(np.asarray(A, np.float64)), np.atleast_2d(np.asarray(B, np.float64))
    W = np.atleast_2d(np.asarray(weights, np.float64))
    if not (A.shape[1] == B.shape[1] == W.shape[1]):
        raise ValueError(f"A, B and weights must cover the same pairs; got {A.shape[1]}, {B.shape[1]} and "
                         f"{W.shape[1]} columns")
    out = np.empty((len(W), len(A), len(B)))
    step = max(1, _CHUNK_ELEMENTS // (W.shape[1] * (len(B) + 4)))
    for s in range(0, len(W), step):
        WT = np.ascontiguousarray(W[s:s + step].T)
        PB = np.stack([_prepared(y, WT, compare) for y in B])
        nb = np.einsum("lmb,mb,lmb->bl", PB, WT, PB)
        for k, x in enumerate(A):
            P = _prepared(x, WT, compare)
            na = np.einsum("mb,mb,mb->b", P, WT, P)  # sum_p w_p x_p^2
            _check_norms(na, nb)
            P *= WT
            cross = np.einsum("mb,lmb->bl", P, PB)  # sum_p w_p x_p y_p
            if compare == "rho_a":
                M = WT.sum(0)
                out[s:s + step, k] = 12.0 * cross / (M ** 3 - M)[:, None]
            else:
                out[s:s + step, k] = cross / np.sqrt(na)[:, None] / np.sqrt(nb)
    return out


def weighted_ranks(V: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Average ranks of each row of V in its weighted sample (row b of W: the copies of each entry): (B, m).

    For a row v with weights w: rank_p = sum of w over entries below v_p + (sum of w over entries equal to v_p + 1)
    / 2, the average rank that ``scipy.stats.rankdata`` gives entry p in the sample holding w_p copies of it.
    Entries of weight 0 get a value that no weighted statistic uses.  One sort per row (V differs per row).

    >>> import numpy as np
    >>> weighted_ranks(np.array([[3., 1., 2., 1.]]), np.array([[1., 2., 0., 1.]]))
    array([[4. , 2. , 3.5, 2. ]])
    """
    V, W = np.atleast_2d(V), np.atleast_2d(np.asarray(W, np.float64))
    order = np.argsort(V, axis=1, kind="stable")
    sv = np.take_along_axis(V, order, 1)
    C = np.cumsum(np.take_along_axis(W, order, 1), axis=1)
    pos = np.arange(V.shape[1])
    last = np.ones(V.shape, dtype=bool)
    last[:, :-1] = sv[:, 1:] != sv[:, :-1]
    first = np.ones(V.shape, dtype=bool)
    first[:, 1:] = last[:, :-1]
    end = np.minimum.accumulate(np.where(last, pos, V.shape[1])[:, ::-1], axis=1)[:, ::-1]
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=1)
    before = np.where(start > 0, np.take_along_axis(C, np.maximum(start - 1, 0), 1), 0.0)
    out = np.empty_like(C)
    np.put_along_axis(out, order, (before + 1.0 + np.take_along_axis(C, end, 1)) / 2.0, 1)
    return out


def weighted_corr(X: np.ndarray, Y: np.ndarray, W: np.ndarray, compare: str = "spearman") -> np.ndarray:
    """Row-wise weighted Pearson r of X and Y (spearman: X and Y already ranked, e.g. by ``weighted_ranks``), or
    rho-a = 12 sum_p w_p x_p y_p / (M^3 - M) of the weighted-centred ranks (M = sum_p w_p): (B,).

    >>> import numpy as np
    >>> x, y, w = np.array([[1., 2, 3]]), np.array([[1., 3, 2]]), np.array([[1., 1, 2]])
    >>> bool(np.isclose(weighted_corr(x, y, w)[0], np.corrcoef([1, 2, 3, 3], [1, 3, 2, 2])[0, 1]))
    True
    """
    sw = W.sum(1, keepdims=True)
    xc = X - (W * X).sum(1, keepdims=True) / sw
    yc = Y - (W * Y).sum(1, keepdims=True) / sw
    cross = (W * xc * yc).sum(1)
    if compare == "rho_a":
        M = sw[:, 0]
        return 12.0 * cross / (M ** 3 - M)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cross / np.sqrt((W * xc * xc).sum(1) * (W * yc * yc).sum(1))


def compare_resamples(A: np.ndarray, B: np.ndarray, compare: str, draws, n: int) -> np.ndarray:
    """``resampled_compare`` for the stimulus draws ``draws`` (rows of indices, or a list of index arrays), with the
    pair weights built a chunk of draws at a time (at most about 2**22 weights held at once, whatever n).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A = rng.random((2, 45))
    >>> compare_resamples(A, A, "spearman", rng.integers(0, 10, (3, 10)), 10).shape
    (3, 2, 2)
    """
    draws = list(draws)
    m = n * (n - 1) // 2
    step = max(1, min(len(draws), _WEIGHT_ELEMENTS // max(m, 1)))
    parts = [resampled_compare(A, B, compare, pair_weights(draws[s:s + step], n))
             for s in range(0, len(draws), step)]
    return np.concatenate(parts) if parts else np.empty((0, len(np.atleast_2d(A)), len(np.atleast_2d(B))))


def _check_norms(na: np.ndarray, nb: np.ndarray) -> None:
    if (na == 0).any() or (nb == 0).any():
        raise ValueError("an RDM is constant (all dissimilarities equal) or zero on a resample, so its comparison "
                         "with another RDM is undefined; drop it")


__all__ = [
    "WEIGHTED_METHODS", "compare_resamples", "pair_weights", "resampled_compare", "weighted_corr", "weighted_ranks",
]
