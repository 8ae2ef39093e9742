"""Issue 18, cases 1-2: streaming / out-of-core paths refuse NaN and inf like the in-memory measures, and every
measure declaring isotropic-scaling invariance gives the same value at extreme scales (exactly the same for
power-of-two scalings), in float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unireps.metrics import get_metric, linear_cka, list_metrics, ooc, paired_cosine
from unireps.metrics.streaming import StreamingCCA, StreamingCKA, StreamingPredictability


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small matrices: one intra-op thread is faster on a shared machine (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SCALE_INVARIANT = [m.name for m in list_metrics() if "isotropic_scaling" in m.invariances]


def _pair(seed=0, n=40, dx=8, dy=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx)) + rng.standard_normal(dx)
    Y = X @ rng.standard_normal((dx, dy)) + 2.0 * rng.standard_normal((n, dy))
    return X, Y


def _pair_for(name, seed=0):
    X, Y = _pair(seed)
    if get_metric(name).equal_dims:
        Y = X + 0.8 * np.random.default_rng(seed + 1).standard_normal(X.shape)
    return X, Y


# ------------------------------------------------------------------------------------ case 1: NaN / inf


def _with_bad(X, value, row=3):
    X = X.copy()
    X[row, 1] = value
    return X


OOC_CALLS = {
    "mutual_knn_ooc": lambda X, Y: ooc.mutual_knn_ooc(X, Y, k=5),
    "mutual_knn_ooc_approx": lambda X, Y: ooc.mutual_knn_ooc(X, Y, k=5, approximate=True, recall_sample=0),
    "chunked_knn": lambda X, Y: ooc.chunked_knn(X, 5),
    "approximate_knn": lambda X, Y: ooc.approximate_knn(X, 5, recall_sample=0),
    "streaming_paired_cosine": lambda X, Y: ooc.streaming_paired_cosine(X, Y[:, :X.shape[1]]),
    "streaming_linear_cka": lambda X, Y: ooc.streaming_linear_cka(X, Y),
    "streaming_cca": lambda X, Y: ooc.streaming_cca(X, Y).cca(),
    "streaming_predictability": lambda X, Y: ooc.streaming_predictability(X, Y),
}


@pytest.mark.parametrize("call", sorted(OOC_CALLS))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "all-nan"])
def test_streaming_paths_refuse_nan_and_inf(call, bad):
    pytest.importorskip("faiss") if "approx" in call else None
    X, Y = _pair(n=60, dx=8, dy=8)
    Xb = np.full_like(X, np.nan) if bad == "all-nan" else _with_bad(X, bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        OOC_CALLS[call](Xb, Y)
    if call != "chunked_knn" and "approximate_knn" != call:  # single-source calls have no Y
        with pytest.raises(ValueError, match="NaN or infinite"):
            OOC_CALLS[call](X, np.full_like(Y, np.nan) if bad == "all-nan" else _with_bad(Y, bad))


def test_streaming_nan_error_names_the_row():
    X, Y = _pair(n=60)
    with pytest.raises(ValueError, match="row 17"):
        ooc.mutual_knn_ooc(_with_bad(X, np.nan, row=17), Y, k=5, batch_size=16, query_batch_size=16)


# --------------------------------------------------------------------------------- case 2: extreme scales


@pytest.mark.parametrize("name", SCALE_INVARIANT)
@pytest.mark.parametrize("scale", [1e76, 1e155, 1e300, 1e-200])
def test_scale_invariant_measures_at_extreme_scales(name, scale):
    info = get_metric(name)
    X, Y = _pair_for(name)
    base = info(X, Y)
    tol = 1e-6 if name == "linear_predictability" else 1e-9
    assert info(X * scale, Y) == pytest.approx(base, rel=tol, abs=tol)
    assert info(X, Y * scale) == pytest.approx(base, rel=tol, abs=tol)
    assert info(X * scale, Y * scale) == pytest.approx(base, rel=tol, abs=tol)


@pytest.mark.parametrize("name", SCALE_INVARIANT)
@pytest.mark.parametrize("exponent", [-1000, -128, 300])
def test_power_of_two_scaling_is_bit_exact(name, exponent):
    info = get_metric(name)
    X, Y = _pair_for(name, seed=3)
    assert info(np.ldexp(X, exponent), Y) == info(X, Y)
    assert info(X, np.ldexp(Y, exponent)) == info(X, Y)


@pytest.mark.parametrize("name", SCALE_INVARIANT)
def test_float32_extreme_scale(name):
    info = get_metric(name)
    rng = np.random.default_rng(1)
    n, d = 20, 100  # n < d: the Gram form of linear CKA
    if name in ("cca", "svcca", "pwcca"):
        n, d = 60, 5
    X = rng.standard_normal((n, d)).astype(np.float32)
    Y = (X[:, :d] + rng.standard_normal((n, d))).astype(np.float32)
    if info.min_n > n:
        pytest.skip("needs more stimuli")
    base = info(X, Y)
    tol = 1e-3 if name == "linear_predictability" else 1e-4
    for s in (np.float32(1e9), np.float32(1e30), np.float32(1e-30)):
        assert info(X * s, Y) == pytest.approx(base, rel=tol, abs=tol), s
        assert info(X * s, Y * s) == pytest.approx(base, rel=tol, abs=tol), s


def test_issue_values_linear_cka_and_paired_cosine():
    X, Y = _pair()
    assert linear_cka(X * 1e76, Y) == pytest.approx(linear_cka(X, Y), rel=1e-12)
    assert paired_cosine(X * 1e155, X * 1e155) == pytest.approx(1.0)
    # wide dynamic range across rows: each row's cosine is scale free
    Xr = X * np.logspace(-150, 150, len(X))[:, None]
    assert paired_cosine(Xr, X) == pytest.approx(1.0)


STREAMING = {
    "streaming_linear_cka": lambda X, Y: ooc.streaming_linear_cka(X, Y, batch_size=16),
    "streaming_linear_cka_debiased": lambda X, Y: ooc.streaming_linear_cka(X, Y, debiased=True, batch_size=16),
    "streaming_cca": lambda X, Y: ooc.streaming_cca(X, Y, batch_size=16).cca(),
    "streaming_pwcca": lambda X, Y: ooc.streaming_cca(X, Y, batch_size=16).pwcca(),
    "streaming_procrustes": lambda X, Y: ooc.streaming_cca(X, Y, batch_size=16).procrustes(),
    "streaming_predictability": lambda X, Y: ooc.streaming_predictability(X, Y, batch_size=16),
    "streaming_paired_cosine": lambda X, Y: ooc.streaming_paired_cosine(X, Y, batch_size=16),
    "mutual_knn_ooc": lambda X, Y: float(ooc.mutual_knn_ooc(X, Y, k=5, batch_size=16)),
}


@pytest.mark.parametrize("call", sorted(STREAMING))
@pytest.mark.parametrize("scale", [1e154, 1e-200])
def test_streaming_forms_at_extreme_scales(call, scale):
    X, Y = _pair(n=60, dx=8, dy=8)
    f = STREAMING[call]
    base = f(X, Y)
    tol = 1e-6 if "predictability" in call else 1e-9
    assert f(X * scale, Y) == pytest.approx(base, rel=tol, abs=tol)
    assert f(X * scale, Y * scale) == pytest.approx(base, rel=tol, abs=tol)


def test_streaming_accumulators_keep_one_scale_across_batches():
    X, Y = _pair(n=60)
    for acc in (StreamingCKA(), StreamingCCA(), StreamingPredictability()):
        for s in range(0, 60, 20):
            acc.update(X[s:s + 20] * 1e200, Y[s:s + 20])
        ref = type(acc)()
        ref.update(X, Y)
        got, want = (acc.cca(), ref.cca()) if isinstance(acc, StreamingCCA) else (acc.compute(), ref.compute())
        assert got == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_extreme_scale_errors_name_the_real_problem(scale):
    X, Y = _pair()
    const = np.ones_like(X) * scale
    for name in SCALE_INVARIANT:
        info = get_metric(name)
        if name == "paired_cosine":  # not centred: constant rows have a cosine
            continue
        with pytest.raises(ValueError, match="constant|zero|rank"):
            info(const, Y[:, :X.shape[1]] if info.equal_dims else Y)
    Z = X.copy() * scale
    Z[5] = 0.0  # one genuinely all-zero row: the count must be 1, not 40
    with pytest.raises(ValueError, match=r"\b1 all-zero rows"):
        get_metric("mutual_knn")(Z, Y)
