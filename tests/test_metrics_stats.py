"""Permutation tests, bootstrap CIs and null calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import unireps.metrics as M
from unireps.metrics.stats import _bootstrap_scorer, _permuted_scorer


def _related(n=60, d=5, noise=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=(d, d)) + noise * rng.normal(size=(n, d))


def test_related_pair_is_significant_and_unrelated_is_not():
    X, Y = _related()
    res = M.permutation_test(X, Y, n_permutations=199)
    assert res.p_value == pytest.approx(1 / 200)
    assert res.null_mean < res.value
    rng = np.random.default_rng(5)
    Z = rng.normal(size=X.shape)
    assert M.permutation_test(X, Z, n_permutations=199).p_value > 0.05


def test_p_values_are_roughly_uniform_under_the_null():
    ps = []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        X, Z = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
        ps.append(M.permutation_test(X, Z, n_permutations=49, seed=seed).p_value)
    ps = np.array(ps)
    assert 0.02 < np.mean(ps <= 0.2) < 0.45  # ~0.2 expected
    assert 0.3 < ps.mean() < 0.7


@pytest.mark.parametrize("metric,kwargs", [("linear_cka", {}), ("rsa", {}), ("rsa", {"compare": "pearson"}),
                                           ("linear_cka", {"debiased": True}), ("mutual_knn", {"k": 4}),
                                           ("jaccard_knn", {"k": 3})])
def test_fast_permutation_scorers_equal_the_plain_call(metric, kwargs):
    for n, d in ((40, 5), (10, 30)):  # feature and Gram routes
        X, Y = _related(n=n, d=d)
        x, y = torch.from_numpy(X), torch.from_numpy(Y)
        score = _permuted_scorer(metric, x, y, kwargs)
        p = torch.randperm(n, generator=torch.Generator().manual_seed(1))
        assert score(p) == pytest.approx(M.get_metric(metric)(X, Y[p.numpy()], **kwargs), abs=1e-12)


def test_permutation_is_seeded():
    X, Y = _related()
    a = M.permutation_test(X, Y, "rsa", n_permutations=20, seed=3)
    b = M.permutation_test(X, Y, "rsa", n_permutations=20, seed=3)
    np.testing.assert_array_equal(a.null, b.null)


def test_distance_metric_p_value_uses_lower_tail():
    X, Y = _related(noise=0.1)
    res = M.permutation_test(X, X @ np.diag([1, 2, 3, 4, 5.0]) + 0.01, "procrustes_distance", n_permutations=99)
    assert res.p_value == pytest.approx(0.01)


def test_bootstrap_interval_contains_value_and_shrinks_with_n():
    X, Y = _related(n=200)
    wide = M.bootstrap_ci(X[:50], Y[:50], n_boot=200)
    narrow = M.bootstrap_ci(X, Y, n_boot=200)
    for r in (wide, narrow):
        assert r.low <= r.value <= r.high
    assert (narrow.high - narrow.low) < (wide.high - wide.low)


@pytest.mark.parametrize("n,d", [(40, 6), (30, 80)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_cka_bootstrap_from_grams_equals_the_measure_on_each_resample(n, d, dtype):
    X, Y = _related(n=n, d=d, noise=0.5)
    X, Y = (X + 3.0).astype(dtype), (Y - 2.0).astype(dtype)  # offsets: the resample's own centring matters
    score = _bootstrap_scorer("linear_cka", torch.from_numpy(X), torch.from_numpy(Y), {})
    g = torch.Generator().manual_seed(3)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    for _ in range(5):
        idx = torch.randint(n, (n,), generator=g)
        assert score(idx) == pytest.approx(M.linear_cka(X[idx.numpy()], Y[idx.numpy()]), abs=tol)
    with pytest.raises(ValueError, match="no variance"):
        score(torch.zeros(n, dtype=torch.long))  # every row a copy of one stimulus


def test_rsa_bootstrap_drops_pairs_of_copies():
    X, Y = _related(n=30, d=6)
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    idx = torch.tensor([0, 0, 1, 2, 3, 3, 4, 5] + list(range(6, 28)))
    got = _bootstrap_scorer("rsa", x, y, {})(idx)
    # reference: condensed RDMs of the resample, pairs (i, j) with idx_i != idx_j only
    A = M.compute_rdm(X[idx.numpy()])
    B = M.compute_rdm(Y[idx.numpy()])
    i, j = np.triu_indices(len(idx), 1)
    keep = idx.numpy()[i] != idx.numpy()[j]
    assert got == pytest.approx(M.rsa_rdms(A[keep], B[keep]) if keep.all() else _spearman(A[keep], B[keep]))


def _spearman(a, b):
    from scipy.stats import spearmanr

    return spearmanr(a, b).statistic


def test_knn_bootstrap_excludes_copies_from_neighbour_sets():
    X, Y = _related(n=40, d=6)
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    idx = torch.arange(40)
    idx[1] = 0  # stimulus 0 twice
    from unireps.metrics.knn import knn, unit_rows

    nbrs, _ = knn(unit_rows(x[idx]), 5, groups=idx)
    assert 1 not in nbrs[0].tolist() and 0 not in nbrs[1].tolist()
    v = _bootstrap_scorer("mutual_knn", x, y, {"k": 5})(torch.arange(40))
    assert v == pytest.approx(M.mutual_knn(X, Y, k=5))


def test_null_calibrated_is_near_zero_for_unrelated_and_high_for_related():
    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(80, 10)), rng.normal(size=(80, 10))
    cal = M.null_calibrated(X, Z, n_permutations=100)
    assert abs(cal["calibrated"]) < 0.1
    Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert M.null_calibrated(X, X @ Q + 0.2 * rng.normal(size=X.shape), n_permutations=50)["calibrated"] > 0.8


def test_streaming_minibatch_is_a_different_quantity_but_close():
    X, Y = _related(n=400, d=8)
    s = M.StreamingCKA(estimator="minibatch")
    for i in range(0, 400, 100):
        s.update(X[i:i + 100], Y[i:i + 100])
    full = M.linear_cka(X, Y, debiased=True)
    assert s.compute() == pytest.approx(full, abs=0.05)


@pytest.mark.parametrize("n,dx,dy", [(40, 6, 5), (30, 80, 7), (25, 3, 90)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batched_cka_bootstrap_equals_the_measure_on_each_resample(n, dx, dy, dtype):
    """The count-weighted Gram form scores every resample as linear_cka(X[idx], Y[idx]) does, copies included."""
    from unireps.metrics.stats import _weighted_gram_cka_bootstrap

    rng = np.random.default_rng(n + dx)
    X = rng.normal(size=(n, dx)) + 5.0
    Y = X[:, :1] @ rng.normal(size=(1, dy)) + rng.normal(size=(n, dy)) - 2.0
    X, Y = X.astype(dtype), Y.astype(dtype)
    g = torch.Generator().manual_seed(7)
    draws = [torch.randint(n, (n,), generator=g) for _ in range(12)]
    draws.append(torch.arange(n))  # the full set once: the measure itself
    got = _weighted_gram_cka_bootstrap(torch.from_numpy(X), torch.from_numpy(Y))(draws)
    want = [M.linear_cka(X[i.numpy()], Y[i.numpy()]) for i in draws]
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, want, atol=tol, rtol=0)
    assert len(set(np.round(got, 8))) > 5  # the resamples differ: a weighting that ignored the counts would fail


def test_batched_cka_bootstrap_marks_degenerate_resamples_and_blocks_agree():
    from unireps.metrics import stats

    X, Y = _related(n=30, d=4)
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    g = torch.Generator().manual_seed(1)
    draws = [torch.zeros(30, dtype=torch.long)] + [torch.randint(30, (30,), generator=g) for _ in range(9)]
    score = stats._weighted_gram_cka_bootstrap(x, y)
    whole = score(draws)
    assert np.isnan(whole[0]) and np.isfinite(whole[1:]).all()  # every row a copy of one stimulus: no variance
    old = stats._WEIGHT_BLOCK
    try:
        stats._WEIGHT_BLOCK = 3  # resamples scored in blocks of 3: the same values
        np.testing.assert_allclose(score(draws), whole, atol=1e-14, rtol=0)
    finally:
        stats._WEIGHT_BLOCK = old


def test_bootstrap_ci_of_linear_cka_keeps_the_draws_of_the_one_at_a_time_loop():
    """bootstrap_ci scores linear CKA's resamples together; its samples equal the loop over the same draws."""
    from unireps.metrics.stats import _gram_cka_bootstrap

    X, Y = _related(n=50, d=6, noise=0.7)
    res = M.bootstrap_ci(X, Y, "linear_cka", n_boot=40, seed=11)
    g = torch.Generator().manual_seed(11)
    score = _gram_cka_bootstrap(torch.from_numpy(X), torch.from_numpy(Y))
    loop = [score(torch.randint(50, (50,), generator=g)) for _ in range(40)]
    np.testing.assert_allclose(res.samples, loop, atol=1e-12, rtol=0)
    assert res.n_boot == 40 and res.low < res.value < res.high


@pytest.mark.parametrize("metric,kwargs", [("mutual_knn", {"k": 4}), ("jaccard_knn", {"k": 3}), ("linear_cka", {})])
def test_bootstrap_pairs_equals_bootstrap_ci_pair_by_pair(metric, kwargs):
    """Shared neighbour lists per representation and resample give each pair exactly its own bootstrap_ci, also
    when a float32 representation meets a float64 one (the pair's common dtype decides, as in bootstrap_ci)."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(35, 4))
    reps = {"a": base @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(35, 6)),
            "b": (base @ rng.normal(size=(4, 5)) + 0.5 * rng.normal(size=(35, 5))).astype(np.float32),
            "c": rng.normal(size=(35, 7)).astype(np.float32)}
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]
    got = M.bootstrap_pairs(reps, pairs, metric, n_boot=25, seed=4, **kwargs)
    assert set(got) == set(pairs)
    for a, b in pairs:
        want = M.bootstrap_ci(reps[a], reps[b], metric, n_boot=25, seed=4, **kwargs)
        np.testing.assert_allclose(got[a, b].samples, want.samples, atol=1e-12, rtol=0)
        assert (got[a, b].value, got[a, b].low, got[a, b].high) == pytest.approx((want.value, want.low, want.high))
    assert got["a", "b"].low > got["b", "c"].high  # related pair above unrelated: the lists are not mixed up
