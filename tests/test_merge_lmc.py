"""Linear mode connectivity: curve endpoints, barrier definition, alignment of a permuted copy, BatchNorm."""

import pandas as pd
import pytest
import torch
from torch import nn

from unireps.applications import lmc_width_sweep
from unireps.merge import (
    apply_permutation,
    barrier,
    barriers,
    interpolate,
    lmc_curve,
    random_permutation,
    recompute_bn_stats,
    spec_from_module,
    weight_matching,
)
from unireps.zoo.digits import digits_split, evaluate, trained_digits_model


@pytest.fixture(scope="module")
def pair():
    torch.set_num_threads(1)
    a = trained_digits_model("mlp", 32, 0, epochs=8)
    b = trained_digits_model("mlp", 32, 1, epochs=8)
    return a, b, digits_split()


def test_curve_endpoints_equal_the_endpoint_models(pair):
    a, b, data = pair
    curve = lmc_curve(a, a.state_dict(), b.state_dict(), data.x_test, data.y_test, n_points=11)
    assert len(curve) == 11 and curve["t"].iloc[0] == 0.0 and curve["t"].iloc[-1] == 1.0
    ea, eb = evaluate(a, data.x_test, data.y_test), evaluate(b, data.x_test, data.y_test)
    assert curve["loss"].iloc[0] == pytest.approx(ea["loss"], abs=1e-6)
    assert curve["loss"].iloc[-1] == pytest.approx(eb["loss"], abs=1e-6)
    assert curve["error"].iloc[0] == pytest.approx(ea["error"])
    assert curve["error"].iloc[-1] == pytest.approx(eb["error"])
    res = barriers(curve)
    assert res["loss_barrier"] > 0.1  # independently trained: a real barrier
    assert a.state_dict()["fc1.weight"].data_ptr() != b.state_dict()["fc1.weight"].data_ptr()


def test_aligned_permuted_copy_has_zero_barrier_and_naive_does_not(pair):
    a, _, data = pair
    spec = spec_from_module(a)
    permuted = apply_permutation(spec, random_permutation(spec, a.state_dict(), seed=7), a.state_dict())
    naive = barriers(lmc_curve(a, a.state_dict(), permuted, data.x_test, data.y_test))
    aligned = apply_permutation(spec, weight_matching(spec, a.state_dict(), permuted), permuted)
    after = barriers(lmc_curve(a, a.state_dict(), aligned, data.x_test, data.y_test))
    assert naive["loss_barrier"] > 0.3 and naive["error_barrier"] > 0.05
    assert abs(after["loss_barrier"]) < 1e-6 and abs(after["error_barrier"]) < 1e-9


def test_barrier_is_max_gap_above_the_chord():
    curve = pd.DataFrame({"t": [0.0, 0.25, 0.5, 0.75, 1.0], "loss": [1.0, 2.5, 3.0, 2.0, 2.0],
                          "error": [0.1, 0.1, 0.1, 0.1, 0.1]})
    # chord: 1.0, 1.25, 1.5, 1.75, 2.0 -> gaps 0, 1.25, 1.5, 0.25, 0
    assert barrier(curve) == pytest.approx(1.5)
    assert barrier(curve, "error") == pytest.approx(0.0)
    with pytest.raises(ValueError, match="'t'"):
        barrier(curve.drop(columns="t"))


def test_interpolate_and_errors():
    a = {"w": torch.tensor([0.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([2.0, 4.0]), "n": torch.tensor(9)}
    mid = interpolate(a, b, 0.25)
    assert torch.allclose(mid["w"], torch.tensor([0.5, 2.5])) and int(mid["n"]) == 3
    with pytest.raises(ValueError, match="missing 'w'"):
        interpolate(a, {"n": torch.tensor(1)}, 0.5)
    with pytest.raises(ValueError, match="shape"):
        interpolate(a, {"w": torch.zeros(3), "n": torch.tensor(1)}, 0.5)
    model = nn.Sequential(nn.Linear(2, 3))
    with pytest.raises(ValueError, match="n_points"):
        lmc_curve(model, model.state_dict(), model.state_dict(), torch.zeros(2, 2), torch.zeros(2, dtype=torch.long),
                  n_points=1)


def test_batchnorm_needs_bn_data_and_statistics_are_recomputed():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    x, y = torch.randn(64, 4) * 3 + 1, torch.randint(0, 2, (64,))
    with pytest.raises(ValueError, match="bn_data"):
        lmc_curve(model, model.state_dict(), model.state_dict(), x, y)
    recompute_bn_stats(model, x, batch_size=16)
    with torch.no_grad():
        h = model[0](x)
    assert torch.allclose(model[1].running_mean, h.mean(0), atol=1e-5)
    curve = lmc_curve(model, model.state_dict(), model.state_dict(), x, y, bn_data=x)
    assert curve["loss"].std() < 1e-6


def test_width_sweep_smoke():
    df = lmc_width_sweep(widths=(8,), seeds=(0, 1), epochs=2, splits=("test",))
    assert set(df["alignment"]) == {"naive", "weight_matching", "activation_matching"}
    assert {"loss_barrier", "error_barrier", "width", "split"} <= set(df)
    with pytest.raises(ValueError, match="n_points"):
        lmc_width_sweep(widths=(8,), n_points=5)
