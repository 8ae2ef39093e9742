"""k-nearest-neighbour alignment measures (Huh, Cheung, Wang & Isola, "The Platonic Representation
Hypothesis", ICML 2024).

Neighbour rule (all three measures): rows are L2-normalised, neighbours are the k most cosine-similar other
stimuli (self excluded, as the PRH code does by filling the diagonal with -1e8 before sorting); ties are
broken by index order of ``torch.topk``.  mutual_knn and jaccard_knn are symmetric similarities in
[0, 1]; cknna is at most 1 and not exactly symmetric.

The n×n similarity matrix is never held: only its upper block triangle is formed, in row blocks (about 64 MiB
each by default), and each block's partial selection serves both its rows and its columns, so the cost is half
of each n×n similarity product plus top-k and peak extra memory is O(chunk·n + n·k).
"""

from __future__ import annotations

import torch

from ._validate import acc_dtype, center, check_k, check_pair, rows_pow2, warn_if_chance_high

_CHUNK_BYTES = 1 << 26


def unit_rows(x: torch.Tensor, name: str = "X") -> torch.Tensor:
    """Rows divided by their L2 norms (each row first brought to unit scale by an exact power of two, so the
    norm neither overflows nor underflows); all-zero rows are refused."""
    x = rows_pow2(x)
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError(f"{name} has {int((norms == 0).sum())} all-zero rows; cosine neighbours are undefined "
                         "for them. Drop those stimuli first")
    return x / norms


def _merge_topk(best_v, best_i, v, i, k):
    """Keep the k largest of the current (rows, k) best and new candidates (rows, k'), sorted descending."""
    vv, pos = torch.topk(torch.cat((best_v, v), dim=1), k, dim=1)
    return vv, torch.gather(torch.cat((best_i, i), dim=1), 1, pos)


def _merge_sparse(best_v, best_i, rows, cand, vals, k):
    """Merge scattered candidates (row ``rows[t]`` gains neighbour ``cand[t]`` with similarity ``vals[t]``) into the
    running lists: the candidates of each row are packed into a -inf padded matrix, then one top-k per row."""
    order = torch.argsort(rows)
    rows, cand, vals = rows[order], cand[order], vals[order]
    urows, counts = torch.unique_consecutive(rows, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(rows.numel(), device=rows.device) - torch.repeat_interleave(starts, counts)
    which = torch.repeat_interleave(torch.arange(urows.numel(), device=rows.device), counts)
    width = int(counts.max())
    pv = torch.full((urows.numel(), width), float("-inf"), dtype=vals.dtype, device=vals.device)
    pi = torch.zeros((urows.numel(), width), dtype=torch.int64, device=vals.device)
    pv[which, slot], pi[which, slot] = vals, cand
    best_v[urows], best_i[urows] = _merge_topk(best_v[urows], best_i[urows], pv, pi, k)


def _column_candidates(S, best_v, best_i, s, e, k):
    """Rows e..n-1 gain their candidates among rows s..e-1 from the block's columns right of the diagonal block.

    Only entries above a row's current k-th best can enter its list, so after the first block a comparison pass
    finds the few that do (a partial selection along columns without transposing the block); rows whose lists are
    not yet full get a full top-k over the block's rows."""
    R = S[:, e - s:]  # (block rows) × (rows e..n-1)
    thr = best_v[e:, k - 1]
    if bool(torch.isinf(thr).any()):
        kc = min(k, e - s)
        v, i = torch.topk(R.T, kc, dim=1)
        best_v[e:], best_i[e:] = _merge_topk(best_v[e:], best_i[e:], v, i + s, k)
        return
    ii, jj = torch.nonzero(R > thr, as_tuple=True)
    if ii.numel():
        _merge_sparse(best_v, best_i, jj + e, ii + s, R[ii, jj], k)


def knn(x: torch.Tensor, k: int, groups: torch.Tensor | None = None, chunk: int | None = None):
    """Top-k cosine neighbours of each row of unit-norm x, self excluded.

    ``groups`` (optional, (n,) ints): rows with the same group id are copies of one stimulus (bootstrap
    resamples) and are excluded from each other's neighbour sets.  Returns (indices (n, k) int64,
    similarities (n, k)), each row sorted by decreasing similarity.

    The similarity matrix is symmetric, so only its upper block triangle is formed: row block I (``chunk`` rows,
    about 64 MiB of products by default) against the columns from I's first row on.  Each block serves both
    directions: a partial selection (top-k) along its rows gives row block I its candidates to the right; along its
    columns, a comparison with each later row's current k-th best finds that row's candidates in block I; running
    top-k lists merge them.  Half the flops of
    the full n×n product, no n×n buffer, extra memory O(chunk·n + n·k).
    """
    n = x.shape[0]
    if chunk is None:
        chunk = max(1, _CHUNK_BYTES // (n * x.element_size()))
    best_v = torch.full((n, k), float("-inf"), dtype=x.dtype, device=x.device)
    best_i = torch.zeros((n, k), dtype=torch.int64, device=x.device)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        S = x[s:e] @ x[s:].T  # (rows of block I) × (columns s..n-1)
        rows = torch.arange(e - s, device=x.device)
        S[rows, rows] = float("-inf")
        if groups is not None:
            S.masked_fill_(groups[s:e, None] == groups[None, s:], float("-inf"))
        kr = min(k, S.shape[1])
        v, i = torch.topk(S, kr, dim=1)
        best_v[s:e], best_i[s:e] = _merge_topk(best_v[s:e], best_i[s:e], v, i + s, k)
        if e < n:
            _column_candidates(S, best_v, best_i, s, e, k)
        del S
    return best_i, best_v


_MASK_MAX = 1 << 22  # entries of the (rows, ids) membership mask of overlap_counts: 4 MB of bools


def overlap_counts(ia: torch.Tensor, ib: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """|N_a(i) ∩ N_b(i)| per row, for neighbour index sets ia, ib of shape (n, k): for each entry of ia[i], whether
    it occurs in ib[i], summed over the row.

    Small index ranges (rows × ids at most ``_MASK_MAX``, e.g. n = 500 stimuli in a bootstrap loop): a membership
    mask M[i, j] = (j in ib[i]) is scattered once and read at ia, O(n k) after an n × ids fill; otherwise an
    (n, k, k) comparison in row chunks.  Both count the same integers.

    >>> import torch
    >>> from unireps.metrics.knn import overlap_counts
    >>> overlap_counts(torch.tensor([[0, 1, 2], [3, 4, 5]]), torch.tensor([[2, 1, 7], [6, 7, 8]]))
    tensor([2, 0])
    """
    out = torch.empty(ia.shape[0], dtype=torch.int64, device=ia.device)
    if ia.numel() and ib.numel():
        low = int(torch.minimum(ia.min(), ib.min()))
        ids = int(torch.maximum(ia.max(), ib.max())) + 1
        if low >= 0 and ia.shape[0] * ids <= _MASK_MAX:
            mask = torch.zeros((ia.shape[0], ids), dtype=torch.bool, device=ia.device)
            mask.scatter_(1, ib, True)
            return torch.sum(mask.gather(1, ia), dim=1, dtype=torch.int64)
    for s in range(0, ia.shape[0], chunk):
        a, b = ia[s:s + chunk], ib[s:s + chunk]
        out[s:s + chunk] = (a[:, :, None] == b[:, None, :]).any(dim=2).sum(dim=1)
    return out


def _prepare(X, Y, k):
    x, y = check_pair(X, Y, min_rows=3, rescale=True)
    k = check_k(k, x.shape[0])
    n = x.shape[0]
    warn_if_chance_high("k-NN alignment", k / (n - 1.0), "neighbour overlap",
                        f"k={k} of n-1={n - 1} other stimuli; choose k well below n/2")
    xu, yu = unit_rows(x, "X"), unit_rows(y, "Y")
    center(xu, "X (rows L2-normalised)"), center(yu, "Y (rows L2-normalised)")  # all rows parallel: no neighbours
    return xu, yu, k


def mutual_knn(X, Y, k: int = 10) -> float:
    """Mutual k-NN alignment: mean over i of |N_k^X(i) ∩ N_k^Y(i)| / k (Huh et al. 2024).

    Rows L2-normalised, neighbours by cosine similarity, self excluded. Similarity in [0, 1]; chance level
    for unrelated representations is about k / (n - 1).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import mutual_knn
    >>> mutual_knn(X, X @ Q, k=5)  # the same neighbourhoods
    1.0
    """
    x, y, k = _prepare(X, Y, k)
    ia, _ = knn(x, k)
    ib, _ = knn(y, k)
    return float(overlap_counts(ia, ib).double().mean() / k)


def jaccard_knn(X, Y, k: int = 10) -> float:
    """Mean over i of the Jaccard index |N^X(i) ∩ N^Y(i)| / |N^X(i) ∪ N^Y(i)| of the k-NN sets.

    Same neighbour rule as ``mutual_knn``. Similarity in [0, 1].

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import jaccard_knn
    >>> jaccard_knn(X, X @ Q, k=5)
    1.0
    """
    x, y, k = _prepare(X, Y, k)
    ia, _ = knn(x, k)
    ib, _ = knn(y, k)
    inter = overlap_counts(ia, ib).double()
    return float((inter / (2 * k - inter)).mean())


def _masked_hsic(ik, vk, il, vl, n: int) -> torch.Tensor:
    """Unbiased HSIC (Song et al. 2012) of A = M ⊙ K and B = M ⊙ L, M_ij = [j ∈ N_K(i) ∩ N_L(i)].

    A and B have at most k non-zeros per row and a zero diagonal, so every term of
    [tr(A B) + 1'A1 1'B1/((n-1)(n-2)) - 2/(n-2) 1'AB1] / (n(n-3)) is computed from the neighbour lists.
    A is not symmetric: tr(AB) = sum_ij A_ij B_ji (as in the PRH code, sum(A * B^T)).
    """
    acc = torch.float64
    match = ik[:, :, None] == il[:, None, :]  # (n, k, k): position p of N_K(i) equals position q of N_L(i)
    in_both = match.any(dim=2)  # (n, k) over N_K(i) order
    a_vals = torch.where(in_both, vk.to(acc), 0.0)
    # the L-value of the same neighbour j, gathered in N_K order
    l_in_k_order = (match.to(acc) * vl.to(acc)[:, None, :]).sum(dim=2)
    b_vals = torch.where(in_both, l_in_k_order, 0.0)
    rows = torch.arange(n, device=ik.device)[:, None].expand_as(ik)
    keep = in_both.reshape(-1)
    i_idx, j_idx = rows.reshape(-1)[keep], ik.reshape(-1)[keep]
    a_flat, b_flat = a_vals.reshape(-1)[keep], b_vals.reshape(-1)[keep]
    # tr(AB) = sum over entries (i, j) of A_ij * B_ji; B_ji != 0 needs (j, i) in the mask too
    key = i_idx * n + j_idx
    order = torch.argsort(key)
    key_sorted, b_sorted = key[order], b_flat[order]
    rev = j_idx * n + i_idx
    pos = torch.searchsorted(key_sorted, rev).clamp_(max=max(key_sorted.numel() - 1, 0))
    found = key_sorted.numel() > 0 and key_sorted[pos] == rev
    tr = (a_flat * torch.where(found, b_sorted[pos], 0.0)).sum() if key.numel() else torch.zeros((), dtype=acc)
    sum_a, sum_b = a_flat.sum(), b_flat.sum()
    col_a = torch.zeros(n, dtype=acc, device=ik.device).index_add_(0, j_idx, a_flat)
    row_b = torch.zeros(n, dtype=acc, device=ik.device).index_add_(0, i_idx, b_flat)
    ab = torch.dot(col_a, row_b)
    return (tr + sum_a * sum_b / ((n - 1.0) * (n - 2.0)) - 2.0 * ab / (n - 2.0)) / (n * (n - 3.0))


def cknna(X, Y, k: int = 10) -> float:
    """Centered kernel nearest-neighbour alignment, CKNNA (Huh et al. 2024, the PRH code's default).

    CKA restricted to mutual neighbours: with K, L the cosine Gram matrices and M_ij = [j in both k-NN sets
    of i] (self excluded), CKNNA = HSIC_1(M⊙K, M⊙L) / sqrt(HSIC_1(M_K⊙K, M_K⊙K) HSIC_1(M_L⊙L, M_L⊙L)),
    HSIC_1 the unbiased estimator (Song et al. 2012). Unlike the PRH code, no 1e-6 is added to the
    denominator (its values equal ours once that term is removed). Similarity, at most 1; can be negative.
    Not exactly symmetric: M⊙K is not a symmetric matrix, so the 1^T A B 1 term of HSIC_1 changes when
    X and Y swap (as in the PRH code).
    Needs n >= 4; memory O(n k^2), never n×n.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import cknna
    >>> round(cknna(X, X @ Q, k=5), 6)
    1.0
    """
    x, y, k = _prepare(X, Y, k)
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"cknna uses the unbiased HSIC, which needs n >= 4 stimuli; got {n}")
    ik, vk = knn(x, k)
    il, vl = knn(y, k)
    kl = _masked_hsic(ik, vk, il, vl, n)
    kk = _masked_hsic(ik, vk, ik, vk, n)
    ll = _masked_hsic(il, vl, il, vl, n)
    denom = kk * ll
    if not bool(denom > 0):
        raise ValueError("CKNNA's self-alignment is not positive for X or Y (too few stimuli or a degenerate "
                         "neighbourhood structure); use more stimuli or a larger k")
    return float(kl / torch.sqrt(denom).to(acc_dtype(kl)))
