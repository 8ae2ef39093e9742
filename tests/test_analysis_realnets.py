"""Split-half layer selection and the real-network analyses (on synthetic representations: fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unireps.analysis import realnets as R
from unireps.analysis import select_layer_cv
from unireps.analysis.selection import split_halves
from unireps.data import load_dataset
from unireps.metrics import compute_rdm


def test_split_halves_are_stratified_and_balanced():
    strata = ["a"] * 7 + ["b"] * 5 + ["c"] * 4
    for m in split_halves(16, 10, seed=3, strata=strata):
        assert m.sum() == 8
        assert m[:7].sum() in (3, 4) and m[7:12].sum() in (2, 3) and m[12:].sum() == 2
    a, b = split_halves(16, 2, seed=3, strata=strata)
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="strata"):
        split_halves(5, 1, strata=[0, 1])


def test_stratified_selection_corrects_the_max_bias():
    rng = np.random.default_rng(0)
    n = 40
    strata = np.repeat(np.arange(4), 10)
    target = rng.normal(size=(n, 8))
    noise = {f"noise{i}": compute_rdm(rng.normal(size=(n, 8))) for i in range(8)}
    # all layers unrelated to the target: the best-on-selection score is biased upwards, the held-out one is not
    sel = select_layer_cv(noise, compute_rdm(target), n_splits=30, n_permutations=50, seed=1, strata=strata)
    select_mean = sel.splits.score_selection.mean()
    assert sel.stratified and select_mean > 0.05 and abs(sel.cv_mean) < select_mean / 2
    assert sel.p_value > 0.05 and np.isnan(sel.ceiling_lower)
    layers = {**noise, "signal": compute_rdm(target + 0.5 * rng.normal(size=(n, 8)))}
    sel2 = select_layer_cv(layers, compute_rdm(target), n_splits=15, n_permutations=20, seed=1, strata=strata)
    assert sel2.frequency.index[0] == "signal" and sel2.frequency.iloc[0] == 1.0 and sel2.cv_mean > 0.3


def test_selection_with_subjects_reports_the_ceiling_on_the_heldout_halves():
    from unireps.analysis.selection import _pair_index
    from unireps.metrics import noise_ceiling

    rng = np.random.default_rng(1)
    base = rng.normal(size=(30, 6))
    subjects = [compute_rdm(base + 0.8 * rng.normal(size=(30, 6))) for _ in range(4)]
    strata = np.repeat(np.arange(3), 10)
    sel = select_layer_cv({"a": compute_rdm(base), "b": compute_rdm(rng.normal(size=(30, 6)))}, subjects,
                          n_splits=3, n_permutations=0, strata=strata)
    assert (sel.splits.picked == "a").all()
    sp = sel.splits
    assert (sp.ceiling_lower < sp.ceiling_upper).all() and (sp.ceiling_upper > 0.2).all()
    # the ceiling of split 0 is the one of its held-out half (not of all stimuli)
    held = np.flatnonzero(~split_halves(30, 3, seed=0, strata=strata)[0])
    idx = _pair_index(30, held)
    assert sp.ceiling_lower[0] == pytest.approx(noise_ceiling([s[idx] for s in subjects])[0], abs=1e-12)
    assert sp.ceiling_lower[0] != pytest.approx(noise_ceiling(subjects)[0], abs=1e-3)
    assert sel.ceiling_upper == pytest.approx(sp.ceiling_upper.mean())


def test_unstratified_selection_is_unchanged_by_the_strata_option():
    """Without strata the splits (and so the report's numbers) are those of the random halving."""
    rng = np.random.default_rng(3)
    truth = rng.normal(size=(24, 5))
    layers = {f"l{k}": compute_rdm(truth + k * rng.normal(size=(24, 5))) for k in range(1, 4)}
    sel = select_layer_cv(layers, compute_rdm(truth), n_splits=4, n_permutations=5, seed=2)
    perm = np.random.default_rng(2).permutation(24)
    from unireps.analysis.selection import _pair_index, _scores

    C = np.stack(list(layers.values()))
    T = compute_rdm(truth)[None]
    a, b = _pair_index(24, perm[:12]), _pair_index(24, perm[12:])
    k = int(np.argmax(_scores(C[:, a], T[:, a], "spearman")))
    assert sel.splits.picked[0] == f"l{k + 1}"
    assert sel.splits.score_heldout[0] == pytest.approx(_scores(C[k:k + 1, b], T[:, b], "spearman")[0])
    assert not sel.stratified


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
    prof = R.brain_profiles(reps, ds, n_boot=20)
    assert set(prof.target) == {"human_IT (4 subjects)", "human_IT", "monkey_IT", "model/V1", "model/EVA",
                                "model/HMAX"}
    assert len(prof) == (5 + 5 + 7) * 6 and prof.value.abs().max() < 0.3  # random layers: near zero
    assert set(prof[prof.model == "net-a-untrained"].state) == {"untrained"}
    assert (prof.ci_low <= prof.value).all() and (prof.value <= prof.ci_high).all() and (prof.n_boot == 20).all()
    subj = prof[prof.target == R.SUBJECTS_TARGET]
    assert subj.both_low.notna().all() and prof[prof.target == "monkey_IT"].both_low.isna().all()
    plain = R.brain_profiles({"net-a": reps["net-a"]}, ds, n_boot=0)
    merged = plain.merge(prof, on=["model", "layer", "target"])
    np.testing.assert_allclose(merged.value_x, merged.value_y, atol=1e-12)
    sel = R.brain_selection({"net-a": reps["net-a"]}, ds, n_splits=2, n_permutations=5)
    assert len(sel) == 6
    row = sel[sel.target == R.SUBJECTS_TARGET].iloc[0]
    assert 0 < row.ceiling_lower < row.ceiling_upper < 1 and row.n_splits == 2 and row.n_layers == 5
    assert np.isnan(sel[sel.target == "monkey_IT"].ceiling_lower.iloc[0])
    assert set(prof.estimator) == set(sel.estimator) == {"rsa: correlation RDM, Spearman"}
    assert set(R.brain_profiles({"net-a": reps["net-a"]}, ds, compare="pearson", n_boot=0).estimator) == \
        {"rsa: correlation RDM, Pearson"}
    assert row.full_peak_value == pytest.approx(subj[subj.model == "net-a"].value.max())


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
    assert set(summ.estimator) == set(by_layer.estimator) == {"linear_cka (HSIC, unbiased=False)"}
    assert set(summ.n) == {92}


def test_language_alignment_detects_planted_alignment(fake_reps):
    reps, shared = fake_reps
    text = shared @ np.random.default_rng(5).normal(size=(16, 24))
    t = R.language_alignment({"net-a": reps["net-a"], "net-a-untrained": reps["net-a-untrained"]}, text,
                             n_permutations=50)
    pooled = t[(t.layer == "pooled") & (t.metric == "linear_cka")].set_index("model")
    assert pooled.loc["net-a", "value"] > pooled.loc["net-a-untrained", "value"]
    assert pooled.loc["net-a", "p"] <= 1 / 51 + 1e-12 and pooled.loc["net-a-untrained", "p"] > 0.05
    assert set(t.metric) == {"mutual_knn", "linear_cka"} and (t.n_permutations == 50).all()
    assert set(t.estimator) == {"mutual_knn (k=10)", "linear_cka (HSIC, unbiased=False)"} and set(t.n) == {92}


def test_cli_realnets_refuses_bad_options(tmp_path, capsys):
    from unireps.cli import main

    assert main(["realnets", "--splits", "0", "--out", str(tmp_path)]) == 2
    assert "--splits 0" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["realnets", "--out", str(tmp_path / "file")]) == 2


@pytest.mark.parametrize("compare", ["spearman", "pearson"])
def test_layer_bootstrap_equals_rsa_bootstrap(compare):
    """Model rows of unireps' rsatoolbox-conformant dual bootstrap, on the same draws; a single target's CI equals
    the stimulus-only draws of that bootstrap."""
    from unireps.metrics.ceiling import rsa_bootstrap

    rng = np.random.default_rng(4)
    truth = rng.normal(size=(25, 4))
    layers = {f"l{i}": compute_rdm(truth + i * rng.normal(size=(25, 4))) for i in range(3)}
    layers["ties"] = np.round(layers["l0"], 1)
    subjects = [compute_rdm(truth + rng.normal(size=(25, 4))) for _ in range(3)]
    single = compute_rdm(rng.normal(size=(25, 4)))
    t = R.layer_bootstrap(layers, {"subjects": subjects, "single": [single]}, compare, n_boot=40, seed=5)
    ref = rsa_bootstrap(layers, subjects, compare, n_boot=40, seed=5).table.set_index("name")
    mine = t[t.target == "subjects"].set_index("layer")
    for col_mine, col_ref in (("value", "value"), ("both_low", "ci_low"), ("both_high", "ci_high"),
                              ("sd_dual", "sd_dual"), ("dual_low", "dual_low")):
        np.testing.assert_allclose(mine[col_mine], ref.loc[list(layers), col_ref], atol=1e-10)
    stim = rsa_bootstrap(layers, subjects, compare, n_boot=40, seed=5).samples["stimuli"][:, :4]
    np.testing.assert_allclose(mine.ci_low, np.nanquantile(stim, 0.025, axis=0), atol=1e-10)
    # a single target: the same draws of stimuli against a "group" of three copies of that target
    ref1 = rsa_bootstrap(layers, [single] * 3, compare, n_boot=40, seed=5).samples["stimuli"][:, :4]
    one = t[t.target == "single"].set_index("layer")
    np.testing.assert_allclose(one.ci_high, np.nanquantile(ref1, 0.975, axis=0), atol=1e-10)
    assert one.both_low.isna().all() and (one.n_subjects == 1).all() and (t.n_boot == 40).all()
    with pytest.raises(ValueError, match="condensed RDMs of length"):
        R.layer_bootstrap(layers, {"bad": [single[:-1]]})


def test_real_net_figures(fake_reps):
    from unireps.report.realnets import figure_brain_curves, figure_scale_map

    reps, _ = fake_reps
    ds = load_dataset("kriegeskorte92")
    prof = R.brain_profiles(reps, ds, n_boot=10)
    sel = R.brain_selection(reps, ds, n_splits=2, n_permutations=0)
    fig = figure_brain_curves(prof, sel)
    lines = [tr for tr in fig.data if tr.mode == "lines+markers"]
    assert [tr.name for tr in lines] == list(reps)
    assert {tr.name: tr.line.dash for tr in lines}["net-a-untrained"] == "dash"
    assert lines[0].line.color == lines[1].line.color != lines[2].line.color  # a twin shares its model's colour
    assert len(fig.data) == 2 * len(reps)  # a CI band per model
    row = sel[sel.target == R.SUBJECTS_TARGET].iloc[0]
    assert fig.layout.shapes[0].y0 == pytest.approx(row.ceiling_lower)
    assert "untrained twins: dashed" in fig.layout.title.text and "n = 92" in fig.layout.title.text
    mono = figure_brain_curves(prof, sel, target="monkey_IT")
    assert not mono.layout.shapes  # no ceiling for one RDM
    with pytest.raises(ValueError, match="no rows for target"):
        figure_brain_curves(prof, sel, target="V4")
    maps, _, _ = R.scale_agreement(reps, n_permutations=5)
    names = {m: list(v) for m, v in reps.items()}
    fig = figure_scale_map(maps, names, "net-b", "net-a", null_mean=0.51)  # stored as (net-a, net-b): transposed
    assert "shuffled-pairing null of the pooled features 0.51" in fig.layout.title.text
    assert np.asarray(fig.data[0].z).shape == (7, 5) and list(fig.data[0].y) == names["net-b"]
    np.testing.assert_allclose(np.asarray(fig.data[0].z), maps[("net-a", "net-b")].T)


def test_real_net_figures_travel_to_the_report(fake_reps, tmp_path):
    from unireps.report.realnets import load_figures, realnet_figures, write_figures

    reps, _ = fake_reps
    ds = load_dataset("kriegeskorte92")
    prof = R.brain_profiles(reps, ds, n_boot=5)
    sel = R.brain_selection(reps, ds, n_splits=2, n_permutations=0)
    maps, _, summ = R.scale_agreement(reps, n_permutations=5)
    figs = realnet_figures(prof, sel, maps, {m: list(v) for m, v in reps.items()}, summ, "net-a", "net-b")
    assert sorted(figs) == ["realnets_brain", "realnets_scale"]
    null = summ[(summ.a == "net-a") & (summ.b == "net-b")].pooled_null_mean.iloc[0]
    assert f"null of the pooled features {null:.2f}" in figs["realnets_scale"].layout.title.text
    write_figures(tmp_path / "figures", figs)
    back = load_figures(tmp_path / "figures")
    assert sorted(back) == sorted(figs) and not list((tmp_path / "figures").glob("*.tmp"))
    for name, fig in figs.items():  # the same figure, data included
        assert json.loads(back[name].to_json()) == json.loads(fig.to_json())
    assert load_figures(tmp_path / "absent") == {}
    assert "realnets_scale" not in realnet_figures(prof, sel, maps, {"net-a": []}, summ, "net-a", "net-b")
