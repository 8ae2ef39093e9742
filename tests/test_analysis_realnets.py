"""Split-half layer selection and the real-network analyses (on synthetic representations: fast)."""

from __future__ import annotations

import numpy as np
import pytest

from unireps.analysis import layer_selection as LS
from unireps.analysis import realnets as R
from unireps.data import load_dataset
from unireps.metrics import compute_rdm


def test_split_halves_are_stratified_and_balanced():
    strata = ["a"] * 7 + ["b"] * 5 + ["c"] * 4
    for m in LS.split_halves(16, 10, seed=3, strata=strata):
        assert m.sum() == 8
        assert m[:7].sum() in (3, 4) and m[7:12].sum() in (2, 3) and m[12:].sum() == 2
    a, b = LS.split_halves(16, 2, seed=3, strata=strata)
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="strata"):
        LS.split_halves(5, 1, strata=[0, 1])


def test_selection_finds_the_signal_layer_and_corrects_the_max_bias():
    rng = np.random.default_rng(0)
    n = 40
    target = rng.normal(size=(n, 8))
    noise = {f"noise{i}": compute_rdm(rng.normal(size=(n, 8))) for i in range(8)}
    # all layers unrelated to the target: the best-on-selection score is biased upwards, the held-out one is not
    t = LS.select_layer_split_half(noise, compute_rdm(target), n_splits=15, seed=1)
    s = LS.summarize_selection(t)
    assert s["select_mean"] > 0.05 and abs(s["heldout_mean"]) < s["select_mean"] / 2
    layers = {**noise, "signal": compute_rdm(target + 0.5 * rng.normal(size=(n, 8)))}
    s2 = LS.summarize_selection(LS.select_layer_split_half(layers, compute_rdm(target), n_splits=15, seed=1))
    assert s2["modal_layer"] == "signal" and s2["modal_share"] == 1.0 and s2["heldout_mean"] > 0.3
    assert s2["depth_mean"] == 1.0 and np.isnan(s2["ceiling_lower"])


def test_selection_with_subjects_reports_a_heldout_ceiling():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(30, 6))
    subjects = [compute_rdm(base + 0.8 * rng.normal(size=(30, 6))) for _ in range(4)]
    t = LS.select_layer_split_half({"a": compute_rdm(base), "b": compute_rdm(rng.normal(size=(30, 6)))}, subjects,
                                   n_splits=3)
    assert (t.selected == "a").all()
    assert (t.ceiling_lower <= t.ceiling_upper).all() and (t.ceiling_upper > 0.2).all()
    assert (t.heldout_score <= t.ceiling_upper + 0.05).all()
    with pytest.raises(ValueError, match="square"):
        LS.select_layer_split_half({"a": np.zeros((30, 5))}, subjects)


@pytest.fixture(scope="module")
def fake_reps():
    rng = np.random.default_rng(2)
    shared = rng.normal(size=(92, 16))
    def net(n_layers, trained):
        return {f"block.{i}": (shared * (i + 1) / n_layers if trained else 0) + rng.normal(size=(92, 16))
                for i in range(n_layers)} | {"pooled": (shared if trained else 0) + 0.3 * rng.normal(size=(92, 16))}
    return {"net-a": net(4, True), "net-a-untrained": net(4, False), "net-b": net(6, True)}, shared


def test_brain_profiles_and_selection_shapes(fake_reps):
    reps, _ = fake_reps
    ds = load_dataset("kriegeskorte92")
    prof = R.brain_profiles(reps, ds)
    assert set(prof.target) == {"human_IT (4 subjects)", "human_IT", "monkey_IT", "model/V1", "model/EVA",
                                "model/HMAX"}
    assert len(prof) == (5 + 5 + 7) * 6 and prof.value.abs().max() < 0.3  # random layers: near zero
    assert set(prof[prof.model == "net-a-untrained"].state) == {"untrained"}
    sel = R.brain_selection({"net-a": reps["net-a"]}, ds, n_splits=2)
    assert len(sel) == 6
    row = sel[sel.target == "human_IT (4 subjects)"].iloc[0]
    assert 0 < row.ceiling_lower < row.ceiling_upper < 1 and row.n_splits == 2


def test_scale_agreement_kinds_and_depth_matching(fake_reps):
    reps, _ = fake_reps
    maps, by_layer, summ = R.scale_agreement(reps, n_permutations=20)
    assert maps[("net-a", "net-b")].shape == (5, 7)
    kinds = dict(zip(zip(summ.a, summ.b), summ.kind))
    assert kinds[("net-a", "net-b")] == "trained-trained" and kinds[("net-a", "net-a-untrained")] == "trained-untrained"
    last = by_layer[(by_layer.a == "net-a") & (by_layer.b == "net-b") & (by_layer.layer_a == "pooled")].iloc[0]
    assert last.layer_b == "pooled" and last.depth == 1.0
    tt = summ[summ.kind == "trained-trained"].iloc[0]
    tu = summ[summ.kind == "trained-untrained"].iloc[0]
    assert tt.pooled_value > tu.pooled_value and tt.pooled_p < 0.1


def test_language_alignment_detects_planted_alignment(fake_reps):
    reps, shared = fake_reps
    text = shared @ np.random.default_rng(5).normal(size=(16, 24))
    t = R.language_alignment({"net-a": reps["net-a"], "net-a-untrained": reps["net-a-untrained"]}, text,
                             n_permutations=50)
    pooled = t[(t.layer == "pooled") & (t.metric == "linear_cka")].set_index("model")
    assert pooled.loc["net-a", "value"] > pooled.loc["net-a-untrained", "value"]
    assert pooled.loc["net-a", "p"] <= 1 / 51 + 1e-12 and pooled.loc["net-a-untrained", "p"] > 0.05
    assert set(t.metric) == {"mutual_knn", "linear_cka"} and (t.n_permutations == 50).all()


def test_cli_realnets_refuses_bad_options(tmp_path, capsys):
    from unireps.cli import main

    assert main(["realnets", "--splits", "0", "--out", str(tmp_path)]) == 2
    assert "--splits 0" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["realnets", "--out", str(tmp_path / "file")]) == 2


@pytest.mark.parametrize("compare", ["spearman", "pearson"])
def test_fast_scores_equal_rsa_rdms(compare):
    rng = np.random.default_rng(4)
    layers = {f"l{i}": compute_rdm(rng.normal(size=(25, 4))) for i in range(3)}
    layers["ties"] = np.round(layers["l0"], 1)
    targets = [compute_rdm(rng.normal(size=(25, 4))) for _ in range(2)]
    fast, slow = LS._fast_scores(layers, targets, compare), LS._scores(layers, targets, compare)
    for k in layers:
        assert fast[k] == pytest.approx(slow[k], abs=1e-9)
