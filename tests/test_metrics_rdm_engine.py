"""The bounded-memory RSA engine (``unireps.metrics._rdmstream``) against the simple dense computation.

The engine computes condensed RDMs in row blocks, ranks them exactly by a bucketed sort in groups, and
correlates in streaming passes.  Its knobs (block size, group budget, rank sub-chunk) are shrunk here so that
small inputs cross every boundary: blocks of one row and blocks that do not divide n, many groups, tie runs cut
by sub-chunk and group edges.  References: scipy ``pdist`` / ``rankdata`` / ``spearmanr`` on whole float64
vectors, and rsatoolbox (installed) on the same convention.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, rankdata, spearmanr

import reference_impls as ref
from unireps.metrics import _rdmstream as stream
from unireps.metrics import compute_rdm, rsa, rsa_rdms
from unireps.metrics.rsa import RSATOOLBOX_NAMES, as_condensed, rdm_blocks


@pytest.fixture
def tiny_knobs(monkeypatch):
    """Blocks of 997 values (a prime: never a multiple of a row), groups of 512 values, rank sub-chunks of 61."""
    monkeypatch.setattr(stream, "_BLOCK_ELEMS", 997)
    monkeypatch.setattr(stream, "_BUDGET_BYTES", 1)
    monkeypatch.setattr(stream, "_MIN_CAP", 512)
    monkeypatch.setattr(stream, "_SUB", 61)


def _dense_rdm(X: np.ndarray, kind: str) -> np.ndarray:
    """The simple dense computation: scipy's pdist on float64."""
    X = np.asarray(X, dtype=np.float64)
    if kind == "sq_euclidean":
        return pdist(X, "sqeuclidean")
    return pdist(X, kind)


def _tied_pair(seed: int, n: int):
    """Integer features: exactly representable distances, heavily tied."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(n, 5)).astype(np.float64)
    Y = X[:, :4] + rng.integers(0, 2, size=(n, 4))
    return X, Y


def _pair(seed: int, n: int, dx: int = 9, dy: int = 7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dx)) + rng.normal(size=dx)
    Y = X[:, :dy] @ rng.normal(size=(dy, dy)) + 0.8 * rng.normal(size=(n, dy))
    return X, Y


# ------------------------------------------------------------------------------------------- RDM blocks


@pytest.mark.parametrize("kind", ["correlation", "cosine", "euclidean", "sq_euclidean"])
@pytest.mark.parametrize("n,block_elems", [(3, 1), (4, 2), (101, 1), (101, 997), (256, 4096), (257, 1 << 22)])
def test_rdm_blocks_cover_the_condensed_rdm_once_and_equal_pdist(kind, n, block_elems):
    X, _ = _pair(n, n)
    blocks = rdm_blocks(torch.from_numpy(X), kind)
    blocks.block_elems = block_elems
    expected_offset, parts = 0, []
    for o, v in blocks:
        assert o == expected_offset  # contiguous, in condensed order, no gap and no overlap
        expected_offset += v.numel()
        parts.append(v.numpy())
    assert expected_offset == n * (n - 1) // 2
    np.testing.assert_allclose(np.concatenate(parts), _dense_rdm(X, kind), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["correlation", "euclidean"])
def test_float32_rdm_blocks_are_float32_and_near_float64(kind, tiny_knobs):
    X, _ = _pair(1, 99)
    got = compute_rdm(X.astype(np.float32), kind)
    np.testing.assert_allclose(got, _dense_rdm(X, kind), rtol=2e-5, atol=2e-5)
    assert np.array_equal(got, got.astype(np.float32).astype(np.float64))  # values of a float32 RDM


def test_integer_features_keep_exact_ties_in_blocks(tiny_knobs):
    X, _ = _tied_pair(2, 101)
    for kind in ("euclidean", "sq_euclidean"):
        np.testing.assert_array_equal(compute_rdm(X, kind), _dense_rdm(X, kind))


@pytest.mark.parametrize("n", [3, 50, 101])
def test_square_rdm_is_condensed_in_squareform_order(n, tiny_knobs):
    v = np.random.default_rng(n).random(n * (n - 1) // 2)
    np.testing.assert_array_equal(as_condensed(squareform(v)).numpy(), v)


# ------------------------------------------------------------------------------------------ exact ranks


def _tied_vectors(seed: int, m: int, dtype):
    """Two related vectors with long tie runs, negative values and both signed zeros."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, size=m).astype(dtype)
    loose = rng.random(m) < 0.3
    a[loose] = rng.normal(size=int(loose.sum()))  # untied values between the tie runs
    b = a + rng.integers(-1, 2, size=m).astype(dtype) + (rng.normal(size=m) * (rng.random(m) < 0.5)).astype(dtype)
    a[a == 0] = np.where(rng.random(int((a == 0).sum())) < 0.5, -0.0, 0.0).astype(dtype)
    return a, b


def _engine_spearman_rho_a(a: np.ndarray, b: np.ndarray):
    A, B = stream.VectorBlocks(torch.from_numpy(a)), stream.VectorBlocks(torch.from_numpy(b))
    cross, ss_a, ss_b = stream.rank_terms(A, B)
    m = float(a.shape[0])
    return cross / np.sqrt(ss_a * ss_b), 12.0 * (cross / 4.0) / (m ** 3 - m)


def _dense_spearman_rho_a(a: np.ndarray, b: np.ndarray):
    ra, rb = rankdata(a.astype(np.float64)), rankdata(b.astype(np.float64))
    m = float(a.shape[0])
    rho_a = 12.0 * float((ra - ra.mean()) @ (rb - rb.mean())) / (m ** 3 - m)
    return pearsonr(ra, rb).statistic, rho_a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [3, 1001, 5050, 20_001])
def test_exact_ranks_with_ties_equal_scipy_across_groups_and_subchunks(dtype, m, tiny_knobs):
    a, b = _tied_vectors(m, m, dtype)
    assert len(np.unique(a)) < m / 2 or m < 10  # heavily tied
    got, want = _engine_spearman_rho_a(a, b), _dense_spearman_rho_a(a, b)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_ranks_equal_scipy_on_continuous_values_with_default_knobs(dtype):
    rng = np.random.default_rng(3)
    a = rng.lognormal(size=30_000).astype(dtype)
    b = (a + rng.normal(size=30_000)).astype(dtype)
    np.testing.assert_allclose(_engine_spearman_rho_a(a, b), _dense_spearman_rho_a(a, b), rtol=0, atol=1e-12)


@pytest.mark.parametrize("tied", [True, False])
def test_sums_of_squared_ranks_from_the_tie_correction_equal_the_direct_sums(tied, tiny_knobs):
    """ss = (m^3 - m)/3 - sum over tie runs (t^3 - t)/3 equals sum (2 r - m - 1)^2 of scipy's average ranks, with
    runs cut by sub-chunk and group edges (tied) and on the no-tie shortcut (continuous values)."""
    m = 5050
    a, b = _tied_vectors(7, m, np.float64) if tied else np.random.default_rng(7).normal(size=(2, m))
    A, B = stream.VectorBlocks(torch.from_numpy(a)), stream.VectorBlocks(torch.from_numpy(b))
    _, ss_a, ss_b = stream.rank_terms(A, B)
    for got, v in ((ss_a, a), (ss_b, b)):
        c = 2.0 * rankdata(v) - (m + 1)
        np.testing.assert_allclose(got, float(c @ c), rtol=1e-13)
    assert (ss_a < (m**3 - m) / 3.0) == tied


def _in_one_octave(v: np.ndarray) -> np.ndarray:
    """v moved into [1, 1.5] by an increasing map (equal values stay equal): float32 keys spanning at most 2^22."""
    w = v.astype(np.float64)
    return (1.0 + 0.5 * (w - w.min()) / (w.max() - w.min())).astype(v.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [3, 4, 1001, 20_001])
@pytest.mark.parametrize("narrow", [False, True])
def test_ranking_in_two_threads_equals_one_thread_and_scipy(dtype, m, narrow, monkeypatch):
    """The two-thread route (A's keys held in memory, sorts split at the median by a partition, rank passes by
    halves) on heavily tied values: tie runs straddle the halves' edge and sub-chunk edges.  B is ranked through
    a key table when its float32 keys span a narrow range (values in one octave), else by key+payload sort."""
    a, b = _tied_vectors(11, m, dtype)
    if narrow:
        a, b = _in_one_octave(a), _in_one_octave(b)
        assert len(np.unique(b)) < 0.8 * m or m < 10  # still tied (B is the one ranked through the table)
    A, B = stream.VectorBlocks(torch.from_numpy(a)), stream.VectorBlocks(torch.from_numpy(b))
    monkeypatch.setattr(stream, "_SUB", 997)  # tie runs cut by sub-chunk edges
    monkeypatch.setattr(stream, "_THREADS_MIN", 0)
    monkeypatch.setattr(stream, "_TABLE_SPAN", 1 << 40 if narrow else 2)  # (the wide spans would need a 2^31 table)
    tables = []
    by_table = stream._ranks_by_table
    monkeypatch.setattr(stream, "_ranks_by_table", lambda r, pool: tables.append(by_table(r, pool)) or tables[-1])
    side = stream.rank_terms(A, B)
    assert [t is not None for t in tables] == [narrow and dtype == np.float32]
    monkeypatch.setattr(stream, "_THREADS_MIN", 1 << 40)
    assert stream.rank_terms(A, B) == pytest.approx(side, rel=1e-14)
    np.testing.assert_allclose(side[0] / np.sqrt(side[1] * side[2]), _dense_spearman_rho_a(a, b)[0], rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [3, 1001, 20_001])
def test_spilled_ranking_in_two_threads_equals_one_thread_and_scipy(dtype, m, tiny_knobs, monkeypatch):
    """The spilled route with two threads (both RDMs' keys written at once, each group gathered from the front and
    the back of the key file by two threads, its sort split at the median, rank passes by halves) on heavily tied
    values, in groups of 512 values read back in chunks of 997: equal to one thread and to scipy."""
    a, b = _tied_vectors(12, m, dtype)
    A, B = stream.VectorBlocks(torch.from_numpy(a)), stream.VectorBlocks(torch.from_numpy(b))
    monkeypatch.setattr(stream, "_READ_ELEMS", 997)
    monkeypatch.setattr(stream, "_THREADS_MIN", 0)
    pools = []
    spill = stream._spill
    monkeypatch.setattr(stream, "_spill", lambda *args, pool=None: pools.append(pool) or spill(*args, pool=pool))
    both = stream.rank_terms(A, B)
    monkeypatch.setattr(stream, "_THREADS_MIN", 1 << 40)
    one = stream.rank_terms(A, B)
    assert [p is not None for p in pools] == ([True, False] if m > 512 else [])  # spilled: with a pool, then without
    assert both == pytest.approx(one, rel=1e-14)
    np.testing.assert_allclose(both[0] / np.sqrt(both[1] * both[2]), _dense_spearman_rho_a(a, b)[0], rtol=0,
                               atol=1e-12)


def test_more_pairs_than_32_bit_ranks_hold_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(stream, "_MAX_PAIRS", 100)
    X, Y = _pair(0, 20)  # 190 pairs
    with pytest.raises(ValueError, match="32-bit.*compare='pearson'"):
        rsa(X, Y)
    assert np.isfinite(rsa(X, Y, compare="pearson"))


def test_a_single_value_run_larger_than_a_group_is_ranked_exactly(tiny_knobs):
    """A tie run longer than the group budget cannot be split (its values share a key bin): it forms one group."""
    rng = np.random.default_rng(4)
    a = np.where(rng.random(9000) < 0.7, 1.0, rng.normal(size=9000))
    b = a + rng.normal(size=9000)
    np.testing.assert_allclose(_engine_spearman_rho_a(a, b), _dense_spearman_rho_a(a, b), rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------------ rsa, whole


@pytest.mark.parametrize("kind", ["correlation", "cosine", "euclidean", "sq_euclidean"])
@pytest.mark.parametrize("n", [3, 4, 101])
def test_rsa_with_small_blocks_equals_the_dense_computation(kind, n, tiny_knobs):
    X, Y = _pair(10 + n, n)
    a, b = _dense_rdm(X, kind), _dense_rdm(Y, kind)
    assert rsa(X, Y, rdm=kind, compare="spearman") == pytest.approx(spearmanr(a, b).statistic, abs=1e-10)
    assert rsa(X, Y, rdm=kind, compare="pearson") == pytest.approx(pearsonr(a, b).statistic, abs=1e-10)
    cos = float(a @ b / np.sqrt((a @ a) * (b @ b)))
    assert rsa(X, Y, rdm=kind, compare="cosine") == pytest.approx(cos, abs=1e-10)
    assert rsa(X, Y, rdm=kind, compare="rho_a") == pytest.approx(_dense_spearman_rho_a(a, b)[1], abs=1e-10)


@pytest.mark.parametrize("compare,rsatb", sorted(RSATOOLBOX_NAMES.items()))
@pytest.mark.parametrize("kind", ["euclidean", "sq_euclidean"])
def test_rsa_with_ties_and_small_blocks_equals_rsatoolbox(compare, rsatb, kind, tiny_knobs):
    X, Y = _tied_pair(5, 77)
    va, vb = _dense_rdm(X, kind), _dense_rdm(Y, kind)
    assert len(np.unique(va)) < len(va) / 50
    want = ref.rsatoolbox_compare(va, vb, rsatb)
    assert rsa(X, Y, rdm=kind, compare=compare) == pytest.approx(want, abs=1e-10)
    assert rsa_rdms(va, vb, compare=compare) == pytest.approx(want, abs=1e-10)


@pytest.mark.parametrize("compare", ["spearman", "pearson", "rho_a", "cosine"])
def test_rsa_is_the_same_for_every_block_and_group_size(compare, monkeypatch):
    X, Y = _tied_pair(6, 151)
    default = rsa(X, Y, rdm="euclidean", compare=compare)
    for block, cap, sub in ((1, 2048, 61), (997, 512, 1 << 20), (11_325, 1 << 16, 61)):
        monkeypatch.setattr(stream, "_BLOCK_ELEMS", block)
        monkeypatch.setattr(stream, "_BUDGET_BYTES", 1)
        monkeypatch.setattr(stream, "_MIN_CAP", cap)
        monkeypatch.setattr(stream, "_SUB", sub)
        assert rsa(X, Y, rdm="euclidean", compare=compare) == pytest.approx(default, abs=1e-12)


@pytest.mark.parametrize("kind", ["correlation", "euclidean"])
def test_float32_rsa_is_the_spearman_of_its_float32_rdms(kind, tiny_knobs):
    X, Y = _pair(7, 151)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    a32, b32 = compute_rdm(X32, kind), compute_rdm(Y32, kind)  # float32 values, held exactly in float64
    got = rsa(X32, Y32, rdm=kind)
    assert got == pytest.approx(spearmanr(a32, b32).statistic, abs=1e-12)
    assert got == pytest.approx(rsa(X, Y, rdm=kind), abs=1e-4)  # and near the float64 result


def test_a_constant_column_changes_no_euclidean_rsa(tiny_knobs):
    X, Y = _pair(8, 61)
    X_const = np.hstack([X, np.full((61, 1), 3.5)])
    for compare in ("spearman", "pearson"):
        assert rsa(X_const, Y, rdm="euclidean", compare=compare) == pytest.approx(
            rsa(X, Y, rdm="euclidean", compare=compare), abs=1e-12)


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("compare", ["spearman", "pearson", "cosine", "rho_a", "kendall_tau_a"])
def test_constant_rdm_is_refused_with_a_clear_error(compare, tiny_knobs):
    m = 101 * 100 // 2
    varied = np.random.default_rng(9).random(m)
    for a, b, name in ((np.full(m, 0.5), varied, "RDM A"), (varied, np.full(m, 0.5), "RDM B")):
        if compare == "cosine":
            continue  # a constant RDM has a defined cosine with another
        with pytest.raises(ValueError, match=f"{name} is constant"):
            rsa_rdms(a, b, compare=compare)


def test_constant_representation_and_zero_variance_stimulus_are_refused(tiny_knobs):
    X, Y = _pair(11, 40)
    const = np.tile(np.arange(6.0), (40, 1))  # every column constant: one point, no RDM
    with pytest.raises(ValueError, match="constant across stimuli"):
        rsa(const, Y)
    X_flat_row = X.copy()
    X_flat_row[3] = 2.0  # a stimulus with no variance across features: its correlation distance is undefined
    with pytest.raises(ValueError, match="variance across features is zero.*rdm='euclidean'"):
        rsa(X_flat_row, Y, rdm="correlation")


@pytest.mark.parametrize("compare", ["kendall_tau_a", "kendall_tau_b"])
def test_kendall_beyond_its_memory_limit_is_refused_naming_the_alternatives(compare, monkeypatch):
    import importlib

    rsa_module = importlib.import_module("unireps.metrics.rsa")  # the module (the package exports the function)
    X, Y = _pair(12, 30)
    within = rsa(X, Y, compare=compare)
    monkeypatch.setattr(rsa_module, "KENDALL_MAX_PAIRS", 30 * 29 // 2 - 1)
    with pytest.raises(ValueError, match="more than its limit.*compare='rho_a'.*subset"):
        rsa(X, Y, compare=compare)
    monkeypatch.setattr(rsa_module, "KENDALL_MAX_PAIRS", 30 * 29 // 2)
    assert rsa(X, Y, compare=compare) == within


def test_spilled_keys_are_removed_and_a_full_disk_is_a_clear_error(tiny_knobs, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    X, Y = _tied_pair(13, 61)
    a, b = _dense_rdm(X, "euclidean"), _dense_rdm(Y, "euclidean")
    assert rsa(X, Y, rdm="euclidean") == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert list(tmp_path.iterdir()) == []  # the key files and their folder are gone

    class Full:
        free = 1000

    monkeypatch.setattr(stream.shutil, "disk_usage", lambda _: Full)
    with pytest.raises(OSError, match="GiB free; set TMPDIR.*compare='pearson'"):
        rsa(X, Y, rdm="euclidean")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rsa_at_n_2000_with_spilled_groups_equals_the_dense_path(dtype, monkeypatch):
    """n = 2000 (2 M pairs): the engine with its keys spilled and ranked in about 30 groups equals scipy's dense
    Spearman of the same RDM values and the engine's own one-group route to 1e-10."""
    rng = np.random.default_rng(14)
    Z = rng.normal(size=(2000, 16))
    X = (Z @ rng.normal(size=(16, 96)) + rng.normal(size=(2000, 96))).astype(dtype)
    Y = (np.tanh(Z) @ rng.normal(size=(16, 64)) + rng.normal(size=(2000, 64))).astype(dtype)
    one_group = rsa(X, Y)
    a, b = compute_rdm(X), compute_rdm(Y)  # the RDM values in X's dtype, held exactly in float64
    dense = spearmanr(a, b).statistic
    monkeypatch.setattr(stream, "_BUDGET_BYTES", 1)
    monkeypatch.setattr(stream, "_MIN_CAP", 1 << 16)
    spilled = rsa(X, Y)
    assert one_group == pytest.approx(dense, abs=1e-10)
    assert spilled == pytest.approx(dense, abs=1e-10)
