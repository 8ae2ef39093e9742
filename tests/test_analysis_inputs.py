"""Input handling of the analysis / stitch / merge / transfer APIs on a researcher's own inputs: bad input gets a clear
ValueError / TypeError naming the problem, never a silent collapse, a wrong answer or a raw numpy/torch error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from torch import nn

from unireps.analysis import (
    brain_rsa,
    compare_models,
    cross_modal_alignment,
    factor_alignment,
    identification_rate,
    layerwise,
    noise_ceiling,
    representations,
    sweep,
)
from unireps.data import load_dataset
from unireps.merge import greedy_soup, uniform_soup
from unireps.metrics import linear_cka, procrustes_distance
from unireps.stitch import DualEncoderStitch, Stitcher, dual_encoder_retrieval, stitching_penalty_table
from unireps.transfer import LinearMap, cross_model_retrieval, probe_transfer, retrieval_recall


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", n=40, seed=0)


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    return X, X @ rng.normal(size=(6, 9)) + 0.5 * rng.normal(size=(40, 9))


# ------------------------------------------------------------------------------------------------ compare_models


def test_compare_models_value_matches_linear_cka_and_accepts_torch_float32(xy):
    X, Y = xy
    res = compare_models({"a": X, "b": torch.tensor(Y, dtype=torch.float32)}, None, metrics="linear_cka",
                         n_boot=0, n_permutations=0, baselines=False)
    assert list(res.table.metric) == ["linear_cka"]  # a single name is not read letter by letter
    assert res.table.value.iloc[0] == pytest.approx(linear_cka(X, Y.astype(np.float32)), abs=1e-6)


def test_compare_models_list_of_arrays_is_not_collapsed(xy):
    X, Y = xy
    res = compare_models([X, Y], None, metrics=("linear_cka",), n_boot=0, n_permutations=0, baselines=False)
    assert list(res.matrix("linear_cka").index) == ["model 0", "model 1"]
    assert res.table.value.iloc[0] == pytest.approx(linear_cka(X, Y))


def test_compare_models_names_the_bad_model(xy, shapes):
    X, Y = xy
    kw = dict(n_boot=0, n_permutations=0, baselines=False)
    with pytest.raises(ValueError, match=r"'a': 40, 'b': 30"):
        compare_models({"a": X, "b": Y[:30]}, None, **kw)
    with pytest.raises(ValueError, match="model 'a' has 30 rows but the dataset"):
        compare_models({"a": X[:30], "b": Y[:30]}, shapes, n_boot=0, n_permutations=0)
    with pytest.raises(ValueError, match="model 'b' contains 40 NaN"):
        compare_models({"a": X, "b": np.full((40, 1), np.nan)}, None, **kw)
    with pytest.raises(ValueError, match="between 'a' .* 'b' .*constant"):
        compare_models({"a": X, "b": np.ones((40, 3))}, None, metrics=("linear_cka",), **kw)
    with pytest.raises(ValueError, match=r"metric_kwargs=\{'mutual_knn': \{'k'"):
        compare_models({"a": X[:8], "b": Y[:8]}, None, metrics=("mutual_knn",), **kw)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['kk'\]"):
        compare_models({"a": X, "b": Y}, None, metrics=("mutual_knn",), metric_kwargs={"mutual_knn": {"kk": 3}}, **kw)
    with pytest.raises(ValueError, match="dataset is None"):
        compare_models({"a": X, "b": Y}, None, n_boot=0, n_permutations=0)


def test_compare_models_warns_about_skipped_equal_width_pairs(xy):
    X, Y = xy
    with pytest.warns(UserWarning, match="equal widths"):
        compare_models({"a": X, "b": Y}, None, metrics=("paired_cosine",), n_boot=0, n_permutations=0,
                       baselines=False)


# ------------------------------------------------------------------------------------------------ layerwise


def test_layerwise_refuses_row_mismatch_and_nan_instead_of_an_all_nan_map(xy):
    X, Y = xy
    with pytest.raises(ValueError, match="different numbers of stimuli"):
        layerwise({"l1": X}, {"l1": Y[:30]}, None, comparison_metrics=())
    with pytest.raises(ValueError, match="layer 'c' of model A contains"):
        layerwise({"c": np.full((40, 2), np.nan)}, {"l1": Y}, None, comparison_metrics=())
    with pytest.raises(ValueError, match="40 stimuli .* dataset has 60"):
        layerwise({"l1": X}, {"l1": Y}, load_dataset("shapes", n=60, seed=0), comparison_metrics=())
    # a constant layer is an undefined measure: NaN with a note (documented), not an error
    res = layerwise({"c": np.ones((40, 2)), "x": X}, {"l1": Y, "l2": X}, None, comparison_metrics="cca")
    assert np.isnan(res.maps["linear_cka"].loc["c"]).all() and "constant" in res.identification.note.iloc[0]


def test_layerwise_distance_metric_best_match_is_the_nearest_layer():
    rng = np.random.default_rng(1)
    A = {f"l{i}": rng.normal(size=(40, 5)) for i in range(3)}
    B = {k: v + 0.05 * rng.normal(size=v.shape) for k, v in A.items()}
    res = layerwise(A, B, None, metric="procrustes_distance", comparison_metrics=())
    assert procrustes_distance(A["l0"], B["l0"]) < procrustes_distance(A["l0"], B["l1"])
    assert list(res.best_match.best_layer_b) == ["l0", "l1", "l2"]
    assert res.identification.identification_rate.iloc[0] == 1.0
    assert identification_rate(np.array([[0.1, 0.9], [0.8, 0.2]]), kind="distance") == 1.0


def test_representations_accept_grad_and_bfloat16_tensors():
    t = torch.ones(3, 2, requires_grad=True)
    reps = representations({"a": t, "b": torch.ones(3, 2, dtype=torch.bfloat16)}, None)
    assert reps["a"].dtype == np.float32 and reps["b"].dtype == np.float32
    with pytest.raises(TypeError, match="dict \\{layer name"):
        representations([[1.0, 2.0]], None)


# ------------------------------------------------------------------------------------------------ others


def test_sweep_and_factor_alignment_accept_single_names(shapes):
    X = np.random.default_rng(0).normal(size=(40, 5))
    t = factor_alignment(X, shapes, metrics="linear_cka", factors="shape")
    assert set(t.factor) == {"shape", "all factors"} and set(t.metric) == {"linear_cka"}
    with pytest.raises(ValueError, match="has 30 rows but the dataset"):
        factor_alignment(X[:30], shapes, metrics=("linear_cka",))
    const = factor_alignment({"c": np.ones((40, 3)), "x": X}, shapes, metrics=("linear_cka",), factors=("shape",))
    assert const.set_index("layer").loc["c", "note"].str.contains("constant").all()
    import pandas as pd

    table = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "metric": ["m"], "value": [0.5], "width_a": [4],
                          "width_b": [4], "seed_a": [0], "seed_b": [1]})
    assert sweep(table, "width", differ="seed")["count"].tolist() == [1]
    with pytest.raises(ValueError, match="attributes are \\['seed', 'width'\\]"):
        sweep(table, "depth")


def test_cross_modal_alignment_refuses_a_bare_array_and_takes_image_text_dicts(shapes):
    rng = np.random.default_rng(0)
    img = rng.normal(size=(40, 8))
    with pytest.raises(TypeError, match="'image'"):
        cross_modal_alignment([img], shapes, language_model=None)  # was: image vs itself, alignment 1.0
    t = cross_modal_alignment({"m": {"image": img, "text": img + 0.1 * rng.normal(size=img.shape)}}, shapes,
                              metrics="linear_cka", language_model=None)
    assert t.model.tolist() == ["m"] and 0.9 < t.image_vs_own_text.iloc[0] < 1.0
    assert t.estimator.tolist() == ["linear_cka (HSIC, unbiased=False)"] and t.n.tolist() == [40]
    with pytest.raises(ValueError, match="captions"):
        cross_modal_alignment({"m": {"image": img, "text": img}}, None, language_model=None)


def test_brain_rsa_and_noise_ceiling_errors():
    X = np.random.default_rng(0).normal(size=(60, 4))
    with pytest.raises(ValueError, match="60 rows but kriegeskorte92"):
        brain_rsa(X, n_boot=0, with_references=False)
    with pytest.raises(ValueError, match="measured human and monkey IT"):
        brain_rsa(X, dataset="shapes", n_boot=0, with_references=False)
    with pytest.raises(ValueError, match="condensed vectors"):
        noise_ceiling([np.ones(10), np.ones(9)])


# ------------------------------------------------------------------------------------------------ transfer / stitch


def test_linear_map_input_conventions(xy):
    X, Y = xy
    assert LinearMap(alpha=np.float32(0.1)).fit(X, Y).score(X, Y) > 0.5
    assert LinearMap().fit(torch.tensor(X, dtype=torch.bfloat16), Y).coef_.shape == (6, 9)
    with pytest.raises(ValueError, match="constant"):
        LinearMap().fit(np.ones((40, 3)), Y)
    with pytest.raises(ValueError, match="R² is undefined"):
        LinearMap().fit(X, Y).score(X, np.ones((40, 9)))
    with pytest.raises(ValueError, match="at least 2"):
        LinearMap().fit(X[:1], Y[:1])
    m = LinearMap(method="procrustes").fit(X, Y)
    assert not hasattr(m.set_params(method="ridge").fit(X, Y), "rotation_")
    assert retrieval_recall(X, X, ks=1) == {"R@1": 1.0}


def test_probe_transfer_and_retrieval_accept_masks_and_single_values(xy):
    X, Y = xy
    labels = np.arange(40) % 2
    train = np.arange(40) < 30
    df = probe_transfer(X, Y, labels, train, ~train, n_anchors=10, methods="ridge")
    assert set(df.method) >= {"ridge"} and (df.n_anchors == 10).sum() == 1
    rec = cross_model_retrieval(X, Y, train, ~train, n_anchors=10, methods="procrustes")
    assert "procrustes" in set(rec.method)


def test_dual_encoder_stitch_is_a_sklearn_estimator(xy):
    X, Y = xy
    st = DualEncoderStitch()
    with pytest.raises(NotFittedError):
        check_is_fitted(st)
    assert st.fit(X, Y) is st
    check_is_fitted(st)
    with pytest.raises(ValueError, match="text_emb has 3 features"):
        st.score(X, Y[:, :3])
    with pytest.raises(ValueError, match="outside"):
        dual_encoder_retrieval(X, Y, np.arange(30), np.arange(30, 45))
    train = np.arange(40) < 30
    assert len(dual_encoder_retrieval(X, Y, train, ~train, methods="ridge")) == 2


def _mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def test_stitcher_accepts_numpy_float64_and_names_shape_errors():
    torch.set_num_threads(1)
    a, b = _mlp(0), _mlp(1)
    x = np.random.default_rng(0).normal(size=(50, 8))  # float64 numpy, models are float32
    y = (np.arange(50) % 3).astype(float)
    st = Stitcher(a, "1", b, "1", method="task", epochs=1).fit(x, y)
    assert 0.0 <= st.score(x, y) <= 1.0
    with pytest.raises(ValueError, match="model A cannot run on x of shape \\(50, 5\\)"):
        Stitcher(a, "1", b, "1", method="lstsq").fit(x[:, :5])
    with pytest.raises(ValueError, match="stitched model cannot run"):
        st.predict(x[:, :5])
    with pytest.raises(ValueError, match="integer class indices"):
        Stitcher(a, "1", b, "1", method="task", epochs=1).fit(x, y + 0.5)
    t = stitching_penalty_table(a, b, x, y, x, y, methods="lstsq", control=False)
    assert set(t.method) == {"lstsq"}


def test_merge_refuses_nan_weights_and_nan_scores():
    sa, sb = _mlp(0).state_dict(), _mlp(1).state_dict()
    bad = {k: v * float("nan") for k, v in sb.items()}
    with pytest.raises(ValueError, match="NaN"):
        uniform_soup([sa, bad])
    with pytest.raises(ValueError, match="finite"):
        greedy_soup([sa, sb], lambda sd: float("nan"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert uniform_soup([sa, sb])["0.bias"].shape == (16,)


def test_untrained_twin_of_a_loaded_encoder():
    """A loaded Encoder finds its registry twin by its name (compare_models' untrained-twin baseline)."""
    import types

    from unireps.analysis import untrained_twin

    assert untrained_twin("zoo:clip-s0") == "zoo:clip-s0-untrained"
    assert untrained_twin(types.SimpleNamespace(name="zoo:clip-s0")) == "zoo:clip-s0-untrained"
    assert untrained_twin(types.SimpleNamespace(name="zoo:clip-s0", untrained_twin="x")) == "x"
    assert untrained_twin(types.SimpleNamespace(name="minilm")) is None
    assert untrained_twin(np.zeros((3, 2))) is None


def test_layerwise_identification_leaves_out_an_undefined_layer():
    """A constant layer (a CLS token before the first block) used to make the whole identification rate NaN;
    it is now computed over the layers where the measure is defined, and the note says which were left out."""
    from unireps.analysis import layerwise

    rng = np.random.default_rng(0)
    z = rng.normal(size=(80, 6))
    A = {"embeddings": np.ones((80, 4)), "l1": z @ rng.normal(size=(6, 10)),
         "l2": np.tanh(z) @ rng.normal(size=(6, 8)), "l3": z[:, :3] ** 2 @ rng.normal(size=(3, 9))}
    B = {k: v if k == "embeddings" else v + 0.1 * rng.normal(size=v.shape) for k, v in A.items()}
    row = layerwise(A, B, None, comparison_metrics=()).identification.iloc[0]
    assert row.identification_rate == 1.0 and row.n_layers == 4 and row.n_layers_used == 3
    assert "left out (measure undefined): 'embeddings'/'embeddings'" in row.note
    short = layerwise(A, {k: B[k] for k in ("l1", "l2")}, None, comparison_metrics=()).identification.iloc[0]
    assert np.isnan(short.identification_rate) and "different numbers of layers (4 vs 2)" in short.note


def test_brain_rsa_refuses_unknown_rdm_and_compare_up_front():
    from unireps.analysis import brain_rsa

    X = np.random.default_rng(0).normal(size=(92, 5))
    with pytest.raises(ValueError, match="rdm.*'nope'.*correlation"):
        brain_rsa({"x": X}, rdm="nope")
    with pytest.raises(ValueError, match="compare.*'nope'.*spearman"):
        brain_rsa({"x": X}, compare="nope")


def test_representations_pass_the_batch_size_to_extraction(monkeypatch):
    """layerwise(..., engine_kwargs={"batch_size": 4}) reaches unireps.models.extract (CLI `layers --batch-size`)."""
    import unireps.analysis.reps as reps
    import unireps.models as models

    seen = {}

    def fake_extract(enc, ds, **kw):
        seen.update(kw)
        return {"l": np.ones((3, 2))}

    monkeypatch.setattr(models, "extract", fake_extract)
    monkeypatch.setattr(reps, "load", lambda m, device=None: m)
    out = reps.representations(object(), None, layers="all", engine_kwargs={"batch_size": 4})
    assert seen["batch_size"] == 4 and out["l"].shape == (3, 2)
