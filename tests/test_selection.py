"""Honest selection: the cross-validated best layer, the permutation null of the in-sample maximum, the
identification rate's bootstrap CI."""

from __future__ import annotations

import numpy as np
import pytest

from unireps.analysis import identification_ci, select_layer_cv
from unireps.metrics import compute_rdm, rsa_rdms


def _noise_layers(seed: int, k: int = 12, n: int = 40):
    rng = np.random.default_rng(seed)
    return {f"L{i}": rng.normal(size=(n, 6)) for i in range(k)}, compute_rdm(rng.normal(size=(n, 6)))


def test_in_sample_maximum_is_optimistic_and_cv_is_not_on_pure_noise():
    """No layer relates to the target: the in-sample max is clearly positive, the cross-validated score is ~0 and
    the max sits inside its permutation null (p not small)."""
    layers, target = _noise_layers(0)
    sel = select_layer_cv(layers, target, n_splits=40, n_permutations=200, seed=1)
    assert sel.in_sample_value > 0.05
    assert abs(sel.cv_mean) < 2 * sel.cv_sd / np.sqrt(sel.n_splits) + 0.03
    assert sel.cv_mean < sel.in_sample_value
    assert sel.p_value > 0.05 and sel.null_p95 > 0
    assert sel.splits.score_selection.mean() > sel.cv_mean  # picking on a half inflates that half's score


def test_true_layer_is_found_and_significant():
    rng = np.random.default_rng(2)
    truth = rng.normal(size=(50, 8))
    layers = {f"L{k}": truth + (0.3 + k) * rng.normal(size=truth.shape) for k in range(5)}
    sel = select_layer_cv(layers, compute_rdm(truth), n_splits=30, n_permutations=100, seed=0)
    assert sel.frequency.index[0] == "L0" and sel.in_sample_best == "L0"
    assert sel.p_value == pytest.approx(1 / 101)
    assert sel.cv_mean > sel.null_p95


def test_in_sample_values_and_subjects_target():
    layers, target = _noise_layers(3, k=4)
    subjects = [target, target + 0.1 * np.random.default_rng(4).random(target.shape)]
    sel = select_layer_cv(layers, subjects, n_splits=5, n_permutations=0)
    for name, X in layers.items():
        want = np.mean([rsa_rdms(compute_rdm(X), s) for s in subjects])
        assert sel.in_sample[name] == pytest.approx(want, abs=1e-12)
    assert np.isnan(sel.p_value) and sel.n_permutations == 0


@pytest.mark.parametrize("compare", ["pearson", "kendall_tau_a", "rho_a"])
def test_null_of_max_matches_direct_permutation(compare):
    """The fast null (ranks computed once) equals permuting the target and rescoring every candidate."""
    from scipy.spatial.distance import squareform

    layers, target = _noise_layers(5, k=3, n=14)
    sel = select_layer_cv(layers, target, compare=compare, n_splits=2, n_permutations=5, seed=7)
    rng = np.random.default_rng(7)
    for _ in range(2):  # replay the split draws
        rng.permutation(14)
    T = squareform(target)
    iu = np.triu_indices(14, 1)
    for b in range(5):
        p = rng.permutation(14)
        want = max(rsa_rdms(compute_rdm(X), T[np.ix_(p, p)][iu], compare) for X in layers.values())
        assert sel.null[b] == pytest.approx(want, abs=1e-12)


def test_selection_errors():
    layers, target = _noise_layers(6, k=2)
    with pytest.raises(ValueError, match="at least 2 candidates"):
        select_layer_cv({"a": layers["L0"]}, target)
    with pytest.raises(ValueError, match="target"):
        select_layer_cv(layers, target[:-1])
    with pytest.raises(ValueError, match="n_splits"):
        select_layer_cv(layers, target, n_splits=1)
    with pytest.raises(ValueError, match="compare"):
        select_layer_cv(layers, target, compare="kendall")


def test_identification_ci_brackets_the_rate():
    rng = np.random.default_rng(8)
    base = [rng.normal(size=(80, 5)) for _ in range(4)]
    noisy = [b + 1.5 * rng.normal(size=b.shape) for b in base]
    r = identification_ci(base, noisy, "linear_cka", n_boot=40, seed=0)
    assert r["ci_low"] <= r["rate"] <= r["ci_high"] and r["n_layers"] == 4 and r["n_boot"] == 40
    with pytest.raises(ValueError, match="equally many layers"):
        identification_ci(base, noisy[:3])


@pytest.mark.parametrize("compare", ["spearman", "pearson", "cosine", "rho_a", "kendall_tau_a"])
def test_max_null_batched_equals_the_permutation_loop(compare):
    """The batched null (ranks and norms once, permuted targets as gathers) equals the loop over permutations
    that rebuilt each permuted target RDM (the code before; a reference copy here)."""
    from scipy.spatial.distance import squareform

    from unireps.analysis.selection import _max_null, _scores

    rng = np.random.default_rng(0)
    n = 14
    truth = rng.normal(size=(n, 5))
    C = np.stack([compute_rdm(truth + k * rng.normal(size=truth.shape)) for k in (0.5, 1.0, 2.0)])
    T = np.stack([compute_rdm(truth + rng.normal(size=truth.shape)) for _ in range(3)])
    got = _max_null(C, T, compare, n, 25, np.random.default_rng(1))
    ref_rng, iu = np.random.default_rng(1), np.triu_indices(n, 1)
    squares = [squareform(t, checks=False) for t in T]
    ref = []
    for _ in range(25):
        p = ref_rng.permutation(n)
        ref.append(_scores(C, np.stack([S[np.ix_(p, p)][iu] for S in squares]), compare).max())
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert np.ptp(got) > 0.01


@pytest.mark.parametrize("strata", [None, [0] * 9 + [1] * 8 + [2] * 7])
def test_select_layer_cv_splits_scored_at_once_equal_the_split_by_split_path(monkeypatch, strata):
    """Scoring every split's halves at once (0/1 pair weights) equals rebuilding and ranking each half's RDMs."""
    from unireps.analysis import selection

    rng = np.random.default_rng(3)
    truth = rng.normal(size=(24, 6))
    layers = {f"l{k}": truth + k * rng.normal(size=truth.shape) for k in (0.5, 1.0, 1.5, 3.0)}
    subjects = [compute_rdm(truth + rng.normal(size=truth.shape)) for _ in range(3)]
    fast = select_layer_cv(layers, subjects, n_splits=15, n_permutations=10, seed=4, strata=strata)
    monkeypatch.setattr(selection, "WEIGHTED_METHODS", ())
    slow = select_layer_cv(layers, subjects, n_splits=15, n_permutations=10, seed=4, strata=strata)
    assert list(fast.splits.picked) == list(slow.splits.picked)
    for col in ("score_selection", "score_heldout", "ceiling_lower", "ceiling_upper"):
        np.testing.assert_allclose(fast.splits[col], slow.splits[col], rtol=0, atol=1e-12)
    assert fast.splits.score_heldout.std() > 0
