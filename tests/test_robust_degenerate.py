"""Issue 18, cases 6-7: flipped numpy views are copied, and degenerate settings (too few stimuli for the
dimensionality, k close to n) give an UninformativeWarning that names why and what to do."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from unireps.metrics import (
    UninformativeWarning,
    cca,
    jaccard_knn,
    linear_cka,
    list_metrics,
    mutual_knn,
    procrustes,
    rbf_cka,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pair(seed=0, n=60, dx=6, dy=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx))
    return X, X[:, :dy] + rng.standard_normal((n, dy))


@pytest.mark.parametrize("name", [m.name for m in list_metrics()])
@pytest.mark.parametrize("view", ["columns", "rows_and_columns"])
def test_flipped_views_are_copied(name, view):
    info = next(m for m in list_metrics() if m.name == name)
    X, Y = _pair()
    if info.equal_dims:
        Y = X + np.random.default_rng(2).standard_normal(X.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UninformativeWarning)
        if view == "columns":  # a feature permutation of one side
            got, Xf = info(X[:, ::-1], Y), np.ascontiguousarray(X[:, ::-1])
            assert got == pytest.approx(info(Xf, Y), rel=1e-12, abs=1e-12)
        else:  # both sides' stimuli in reverse order, features reversed
            got = info(np.flip(X), np.flip(Y))
            assert got == pytest.approx(info(np.flip(X).copy(), np.flip(Y).copy()), rel=1e-12, abs=1e-12)


def _warns(fn, *args, match, **kwargs):
    with pytest.warns(UninformativeWarning, match=match):
        return fn(*args, **kwargs)


def _silent(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UninformativeWarning)
        return fn(*args, **kwargs)


def test_cka_two_rows_warns():
    X, Y = _pair(n=2)
    assert _warns(linear_cka, X, Y, match="chance") == pytest.approx(1.0)


def test_cka_and_procrustes_wide_independent_noise_warn():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 5000)), rng.standard_normal((20, 5000))
    assert _warns(linear_cka, X, Y, match="chance") > 0.9
    assert _warns(procrustes, X, Y, match="chance") > 0.9
    assert _warns(rbf_cka, X, Y, match="RBF CKA.*chance") > 0.9


def test_cca_rank_close_to_n_warns():
    rng = np.random.default_rng(0)
    n = 30
    X, Y = rng.standard_normal((n, n - 2)), rng.standard_normal((n, n - 2))
    assert _warns(cca, X, Y, match="chance") > 0.8


@pytest.mark.parametrize("fn", [mutual_knn, jaccard_knn])
def test_knn_with_k_close_to_n_warns(fn):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 4)), rng.standard_normal((20, 4))
    _warns(fn, X, Y, k=18, match="chance")


def test_informative_settings_do_not_warn():
    X, Y = _pair(n=200, dx=10, dy=8)
    for fn in (linear_cka, rbf_cka, procrustes, cca, mutual_knn, jaccard_knn):
        _silent(fn, X, Y)
