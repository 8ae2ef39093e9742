"""merge_at (the five methods at a weight t) and digits_merge_curve (the app's interactive merging demo)."""

from __future__ import annotations

import pytest
import torch

from unireps.merge import CURVE_METHODS, digits_merge_curve, interpolate, merge_at, slerp


def sds(seed):
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(4, 3, generator=g), "b": torch.randn(4, generator=g)}


def close(a, b):
    return all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_uniform_is_linear_interpolation():
    a, b = sds(0), sds(1)
    for t in (0.0, 0.3, 1.0):
        assert close(merge_at("uniform", a, b, t), interpolate(a, b, t))


def test_task_arithmetic_at_half_is_the_sum_of_task_vectors():
    a, b, base = sds(0), sds(1), sds(2)
    m = merge_at("task_arithmetic", a, b, 0.5, base=base)
    assert close(m, {k: base[k] + (a[k] - base[k]) + (b[k] - base[k]) for k in a})
    m0 = merge_at("task_arithmetic", a, b, 0.0, base=base)
    assert close(m0, {k: base[k] + 2 * (a[k] - base[k]) for k in a})


def test_ties_with_full_density_and_agreeing_signs_is_the_mean_vector():
    base = sds(2)
    a = {k: v + 1.0 for k, v in base.items()}
    b = {k: v + 3.0 for k, v in base.items()}
    m = merge_at("ties", a, b, 0.5, base=base, ties_density=1.0)  # weighted vectors 1 and 3: disjoint mean 2
    assert close(m, {k: v + 2.0 for k, v in base.items()})


def test_fisher_with_equal_fishers_is_the_weighted_mean_and_slerp_matches_library():
    a, b = sds(0), sds(1)
    ones = {k: torch.ones_like(v) for k, v in a.items()}
    assert close(merge_at("fisher", a, b, 0.25, fishers=[ones, ones]), interpolate(a, b, 0.25))
    assert close(merge_at("slerp", a, b, 0.4), slerp(a, b, 0.4))


@pytest.mark.parametrize("kw, msg", [({"method": "nope"}, "unknown merging method"),
                                     ({"method": "uniform", "t": 1.5}, r"in \[0, 1\]"),
                                     ({"method": "fisher"}, "Fishers"), ({"method": "ties"}, "base")])
def test_merge_at_errors(kw, msg):
    kw = {"t": 0.5, **kw}
    with pytest.raises(ValueError, match=msg):
        merge_at(kw.pop("method"), sds(0), sds(1), **kw)


def test_digits_merge_curve_endpoints_are_the_two_models_and_rebasin_keeps_b():
    from unireps.zoo.digits import digits_split, evaluate, trained_digits_model

    naive = digits_merge_curve("uniform", False, weights=[0.0, 0.5, 1.0], width=16, epochs=3)
    aligned = digits_merge_curve("uniform", True, weights=[0.0, 0.5, 1.0], width=16, epochs=3)
    data = digits_split(0)
    x, y = data.get("test")
    acc = [evaluate(trained_digits_model("mlp", 16, s, epochs=3), x, y)["accuracy"] for s in (0, 1)]
    assert naive.accuracy.iloc[0] == pytest.approx(acc[0]) and naive.accuracy.iloc[-1] == pytest.approx(acc[1])
    # permuting B's hidden units does not change B's function: the same accuracy at t = 1
    assert aligned.accuracy.iloc[-1] == pytest.approx(acc[1])
    assert list(naive.columns) == ["method", "rebasin", "t", "loss", "accuracy"]
    assert set(CURVE_METHODS) == {"uniform", "task_arithmetic", "ties", "fisher", "slerp"}
