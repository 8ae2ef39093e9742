"""Analyses on tiny torch models and small data: tables have the promised shape, the logic is right on
constructed cases where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from unireps.analysis import (
    brain_rsa,
    compare_models,
    factor_alignment,
    identification_rate,
    layerwise,
    noise_ceiling,
    pairwise_table,
    retrieval_at_1,
    sweep,
)
from unireps.data import load_dataset
from unireps.models import from_module


def tiny_cnn(seed: int, width: int = 8):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, stride=2, padding=1),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4 * width, 16))
    return from_module(net, layers=["1", "3", "5"], name=f"cnn-s{seed}-w{width}")


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", n=64, seed=0)


def test_compare_models_table_and_baselines(shapes, tmp_path):
    a, b = tiny_cnn(0), tiny_cnn(1)
    res = compare_models([a, b], shapes, metrics=("linear_cka", "mutual_knn"), n_boot=20, n_permutations=19,
                         cache_dir=tmp_path, metric_kwargs={"mutual_knn": {"k": 5}})
    assert set(res.matrices) == {"linear_cka", "mutual_knn"}
    M = res.matrix("linear_cka")
    assert list(M.index) == ["cnn-s0-w8", "cnn-s1-w8", "raw pixels"]
    assert np.allclose(np.diag(M.to_numpy()), 1.0)
    assert np.allclose(M.to_numpy(), M.to_numpy().T)
    t = res.table
    assert len(t) == 2 * 3  # 3 pairs × 2 measures
    assert (t.ci_low <= t.value + 1e-12).all() and (t.value <= t.ci_high + 1e-12).all()
    assert t.p_value.between(0, 1).all() and t.shuffled.notna().all()
    estimators = dict(zip(t.metric, t.estimator))
    assert estimators == {"linear_cka": "linear_cka (HSIC, unbiased=False)", "mutual_knn": "mutual_knn (k=5)"}


def test_compare_models_with_arrays_and_identity():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    res = compare_models({"x": X, "x_rotated": X @ np.linalg.qr(rng.normal(size=(6, 6)))[0]}, None,
                         metrics=("procrustes",), n_boot=0, n_permutations=0, baselines=False)
    assert res.table.value.iloc[0] == pytest.approx(1.0)


def test_compare_models_jackknife_intervals_equal_jackknife_ci():
    from unireps.metrics import jackknife_ci

    rng = np.random.default_rng(3)
    Z = rng.normal(size=(30, 3))
    reps = {"a": Z @ rng.normal(size=(3, 80)) + rng.normal(size=(30, 80)),
            "b": Z @ rng.normal(size=(3, 50)) + rng.normal(size=(30, 50))}
    t = compare_models(reps, None, metrics=("linear_cka",), n_boot=0, n_permutations=0, baselines=False,
                       ci="jackknife").table
    ref = jackknife_ci(reps["a"], reps["b"], "linear_cka")
    assert (t.ci_low.iloc[0], t.ci_high.iloc[0]) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert t.ci_method.iloc[0] == "jackknife over stimuli, t interval"
    boot = compare_models(reps, None, metrics=("linear_cka",), n_boot=20, n_permutations=0, baselines=False,
                          ci="bootstrap").table
    assert boot.ci_method.iloc[0] == "percentile bootstrap over stimuli"
    with pytest.raises(ValueError, match="ci must be one of 'auto', 'bootstrap', 'jackknife'"):
        compare_models(reps, None, metrics=("linear_cka",), baselines=False, ci="bca")


def test_compare_models_auto_interval_is_chosen_per_pair_from_the_shapes():
    """ci="auto", mutual k-NN: the jackknife for a pair with a representation of at least n features, else the
    bootstrap (the same draws as ci="bootstrap" for those pairs); n_boot=0 means no intervals."""
    rng = np.random.default_rng(5)
    Z = rng.normal(size=(40, 3))
    reps = {"narrow": Z @ rng.normal(size=(3, 8)) + rng.normal(size=(40, 8)),
            "narrow2": Z @ rng.normal(size=(3, 6)) + rng.normal(size=(40, 6)),
            "wide": Z @ rng.normal(size=(3, 40)) + rng.normal(size=(40, 40))}
    kw = dict(metrics=("mutual_knn",), n_permutations=0, baselines=False, metric_kwargs={"mutual_knn": {"k": 5}})
    auto = compare_models(reps, None, n_boot=30, **kw).table.set_index(["model_a", "model_b"])
    assert auto.loc[("narrow", "narrow2"), "ci_method"] == "percentile bootstrap over stimuli"
    jackknifed = auto.loc[[("narrow", "wide"), ("narrow2", "wide")], "ci_method"]
    assert (jackknifed == "jackknife over stimuli, t interval").all()
    boot = compare_models(reps, None, n_boot=30, ci="bootstrap", **kw).table.set_index(["model_a", "model_b"])
    jack = compare_models(reps, None, n_boot=0, ci="jackknife", **kw).table.set_index(["model_a", "model_b"])
    assert auto.loc[("narrow", "narrow2"), "ci_low"] == boot.loc[("narrow", "narrow2"), "ci_low"]
    assert auto.loc[("narrow", "wide"), "ci_high"] == jack.loc[("narrow", "wide"), "ci_high"]
    none = compare_models(reps, None, n_boot=0, **kw).table
    assert "ci_low" not in none


def test_compare_models_auto_gives_linear_cka_the_jackknife_whatever_the_shapes():
    rng = np.random.default_rng(6)
    reps = {"a": rng.normal(size=(60, 4)), "b": rng.normal(size=(60, 5))}
    kw = dict(n_permutations=0, baselines=False, metrics=("linear_cka",))
    auto = compare_models(reps, None, n_boot=30, **kw).table
    jack = compare_models(reps, None, n_boot=0, ci="jackknife", **kw).table
    assert auto.ci_method.tolist() == ["jackknife over stimuli, t interval"]
    assert (auto.ci_low.item(), auto.ci_high.item()) == (jack.ci_low.item(), jack.ci_high.item())


def test_layerwise_identification_on_same_model(shapes, tmp_path):
    a = tiny_cnn(0)
    res = layerwise(a, a, shapes, cache_dir=tmp_path, comparison_metrics=("cca", "svcca"))
    assert res.identification.set_index("metric").loc["linear_cka", "identification_rate"] == 1.0
    assert res.identification.set_index("metric").loc["linear_cka", "estimator"] == "linear_cka (HSIC, unbiased=False)"
    assert (res.identification.n == 64).all()
    assert list(res.maps["linear_cka"].index) == ["1", "3", "5", "output"]
    # CCA on flattened feature maps (8192 wide) with 64 stimuli is undefined: reported with a note, not silently
    flat = layerwise(a, a, shapes, cache_dir=tmp_path, pooling="flatten", comparison_metrics=("cca",))
    assert "rank" in flat.identification.set_index("metric").loc["cca", "note"]


def test_identification_rate():
    assert identification_rate(np.eye(4) + 0.1) == 1.0
    assert identification_rate(np.array([[0.1, 0.9], [0.8, 0.2]])) == 0.0
    with pytest.raises(ValueError, match="equally many layers"):
        identification_rate(np.ones((2, 3)))


def test_factor_alignment_prefers_the_factor_encoded():
    ds = load_dataset("shapes", n=80, seed=1)
    onehot_colour = pd.get_dummies(ds.factors["colour"]).to_numpy(float)
    noisy = onehot_colour + 0.01 * np.random.default_rng(0).normal(size=onehot_colour.shape)
    t = factor_alignment({"colour code": noisy}, ds, metrics=("linear_cka",))
    by = t.set_index("factor")["value"]
    assert by["colour"] > 0.99 and by["colour"] > by["shape"] + 0.5


def test_retrieval_counts_same_caption_as_hit():
    img = np.eye(3)
    txt = np.eye(3)[[1, 0, 2]]
    assert retrieval_at_1(img, txt, ["a", "a", "b"]) == (1.0, 1.0)
    assert retrieval_at_1(img, txt, ["a", "c", "b"])[0] == pytest.approx(1 / 3)


def test_sweep_filters_pairs():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 8))
    models = {f"w{w}s{s}": {"width": w, "seed": s} for w in (4, 8) for s in (0, 1)}
    reps = {k: base[:, :v["width"]] + 0.1 * v["seed"] * rng.normal(size=(50, v["width"])) for k, v in models.items()}
    import unireps.analysis.sweeps as sw

    orig = sw.embedding
    sw.embedding = lambda name, *a, **k: reps[name]
    try:
        t = pairwise_table(models, None)
    finally:
        sw.embedding = orig
    s = sweep(t, "width", differ=("seed",))
    assert list(s.width) == [4, 8] and (s["count"] == 1).all()
    assert set(t.estimator) == {"linear_cka (HSIC, unbiased=False)"} and set(t.n) == {50}


def test_noise_ceiling_bounds():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=45)
    subjects = [truth + 0.5 * rng.normal(size=45) for _ in range(4)]
    lo, hi = noise_ceiling(subjects)
    assert 0 < lo < hi < 1


@pytest.mark.slow
def test_brain_rsa_on_a_tiny_model(tmp_path):
    t = brain_rsa(tiny_cnn(0), n_boot=10, cache_dir=tmp_path)
    layers = t[t.kind == "layer"]
    assert set(layers.target) == {"human_IT", "monkey_IT"} and len(layers) == 8
    assert (t.ceiling_lower < t.ceiling_upper).all()
    assert "animacy" in set(t.layer)
