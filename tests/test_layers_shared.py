"""layer_similarities and identification_cis share per-layer and per-draw work across measures; their values
equal layer_similarity and the draw-by-draw identification_ci loop of before (a reference copy here)."""

import numpy as np
import pytest

from unireps.analysis import identification_ci, identification_cis, identification_rate
from unireps.metrics import layer_similarity
from unireps.metrics.layers import layer_similarities
from unireps.runtime import threads_for_small_ops

METRICS = ("linear_cka", "cca", "svcca", "rsa")


def _layers(rng, n=50, dims=(4, 7, 12)):
    base = [rng.normal(size=(n, d)) for d in dims]
    return base, [b + 0.6 * rng.normal(size=b.shape) for b in base]


def _reference_ci(la, lb, metric, n_boot, seed, level=0.95):
    """The loop identification_ci ran before it shared work across measures."""
    la, lb = [np.asarray(x) for x in la], [np.asarray(x) for x in lb]
    n = la[0].shape[0]
    rate = identification_rate(layer_similarity(la, lb, metric))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        try:
            draws.append(identification_rate(layer_similarity([x[idx] for x in la], [y[idx] for y in lb], metric)))
        except ValueError:
            continue
    low, high = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return rate, float(low), float(high), len(draws)


def test_layer_similarities_equal_layer_similarity_per_measure():
    a, b = _layers(np.random.default_rng(0))
    maps = layer_similarities(a, b, METRICS)
    for m in METRICS:
        np.testing.assert_allclose(maps[m], layer_similarity(a, b, m), rtol=0, atol=1e-12)
    same = layer_similarities(a, a, ("cca",))["cca"]
    np.testing.assert_allclose(same, layer_similarity(a, a, "cca"), rtol=0, atol=1e-12)


def test_layer_similarities_keep_or_raise_an_undefined_measure():
    rng = np.random.default_rng(1)
    a, b = _layers(rng, n=10, dims=(3, 12))  # 12 features on 10 stimuli: CCA is degenerate
    maps = layer_similarities(a, b, ("linear_cka", "cca"), errors="keep")
    assert isinstance(maps["cca"], ValueError) and maps["linear_cka"].shape == (2, 2)
    with pytest.raises(ValueError, match="rank"):
        layer_similarities(a, b, ("linear_cka", "cca"))
    with pytest.raises(ValueError, match="errors"):
        layer_similarities(a, b, ("cca",), errors="ignore")


def test_identification_cis_equal_the_draw_by_draw_loop():
    a, b = _layers(np.random.default_rng(2), dims=(3, 5, 8, 20))
    with threads_for_small_ops():
        got = identification_cis(a, b, METRICS, n_boot=20, seed=3)
        intervals = []
        for m in METRICS:
            rate, low, high, used = _reference_ci(a, b, m, 20, 3)
            r = got[m]
            assert (r["rate"], r["ci_low"], r["ci_high"], r["n_boot"]) == (rate, low, high, used)
            intervals.append((low, high))
        assert identification_ci(a, b, "svcca", n_boot=20, seed=3) == got["svcca"]
    assert len(set(intervals)) > 1  # the measures differ here: the comparison can fail


def test_identification_cis_report_an_undefined_measure_without_stopping_the_others():
    a, b = _layers(np.random.default_rng(4), n=12, dims=(3, 5, 11))  # 11 features on 12 stimuli
    got = identification_cis(a, b, ("linear_cka", "cca"), n_boot=20)
    assert isinstance(got["cca"], ValueError) and got["linear_cka"]["n_boot"] == 20
    with pytest.raises(ValueError):
        identification_ci(a, b, "cca", n_boot=20)
