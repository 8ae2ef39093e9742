"""The blocked k-NN search behind mutual_knn / jaccard_knn / cknna against the simple dense computation.

``unireps.metrics.knn.knn`` forms only the upper block triangle of the similarity matrix, row block by row
block; each block serves its rows (a top-k) and, through a threshold pass, the later rows (its columns).  Here
the block size runs from one row to the whole matrix, n is odd and not a multiple of the block, and the data
hold exact ties (duplicated stimuli).  Reference: the full n×n similarity matrix in float64 with the diagonal
excluded and a full sort per row.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import reference_impls as ref
from unireps.metrics import knn as knn_module
from unireps.metrics import mutual_knn
from unireps.metrics.knn import knn, unit_rows


def _latent(seed: int, n: int, d: int = 12):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 4))
    return Z @ rng.normal(size=(4, d)) + 0.4 * rng.normal(size=(n, d))


def _dense_topk_values(u: np.ndarray, k: int, groups: np.ndarray | None = None) -> np.ndarray:
    """Each row's k largest similarities to other rows (and other groups), from the full matrix."""
    S = u.astype(np.float64) @ u.astype(np.float64).T
    np.fill_diagonal(S, -np.inf)
    if groups is not None:
        S[groups[:, None] == groups[None, :]] = -np.inf
    return -np.sort(-S, axis=1)[:, :k]


def _check_lists(u: np.ndarray, idx: np.ndarray, val: np.ndarray, k: int, tol: float, groups=None):
    """Valid neighbour lists: no self, no repeats, reported similarities are the true ones, and they are the k
    best (equal to the dense top-k values, so any tie broken either way is still a correct answer)."""
    n = u.shape[0]
    S = u.astype(np.float64) @ u.astype(np.float64).T
    assert idx.shape == (n, k) and val.shape == (n, k)
    assert not (idx == np.arange(n)[:, None]).any()
    assert all(len(set(row)) == k for row in idx.tolist())
    if groups is not None:
        assert not (groups[idx] == groups[:, None]).any()
    np.testing.assert_allclose(val, np.take_along_axis(S, idx, axis=1), rtol=0, atol=tol)
    np.testing.assert_allclose(val, _dense_topk_values(u, k, groups), rtol=0, atol=tol)
    assert (np.diff(val, axis=1) <= tol).all()  # sorted by decreasing similarity


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
@pytest.mark.parametrize("n,k,chunk", [(5, 1, 1), (61, 5, 1), (61, 5, 7), (101, 10, 3), (101, 10, 64),
                                       (101, 10, 101), (257, 20, 16)])
def test_blocked_knn_equals_the_dense_top_k(dtype, tol, n, k, chunk):
    u = unit_rows(torch.from_numpy(_latent(n, n)).to(dtype))
    idx, val = knn(u, k, chunk=chunk)
    un = u.numpy()
    _check_lists(un, idx.numpy(), val.numpy(), k, tol)
    # without ties (checked by the margin), the neighbour SETS equal the dense ones too
    if ref.knn_margin(un.astype(np.float64), k) > 10 * tol:
        want = ref.nearest_neighbors(un.astype(np.float64), k)
        assert [set(r) for r in idx.numpy().tolist()] == [set(r) for r in want.tolist()]


@pytest.mark.parametrize("chunk", [1, 4, 9, 33])
def test_blocked_knn_with_exact_ties_returns_a_correct_top_k(chunk):
    base = _latent(1, 23)
    X = np.repeat(base, 3, axis=0)  # each stimulus three times: similarity 1 twice per row, many exact ties
    u = unit_rows(torch.from_numpy(X))
    idx, val = knn(u, 5, chunk=chunk)
    _check_lists(u.numpy(), idx.numpy(), val.numpy(), 5, 1e-12)
    copies = np.arange(69) // 3
    assert (copies[idx.numpy()[:, :2]] == copies[:, None]).all()  # the two copies come first


@pytest.mark.parametrize("chunk", [1, 5, 40])
def test_blocked_knn_excludes_same_group_rows(chunk):
    X = _latent(2, 40)
    rows = np.random.default_rng(2).integers(0, 40, size=57)  # a bootstrap resample with repeats
    groups = rows.copy()
    u = unit_rows(torch.from_numpy(X[rows]))
    idx, val = knn(u, 6, groups=torch.from_numpy(groups), chunk=chunk)
    _check_lists(u.numpy(), idx.numpy(), val.numpy(), 6, 1e-12, groups=groups)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mutual_knn_with_one_row_blocks_equals_prh(dtype, monkeypatch):
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(121, 5))
    X = (Z @ rng.normal(size=(5, 16)) + 0.3 * rng.normal(size=(121, 16))).astype(dtype)
    Y = (np.tanh(Z) @ rng.normal(size=(5, 9)) + 0.3 * rng.normal(size=(121, 9))).astype(dtype)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    assert min(ref.knn_margin(X64, 7), ref.knn_margin(Y64, 7)) > 1e-5  # sets do not hinge on float32 rounding
    want = ref.mutual_knn(X64, Y64, 7)
    default = mutual_knn(X, Y, k=7)
    monkeypatch.setattr(knn_module, "_CHUNK_BYTES", 1)  # one row per block
    assert mutual_knn(X, Y, k=7) == pytest.approx(want, abs=1e-12)
    assert default == pytest.approx(want, abs=1e-12)


def test_mutual_knn_refuses_parallel_rows_and_zero_rows():
    rng = np.random.default_rng(4)
    Y = rng.normal(size=(30, 5))
    parallel = np.outer(rng.uniform(1, 2, size=30), rng.normal(size=5))  # every row the same direction
    with pytest.raises(ValueError, match="constant"):
        mutual_knn(parallel, Y, k=3)
    zero_row = rng.normal(size=(30, 5))
    zero_row[7] = 0.0
    with pytest.raises(ValueError, match="all-zero rows"):
        mutual_knn(zero_row, Y, k=3)


@pytest.mark.parametrize("mask_max", [1 << 22, 0])  # the membership-mask path and the (n, k, k) comparison path
def test_overlap_counts_equals_a_set_count_per_row(mask_max, monkeypatch):
    """For each entry of ia[i], whether it occurs in ib[i], summed over the row (repeats in ia or ib included)."""
    monkeypatch.setattr(knn_module, "_MASK_MAX", mask_max)
    rng = np.random.default_rng(3)
    ia = torch.as_tensor(rng.integers(0, 30, size=(57, 6)))  # small id range: repeats and overlaps are common
    ib = torch.as_tensor(rng.integers(0, 30, size=(57, 6)))
    expected = [sum(int(a in set(rb)) for a in ra) for ra, rb in zip(ia.tolist(), ib.tolist())]
    got = knn_module.overlap_counts(ia, ib, chunk=10)
    assert got.dtype == torch.int64
    assert got.tolist() == expected
    assert max(expected) > 1 and min(expected) == 0  # the data exercise both ends
