"""Bad input gets a clear error (never a NaN or a hang); accepted input types give identical values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import unireps.metrics as M
from unireps.metrics import get_metric, list_metrics

METRICS = [m.name for m in list_metrics()]


def _xy(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=(d, d)) + rng.normal(size=(n, d))


@pytest.mark.parametrize("name", METRICS)
def test_different_row_counts(name):
    X, Y = _xy()
    with pytest.raises(ValueError, match="same stimuli"):
        get_metric(name)(X, Y[:-1])


@pytest.mark.parametrize("name", METRICS)
def test_one_dimensional_input_says_reshape(name):
    X, Y = _xy()
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        get_metric(name)(X[:, 0], Y)


@pytest.mark.parametrize("name", METRICS)
def test_three_dimensional_input_says_how_to_pool(name):
    X, Y = _xy()
    with pytest.raises(ValueError, match="Pool the extra axes"):
        get_metric(name)(X.reshape(40, 3, 2), Y)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values(name, bad):
    X, Y = _xy()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        get_metric(name)(X, Y)


@pytest.mark.parametrize("name", [m for m in METRICS if m != "paired_cosine"])
def test_constant_representation(name):
    X, Y = _xy()
    C = np.ones_like(X) * 3.0
    with pytest.raises(ValueError, match="constant|zero|undefined"):
        get_metric(name)(C, Y)


@pytest.mark.parametrize("name", METRICS)
def test_too_few_stimuli(name):
    info = get_metric(name)
    X, Y = _xy()
    n = info.min_n - 1
    with pytest.raises(ValueError, match="stimuli|needs|at least|choose k"):
        info(X[:n], Y[:n])


@pytest.mark.parametrize("fn", [M.mutual_knn, M.jaccard_knn, M.cknna])
def test_k_too_large(fn):
    X, Y = _xy(n=20)
    with pytest.raises(ValueError, match="k=20"):
        fn(X, Y, k=20)
    with pytest.raises(ValueError, match="k=19"):
        fn(X, Y, k=19)
    with pytest.raises(ValueError, match="positive integer"):
        fn(X, Y, k=0)


def test_unknown_option_values_list_accepted_ones():
    X, Y = _xy()
    with pytest.raises(ValueError, match="'correlation', 'euclidean'"):
        M.rsa(X, Y, rdm="manhattan")
    with pytest.raises(ValueError, match="'spearman', 'pearson'"):
        M.rsa(X, Y, compare="kendall")
    with pytest.raises(ValueError, match="'angular', 'euclidean'"):
        M.procrustes_distance(X, Y, kind="riemann")
    with pytest.raises(ValueError, match="linear_cka"):
        M.get_metric("cka")
    with pytest.raises(ValueError, match="'exact', 'minibatch'"):
        M.StreamingCKA(estimator="online")
    with pytest.raises(TypeError, match="accepted"):
        M.layer_similarity([X], [Y], metric="linear_cka", sigma=1.0)
    with pytest.raises(ValueError, match="positive number"):
        M.rbf_cka(X, Y, sigma=-1.0)


def test_bad_rdms():
    X, _ = _xy()
    D = M.rsa_rdms  # noqa: N806
    sq = np.abs(np.random.default_rng(0).normal(size=(10, 10)))
    with pytest.raises(ValueError, match="not symmetric"):
        D(sq, sq.T @ sq)
    with pytest.raises(ValueError, match="square"):
        D(np.zeros((10, 9)), np.zeros((10, 9)))
    with pytest.raises(ValueError, match="not n\\(n-1\\)/2"):
        D(np.arange(7.0), np.arange(7.0))
    with pytest.raises(ValueError, match="different numbers of pairs"):
        D(np.arange(6.0), np.arange(10.0))
    with pytest.raises(ValueError, match="constant"):
        D(np.ones(6), np.arange(6.0))
    with pytest.raises(ValueError, match="NaN"):
        D(np.array([1.0, np.nan, 2.0]), np.arange(3.0))


def test_wrong_types():
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        M.linear_cka("abc", np.zeros((3, 2)))
    with pytest.raises(TypeError, match="complex"):
        M.linear_cka(np.ones((5, 2), dtype=complex), np.ones((5, 2)))


def test_equal_dims_required():
    X, Y = _xy()
    with pytest.raises(ValueError, match="equal feature dimensions"):
        M.paired_cosine(X, Y[:, :3])


def test_streaming_errors():
    s = M.StreamingCKA()
    with pytest.raises(ValueError, match="before any update"):
        s.compute()
    X, Y = _xy()
    s.update(X[:10], Y[:10])
    with pytest.raises(ValueError, match="widths"):
        s.update(X[:10, :3], Y[:10])


def test_stats_argument_errors():
    X, Y = _xy()
    with pytest.raises(ValueError, match="n_permutations"):
        M.permutation_test(X, Y, n_permutations=0)
    with pytest.raises(ValueError, match="level"):
        M.bootstrap_ci(X, Y, level=95)
    with pytest.raises(ValueError, match="similarity bounded by 1"):
        M.null_calibrated(X, Y, metric="procrustes_distance")


@pytest.mark.parametrize("name", METRICS)
def test_numpy_torch_list_and_int_inputs_agree(name):
    info = get_metric(name)
    X, Y = _xy()
    v = info(X, Y)
    assert info(torch.from_numpy(X), torch.from_numpy(Y)) == pytest.approx(v, abs=1e-12)
    assert info(X.tolist(), Y) == pytest.approx(v, abs=1e-12)
    Xi = np.round(X * 100).astype(np.int64)
    assert info(Xi, Y) == pytest.approx(info(Xi.astype(float), Y), abs=1e-12)
    ro = X.copy()
    ro.setflags(write=False)
    assert info(ro, Y) == pytest.approx(v, abs=1e-12)


def test_inputs_are_not_modified():
    X, Y = _xy()
    X0, Y0 = X.copy(), Y.copy()
    for info in list_metrics():
        info(X, Y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_registry_call_names_accepted_options():
    """get_metric(name)(X, Y, typo=...) lists the measure's options instead of Python's bare TypeError."""
    X, Y = np.random.default_rng(0).normal(size=(2, 30, 4))
    with pytest.raises(TypeError, match=r"mutual_knn got unknown option\(s\) \['kk'\]; accepted: \[.*'k'"):
        get_metric("mutual_knn")(X, Y, kk=3)
    assert 0 <= get_metric("mutual_knn")(X, Y, k=3) <= 1
