"""The metric registry built with keywords: every streaming form equals its measure; registration checks."""

from __future__ import annotations

import numpy as np
import pytest

from unireps.metrics import get_metric, list_metrics
from unireps.metrics.registry import INVARIANCES, register_metric, unregister_metric

STREAMING = [m.name for m in list_metrics() if m.streams]


def test_the_streaming_measures_are_the_out_of_core_ones():
    assert set(STREAMING) == {"linear_cka", "linear_cka_debiased", "cca", "svcca", "pwcca", "procrustes",
                              "linear_predictability", "mutual_knn", "paired_cosine"}
    assert all(m.as_dict()["streams"] == m.streams for m in list_metrics())


@pytest.mark.parametrize("name", STREAMING)
def test_streaming_form_equals_the_measure(name):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 6))
    Y = X @ rng.standard_normal((6, 6)) + 0.5 * rng.standard_normal((120, 6))
    info = get_metric(name)
    want = info(X, Y)
    got = info.stream(X, Y, batch_size=32)
    # linear_predictability streams with hashed folds (docs/scale.md), so its value differs from the sklearn-style
    # folds of the in-memory measure by the fold assignment only
    tol = 0.05 if name == "linear_predictability" else 1e-8
    assert got == pytest.approx(want, abs=tol), (name, got, want)


def test_register_metric_checks_its_fields():
    def first(X, Y):
        return float(np.corrcoef(X[:, 0], Y[:, 0])[0, 1])

    with pytest.raises(ValueError, match="kind"):
        register_metric("m", first, kind="score", range=(0, 1), invariances=(), symmetric=True, cost="", reference="")
    with pytest.raises(ValueError, match="unknown invariance"):
        register_metric("m", first, kind="similarity", range=(0, 1), invariances=("rotation",), symmetric=True,
                        cost="", reference="")
    with pytest.raises(ValueError, match="already registered"):
        register_metric("linear_cka", first, kind="similarity", range=(0, 1), invariances=(), symmetric=True,
                        cost="", reference="")
    info = register_metric("first_corr", first, kind="similarity", range=(-1, 1), invariances=INVARIANCES[:0],
                           symmetric=True, cost="O(n)", reference="test")
    try:
        assert get_metric("first_corr") is info and not info.streams
    finally:
        unregister_metric("first_corr")
    with pytest.raises(ValueError, match="unknown metric"):
        get_metric("first_corr")
