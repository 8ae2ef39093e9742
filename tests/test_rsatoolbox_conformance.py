"""rsatoolbox itself, run on the same inputs: RDM comparisons (incl. tied RDMs), pooling, noise ceilings, bootstrap
samples and the dual-bootstrap variance must agree to 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from unireps.metrics import rsa_rdms
from unireps.metrics.ceiling import (
    dual_bootstrap_variance,
    noise_ceiling,
    pool_rdms,
    rsa_bootstrap,
    score_sample,
)
from unireps.metrics.rsa import COMPARE_METHODS, RSATOOLBOX_NAMES

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.inference import boot_noise_ceiling  # noqa: E402
from rsatoolbox.rdm import RDMs, compare  # noqa: E402
from rsatoolbox.util.inference_util import _dual_bootstrap, pool_rdm  # noqa: E402

TOL = 1e-9
N = 16
M = N * (N - 1) // 2


def _subjects(seed: int, tied: bool, S: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.random(M)
    R = truth + 0.6 * rng.random((S, M))
    return np.round(R * 4) if tied else R  # tied: 5-6 distinct values per subject


def _two_valued(seed: int) -> np.ndarray:
    """A categorical model RDM (like the animacy model: 0 within, 1 between categories)."""
    labels = np.random.default_rng(seed).integers(0, 2, N)
    i, j = np.triu_indices(N, 1)
    return (labels[i] != labels[j]).astype(float)


def _rsatb(method):
    return RSATOOLBOX_NAMES[method]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rsatoolbox: "Noise ceiling for tau based on averaged ranks!"
        yield


@pytest.mark.parametrize("method", COMPARE_METHODS)
@pytest.mark.parametrize("case", ["continuous", "tied", "two_valued"])
def test_compare_equals_rsatoolbox(method, case):
    R = _subjects(1, tied=case == "tied")
    a = _two_valued(2) if case == "two_valued" else R[0]
    for b in R[1:]:
        want = float(compare(RDMs(a[None]), RDMs(b[None]), _rsatb(method))[0, 0])
        assert rsa_rdms(a, b, method) == pytest.approx(want, abs=TOL)


def test_rho_a_and_tau_a_differ_from_spearman_and_tau_b_only_with_ties():
    R = _subjects(3, tied=False)
    assert rsa_rdms(R[0], R[1], "rho_a") == pytest.approx(rsa_rdms(R[0], R[1], "spearman"), abs=1e-12)
    assert rsa_rdms(R[0], R[1], "kendall_tau_a") == pytest.approx(rsa_rdms(R[0], R[1], "kendall_tau_b"), abs=1e-12)
    model, data = _two_valued(4), R[0]
    # a model that predicts ties is shrunk towards 0 by the tie-uncorrected coefficients
    assert abs(rsa_rdms(model, data, "rho_a")) < abs(rsa_rdms(model, data, "spearman"))
    assert abs(rsa_rdms(model, data, "kendall_tau_a")) < abs(rsa_rdms(model, data, "kendall_tau_b"))


@pytest.mark.parametrize("method", COMPARE_METHODS)
@pytest.mark.parametrize("tied", [False, True])
def test_pool_equals_rsatoolbox(method, tied):
    R = _subjects(5, tied)
    want = pool_rdm(RDMs(R), _rsatb(method)).get_vectors()[0]
    np.testing.assert_allclose(pool_rdms(list(R), method), want, rtol=0, atol=TOL)


@pytest.mark.parametrize("method", COMPARE_METHODS)
@pytest.mark.parametrize("tied", [False, True])
def test_noise_ceiling_equals_rsatoolbox(method, tied):
    R = _subjects(6, tied)
    want = boot_noise_ceiling(RDMs(R), method=_rsatb(method))
    np.testing.assert_allclose(noise_ceiling(list(R), method), want, rtol=0, atol=TOL)


@pytest.mark.parametrize("method", ["spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"])
def test_noise_ceiling_of_human_it_equals_rsatoolbox(method):
    from unireps.analysis.brain import subject_rdms
    from unireps.data import load_dataset

    S = np.stack(subject_rdms(load_dataset("kriegeskorte92")))
    want = boot_noise_ceiling(RDMs(S), method=_rsatb(method))
    np.testing.assert_allclose(noise_ceiling(list(S), method), want, rtol=0, atol=TOL)


def _rsatoolbox_sample(models, R, method, s_idx, p_idx):
    """rsatoolbox's eval_bootstrap body on one given draw (RDMs.subsample / subsample_pattern, boot_noise_ceiling)."""
    data = RDMs(R).subsample("index", s_idx).subsample_pattern("index", p_idx)
    scores = [np.mean(compare(RDMs(m[None]).subsample_pattern("index", p_idx), data, _rsatb(method)))
              for m in models]
    return np.array(scores), boot_noise_ceiling(data, method=_rsatb(method), rdm_descriptor="index")


@pytest.mark.parametrize("method", COMPARE_METHODS)
def test_bootstrap_sample_equals_rsatoolbox(method):
    R = _subjects(7, tied=method in ("kendall_tau_a", "rho_a"))
    models = np.stack([R.mean(0) + np.random.default_rng(8).random(M), _two_valued(9)])
    rng = np.random.default_rng(10)
    for _ in range(3):
        s_idx, p_idx = rng.integers(0, len(R), len(R)), rng.integers(0, N, N)
        if len(np.unique(s_idx)) < 2:
            continue
        scores, lower, upper = score_sample(models, R, method, s_idx, p_idx)
        want_scores, (want_lo, want_hi) = _rsatoolbox_sample(models, R, method, s_idx, p_idx)
        np.testing.assert_allclose(scores, want_scores, rtol=0, atol=TOL)
        assert (lower, upper) == pytest.approx((want_lo, want_hi), abs=TOL)


def test_dual_bootstrap_variance_equals_rsatoolbox():
    rng = np.random.default_rng(11)
    for _ in range(20):
        v = rng.random((3, 4)) * 0.01
        want = _dual_bootstrap(v, n_rdm=4, n_pattern=92)
        np.testing.assert_allclose(dual_bootstrap_variance(v[0], v[1], v[2], 4, 92), want, rtol=0, atol=1e-15)


def test_rsa_bootstrap_covers_and_orders():
    R = _subjects(12, tied=False, S=6)
    res = rsa_bootstrap({"truth": R.mean(0), "noise": np.random.default_rng(13).random(M)}, list(R), n_boot=60)
    t = res.table.set_index("name")
    assert t.loc["truth", "ci_low"] > t.loc["noise", "ci_high"]
    assert t.loc["ceiling_lower", "value"] < t.loc["ceiling_upper", "value"]
    assert (t.sd_dual <= t.sd_both + 1e-15).all() and (t.n_boot > 50).all()
    again = rsa_bootstrap({"truth": R.mean(0), "noise": np.random.default_rng(13).random(M)}, list(R), n_boot=60)
    assert again.table.equals(res.table)  # seeded


def test_noise_ceiling_errors():
    with pytest.raises(ValueError, match="at least 2"):
        noise_ceiling([np.ones(10)])
    with pytest.raises(ValueError, match="same stimuli"):
        noise_ceiling([np.arange(10.0), np.arange(6.0)])
    with pytest.raises(ValueError, match="compare"):
        noise_ceiling([np.arange(10.0), np.arange(10.0)], "kendall")
