"""Property tests driven by the registry: every declared invariance holds (transforming either side),
self-similarity is maximal,
values stay in the declared range, symmetric measures are symmetric."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unireps.metrics import INVARIANCES, get_metric, list_metrics

METRICS = [m.name for m in list_metrics()]
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _pair(seed: int, n: int, dx: int, dy: int, equal: bool):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dx)) * rng.uniform(0.5, 2.0, size=dx) + rng.normal(size=dx)
    if equal:
        dy = dx
    Y = X @ rng.normal(size=(dx, dy)) + 0.7 * rng.normal(size=(n, dy)) + rng.normal(size=dy)
    return X, Y


def _transform(kind: str, Y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    d = Y.shape[1]
    if kind == "orthogonal":
        Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        return Y @ Q
    if kind == "isotropic_scaling":
        return Y * rng.uniform(0.1, 10.0)
    if kind == "invertible_linear":
        Q1, _ = np.linalg.qr(rng.normal(size=(d, d)))
        Q2, _ = np.linalg.qr(rng.normal(size=(d, d)))
        return Y @ (Q1 * rng.uniform(0.5, 2.0, size=d)) @ Q2
    if kind == "translation":
        return Y + rng.normal(scale=5.0, size=d)
    if kind == "feature_permutation":
        return Y[:, rng.permutation(d)]
    raise AssertionError(kind)


def _tol(name: str) -> float:
    return 1e-6 if name in ("linear_predictability",) else 1e-8


shapes = st.tuples(st.integers(0, 10_000), st.integers(40, 90), st.integers(3, 8), st.integers(3, 8))


@pytest.mark.parametrize("name", METRICS)
@SETTINGS
@given(params=shapes)
def test_declared_invariances_hold(name, params):
    info = get_metric(name)
    seed, n, dx, dy = params
    X, Y = _pair(seed, n, dx, dy, info.equal_dims)
    base = info(X, Y)
    rng = np.random.default_rng(seed + 1)
    for kind in sorted(info.invariances):
        assert kind in INVARIANCES
        moved_y = info(X, _transform(kind, Y, rng))
        moved_x = info(_transform(kind, X, rng), Y)
        assert moved_y == pytest.approx(base, abs=_tol(name)), f"{name} not invariant to {kind} of Y"
        assert moved_x == pytest.approx(base, abs=_tol(name)), f"{name} not invariant to {kind} of X"


@pytest.mark.parametrize("name", METRICS)
@SETTINGS
@given(params=shapes)
def test_range_and_symmetry(name, params):
    info = get_metric(name)
    seed, n, dx, dy = params
    X, Y = _pair(seed, n, dx, dy, info.equal_dims)
    v = info(X, Y)
    lo, hi = info.range
    assert isinstance(v, float)
    assert lo - 1e-12 <= v <= hi + 1e-12
    if info.symmetric:
        assert info(Y, X) == pytest.approx(v, abs=1e-9)


@pytest.mark.parametrize("name", METRICS)
def test_self_similarity_is_maximal(name):
    info = get_metric(name)
    X, _ = _pair(3, 80, 6, 6, True)
    expected = 0.0 if info.kind == "distance" else 1.0
    assert info(X, X) == pytest.approx(expected, abs=_tol(name) * 10)


def test_non_invariances_are_real():
    """Guard against a test that cannot fail: measures do change under transforms they do not declare."""
    X, Y = _pair(0, 80, 6, 6, True)
    rng = np.random.default_rng(0)
    decay = np.array([10.0, 5.0, 2.0, 1.0, 0.1, 0.01])  # a decaying spectrum, so SVCCA's truncation bites
    X, Y = X * decay, Y * decay
    checked = 0
    for info in list_metrics():
        for kind in sorted(set(INVARIANCES) - info.invariances):
            if info.equal_dims and kind in ("invertible_linear",):
                continue
            base = info(X, Y)
            change = max(abs(info(X, _transform(kind, Y, rng)) - base), abs(info(_transform(kind, X, rng), Y) - base))
            assert change > 1e-6, f"{info.name} is invariant to {kind}: declare it"
            checked += 1
    assert checked > 10
