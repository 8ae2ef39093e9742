"""Issue 18, property tests (hypothesis, derandomised, few examples) over every measure in ``list_metrics()`` and
the streaming forms: declared invariance to isotropic scaling over x1e-300..x1e300 (bit-exact for powers of
two), values in the declared range at any scale, agreement of streaming and in-memory forms at extreme scales,
and a clear error (never NaN, never a silent different value) for NaN / inf / constant inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unireps.metrics import (
    UninformativeWarning,
    linear_cka,
    list_metrics,
    mutual_knn,
    ooc,
    paired_cosine,
    procrustes,
)

METRICS = list_metrics()
SCALE_FREE = [m for m in METRICS if "isotropic_scaling" in m.invariances]
SETTINGS = settings(max_examples=6, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(info, seed: int, n: int = 36, dx: int = 5, dy: int = 4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx)) + rng.standard_normal(dx)
    Y = X @ rng.standard_normal((dx, dy)) + rng.standard_normal((n, dy))
    if info.equal_dims:
        Y = X + rng.standard_normal(X.shape)
    return X.astype(dtype), Y.astype(dtype)


def _call(info, X, Y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UninformativeWarning)
        return info(X, Y)


@pytest.mark.parametrize("info", SCALE_FREE, ids=lambda m: m.name)
@SETTINGS
@given(seed=st.integers(0, 10_000), exponent=st.integers(-300, 300), side=st.sampled_from(["X", "Y", "both"]))
def test_scaling_invariance_over_the_whole_range(info, seed, exponent, side):
    X, Y = _data(info, seed)
    s = 10.0 ** exponent
    Xs, Ys = (X * s if side != "Y" else X), (Y * s if side != "X" else Y)
    base, got = _call(info, X, Y), _call(info, Xs, Ys)
    assert math.isfinite(got)
    tol = 1e-6 if info.name == "linear_predictability" else 1e-9
    assert got == pytest.approx(base, rel=tol, abs=tol)
    lo, hi = info.range
    assert lo - 1e-9 <= got <= hi + 1e-9


@pytest.mark.parametrize("info", SCALE_FREE, ids=lambda m: m.name)
@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(-1000, 1000).filter(lambda k: abs(k) > 72))
def test_power_of_two_scaling_outside_the_window_is_bit_exact(info, seed, k):
    X, Y = _data(info, seed)
    assert _call(info, np.ldexp(X, k), Y) == _call(info, np.ldexp(X, -k // 3 - 70), Y)


@pytest.mark.parametrize("info", SCALE_FREE, ids=lambda m: m.name)
@SETTINGS
@given(seed=st.integers(0, 10_000), exponent=st.integers(-30, 30))
def test_float32_scaling(info, seed, exponent):
    X, Y = _data(info, seed, dtype=np.float32)
    s = np.float32(10.0 ** exponent)
    base, got = _call(info, X, Y), _call(info, X * s, Y * s)
    assert got == pytest.approx(base, rel=1e-3, abs=1e-3)


@pytest.mark.parametrize("info", METRICS, ids=lambda m: m.name)
@SETTINGS
@given(seed=st.integers(0, 10_000), bad=st.sampled_from([np.nan, np.inf, -np.inf]),
       where=st.tuples(st.integers(0, 35), st.integers(0, 3)), side=st.sampled_from(["X", "Y"]))
def test_nan_and_inf_are_refused(info, seed, bad, where, side):
    X, Y = _data(info, seed)
    (X if side == "X" else Y)[where] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        _call(info, X, Y)


@pytest.mark.parametrize("info", [m for m in METRICS if m.name != "paired_cosine"], ids=lambda m: m.name)
@SETTINGS
@given(value=st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False), side=st.sampled_from(["X", "Y"]))
def test_constant_inputs_are_refused(info, value, side):
    X, Y = _data(info, 0)
    if side == "X":
        X = np.full_like(X, value)
    else:
        Y = np.full_like(Y, value)
    with pytest.raises(ValueError):
        _call(info, X, Y)


STREAMING = {
    "streaming_linear_cka": (lambda X, Y: ooc.streaming_linear_cka(X, Y, batch_size=8), linear_cka),
    "streaming_procrustes": (lambda X, Y: ooc.streaming_cca(X, Y, batch_size=8).procrustes(), procrustes),
    "streaming_paired_cosine": (lambda X, Y: ooc.streaming_paired_cosine(X, Y, batch_size=8), paired_cosine),
    "mutual_knn_ooc": (lambda X, Y: float(ooc.mutual_knn_ooc(X, Y, k=5, batch_size=8, query_batch_size=8)),
                       lambda X, Y: mutual_knn(X, Y, 5)),
}


@pytest.mark.parametrize("name", sorted(STREAMING))
@SETTINGS
@given(seed=st.integers(0, 10_000), ex=st.integers(-300, 300), ey=st.integers(-300, 300))
def test_streaming_forms_agree_with_in_memory_at_any_scale(name, seed, ex, ey):
    stream, memory = STREAMING[name]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 4)) + 1.0
    Y = X + rng.standard_normal((30, 4))
    Xs, Ys = X * 10.0**ex, Y * 10.0**ey
    assert stream(Xs, Ys) == pytest.approx(memory(X, Y), rel=1e-8, abs=1e-8)


@pytest.mark.parametrize("name", sorted(STREAMING))
@SETTINGS
@given(seed=st.integers(0, 10_000), row=st.integers(0, 29), bad=st.sampled_from([np.nan, np.inf]))
def test_streaming_forms_refuse_nan(name, seed, row, bad):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    Y[row, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        STREAMING[name][0](X, Y)
