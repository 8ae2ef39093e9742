"""unireps.metrics.pairboot: comparisons of stimulus-resampled RDMs by pair weights equal building each resampled
RDM and comparing it (compare_matrix), with and without ties; the bootstraps that use it equal their draw-by-draw
path on the same draws."""

import numpy as np
import pytest

from unireps.metrics import ceiling
from unireps.metrics.ceiling import compare_matrix
from unireps.metrics.pairboot import WEIGHTED_METHODS, pair_weights, resampled_compare


def _flat(n, idx):
    i, j = np.triu_indices(len(idx), 1)
    keep = idx[i] != idx[j]
    lo, hi = np.minimum(idx[i], idx[j])[keep], np.maximum(idx[i], idx[j])[keep]
    return n * lo - lo * (lo + 1) // 2 + (hi - lo - 1)


def _rdms(rng, n, k):
    m = n * (n - 1) // 2
    truth = rng.random(m)
    A = np.stack([truth + rng.random(m) * (i + 1) for i in range(k)] + [np.round(truth * 3)])  # last: many ties
    B = np.stack([truth + rng.random(m), np.round(truth * 2) + rng.integers(0, 2, m)])
    return A, B


def test_pair_weights_count_the_copies_of_each_pair():
    rng = np.random.default_rng(0)
    n = 12
    draws = rng.integers(0, n, (5, n))
    W = pair_weights(draws, n)
    for d, w in zip(draws, W, strict=True):
        assert np.array_equal(w, np.bincount(_flat(n, d), minlength=n * (n - 1) // 2))


@pytest.mark.parametrize("compare", WEIGHTED_METHODS)
def test_resampled_compare_equals_the_resampled_rdms(compare):
    rng = np.random.default_rng(1)
    n = 30
    A, B = _rdms(rng, n, 4)
    draws = rng.integers(0, n, (40, n))
    fast = resampled_compare(A, B, compare, pair_weights(draws, n))
    slow = np.stack([compare_matrix(A[:, _flat(n, d)], B[:, _flat(n, d)], compare) for d in draws])
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    assert np.abs(fast - slow).max() < 1e-12 and np.ptp(fast) > 0.1  # not a constant


def test_resampled_compare_chunks_draws_without_changing_values(monkeypatch):
    from unireps.metrics import pairboot

    rng = np.random.default_rng(2)
    n = 20
    A, B = _rdms(rng, n, 2)
    W = pair_weights(rng.integers(0, n, (30, n)), n)
    whole = resampled_compare(A, B, "spearman", W)
    monkeypatch.setattr(pairboot, "_CHUNK_ELEMENTS", 1)  # one draw per chunk: numpy's cumsum route
    np.testing.assert_allclose(resampled_compare(A, B, "spearman", W), whole, rtol=0, atol=1e-12)


def test_resampled_compare_refuses_kendall_and_mismatched_pairs():
    A = np.random.default_rng(0).random((2, 45))
    W = pair_weights(np.arange(10)[None], 10)
    with pytest.raises(ValueError, match="compare_matrix"):
        resampled_compare(A, A, "kendall_tau_a", W)
    with pytest.raises(ValueError, match="same pairs"):
        resampled_compare(A, A[:, :44], "spearman", W)


def test_resampled_compare_refuses_a_constant_rdm():
    A = np.ones((1, 45))
    with pytest.raises(ValueError, match="constant"):
        resampled_compare(A, np.random.default_rng(0).random((1, 45)), "spearman", pair_weights(np.arange(10)[None],
                                                                                                 10))


@pytest.mark.parametrize("compare", ["spearman", "pearson", "rho_a"])
def test_bootstrap_scores_equal_the_draw_by_draw_path(monkeypatch, compare):
    rng = np.random.default_rng(3)
    n = 25
    A, B = _rdms(rng, n, 3)
    rdms = {f"r{i}": a for i, a in enumerate(A)}
    fast = ceiling.bootstrap_scores(rdms, B[0], compare, n_boot=60, seed=4)
    monkeypatch.setattr(ceiling, "WEIGHTED_METHODS", ())
    slow = ceiling.bootstrap_scores(rdms, B[0], compare, n_boot=60, seed=4)
    cols = ["value", "ci_low", "ci_high", "sd", "n_boot"]
    np.testing.assert_allclose(fast[cols].to_numpy(float), slow[cols].to_numpy(float), rtol=0, atol=1e-12)


def test_layer_bootstrap_equals_the_draw_by_draw_path(monkeypatch):
    from unireps.analysis import realnets

    rng = np.random.default_rng(5)
    n = 25
    A, B = _rdms(rng, n, 3)
    layers = {f"l{i}": a for i, a in enumerate(A)}
    targets = {"subjects": [B[0] + rng.random(B.shape[1]) for _ in range(3)], "one": [B[1]]}
    fast = realnets.layer_bootstrap(layers, targets, "spearman", n_boot=50, seed=6)
    monkeypatch.setattr(realnets, "WEIGHTED_METHODS", ())
    slow = realnets.layer_bootstrap(layers, targets, "spearman", n_boot=50, seed=6)
    num = fast.select_dtypes("number").columns
    assert fast[num].isna().equals(slow[num].isna())
    np.testing.assert_allclose(fast[num].to_numpy(float), slow[num].to_numpy(float), rtol=0, atol=1e-12)


def test_weighted_ranks_equal_rankdata_of_the_expanded_sample():
    from scipy.stats import rankdata

    from unireps.metrics.pairboot import weighted_ranks

    rng = np.random.default_rng(7)
    V = rng.integers(0, 6, (50, 15)).astype(float)  # many ties
    W = rng.integers(0, 3, (50, 15)).astype(float)
    R = weighted_ranks(V, W)
    for v, w, r in zip(V, W, R, strict=True):
        copies = np.repeat(np.arange(len(v)), w.astype(int))
        np.testing.assert_array_equal(r[copies], rankdata(v[copies]))


@pytest.mark.parametrize("compare", ["spearman", "rho_a"])
@pytest.mark.parametrize("with_models", [False, True])
def test_rsa_bootstrap_draws_equal_score_sample_draw_by_draw(compare, with_models):
    rng = np.random.default_rng(8)
    n, S, n_boot = 16, 3, 40
    m = n * (n - 1) // 2
    truth = rng.random(m)
    subjects = [truth + rng.random(m) for _ in range(S)]
    models = {"near": truth + 0.3 * rng.random(m), "tied": np.round(truth * 3)} if with_models else {}
    res = ceiling.rsa_bootstrap(models, subjects, compare, n_boot=n_boot, seed=9)
    M = np.stack(list(models.values())) if models else np.empty((0, m))
    R = np.stack(subjects)
    ref = {k: np.full((n_boot, len(models) + 2), np.nan) for k in ("both", "subjects", "stimuli")}
    draw = np.random.default_rng(9)
    for b in range(n_boot):  # the loop rsa_bootstrap ran before
        si, pi = draw.integers(0, S, S), draw.integers(0, n, n)
        for mode, (x, y) in zip(ref, ((si, pi), (si, None), (None, pi)), strict=True):
            if y is not None and len(np.unique(y)) < 3:
                continue
            sc, lo, hi = ceiling.score_sample(M, R, compare, x, y)
            ref[mode][b] = np.r_[sc, lo, hi]
    for mode, d in ref.items():
        assert np.array_equal(np.isnan(res.samples[mode]), np.isnan(d))
        np.testing.assert_allclose(res.samples[mode], d, rtol=0, atol=1e-12)
    assert np.isnan(ref["both"][:, -1]).any()  # some draws hold one subject: the ceiling is skipped there


def test_compare_resamples_builds_weights_in_chunks_without_changing_values(monkeypatch):
    from unireps.metrics import pairboot
    from unireps.metrics.pairboot import compare_resamples

    rng = np.random.default_rng(10)
    n = 20
    A, B = _rdms(rng, n, 2)
    draws = rng.integers(0, n, (12, n))
    whole = resampled_compare(A, B, "spearman", pair_weights(draws, n))
    monkeypatch.setattr(pairboot, "_WEIGHT_ELEMENTS", 2 * A.shape[1])  # two draws per chunk
    np.testing.assert_allclose(compare_resamples(A, B, "spearman", draws, n), whole, rtol=0, atol=1e-12)
    halves = [rng.permutation(n)[:k] for k in (10, 11, 9)]  # ragged: halves of odd strata
    np.testing.assert_allclose(compare_resamples(A, B, "pearson", halves, n),
                               resampled_compare(A, B, "pearson", pair_weights(halves, n)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("compare", ["spearman", "kendall_tau_a"])
def test_bootstrap_scores_of_several_targets_equal_one_call_per_target(compare):
    rng = np.random.default_rng(11)
    n = 14
    A, B = _rdms(rng, n, 2)
    rdms = {f"r{i}": a for i, a in enumerate(A)}
    both = ceiling._bootstrap_scores_targets(rdms, {"b0": B[0], "b1": B[1]}, compare, n_boot=25, seed=12)
    for j, name in enumerate(("b0", "b1")):
        one = ceiling.bootstrap_scores(rdms, B[j], compare, n_boot=25, seed=12)
        cols = ["value", "ci_low", "ci_high", "sd", "n_boot"]
        np.testing.assert_allclose(both[name][cols].to_numpy(float), one[cols].to_numpy(float), rtol=0, atol=1e-12)
    assert not np.allclose(both["b0"].ci_low, both["b1"].ci_low)
