"""Bridges between frozen image and text features (unireps.transfer.bridge, .blind, .bridge_study)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from unireps.transfer import (
    BRIDGE_METHODS,
    ContrastiveHeads,
    LinearBridge,
    LinearMap,
    blind_match,
    bridge_study,
    choose_layer,
    cosine_kernel,
    retrieval_recall,
    stratified_splits,
    summarize_bridge,
)
from unireps.transfer.bridge import _procrustes


def _rotation(d, seed=0):
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))[0]


def test_procrustes_recovers_a_rotation_exactly():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(50, 8))
    Q = _rotation(8)
    X = 3.0 * (Y @ Q.T) + 5.0  # rotated, scaled and shifted images of the text features
    b = LinearBridge("procrustes").fit(X, Y)
    np.testing.assert_allclose(b.map_.coef_, Q, atol=1e-10)  # X̃ = Ỹ Qᵀ, so X̃ Q = Ỹ
    np.testing.assert_allclose(b.transform(X), b.transform_text(Y), atol=1e-10)
    assert b.score(X[:20], Y[:20]) == 1.0


@pytest.mark.parametrize("shape", [(60, 8, 8), (60, 12, 6), (60, 6, 12)])
def test_thin_procrustes_equals_the_padded_map_when_full_rank(shape):
    n, dx, dy = shape
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(n, dx)), rng.normal(size=(n, dy))
    ref = LinearMap("procrustes", center=False).fit(x, y)
    np.testing.assert_allclose(_procrustes(x, y).coef_, ref.coef_, atol=1e-12)


def test_procrustes_with_fewer_anchors_than_dimensions_is_zero_off_their_span():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 30)), rng.normal(size=(5, 10))
    m = _procrustes(x, y)
    off_span = np.linalg.svd(x)[2][5:]  # directions orthogonal to every anchor
    np.testing.assert_allclose(off_span @ m.coef_, 0, atol=1e-10)


def test_retrieval_recall_on_a_hand_made_example():
    q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    g = np.array([[1.0, 0.0], [1.0, 0.2], [0.0, 1.0]])
    # q0 ranks its own g0 first; q1 ranks g2 above its own g1; q2 ties g0 with its own g2 below g1 (ties count
    # against the true item): ranks 0, 1, 2
    assert retrieval_recall(q, g, ks=(1, 2, 3)) == {"R@1": 1 / 3, "R@2": 2 / 3, "R@3": 1.0}


def test_bridge_retrieval_reports_both_directions():
    rng = np.random.default_rng(4)
    Y = rng.normal(size=(30, 6))
    b = LinearBridge("lstsq").fit(Y @ _rotation(6).T, Y)
    r = b.retrieval(Y @ _rotation(6).T, Y, ks=(1, 5))
    assert set(r) == {"i2t_R@1", "i2t_R@5", "t2i_R@1", "t2i_R@5"} and r["i2t_R@1"] == r["t2i_R@1"] == 1.0
    # a shuffled pairing of the anchors learns nothing that transfers
    perm = rng.permutation(20)
    shuffled = LinearBridge("procrustes").fit(Y[:20] @ _rotation(6).T, Y[perm])
    assert shuffled.score(Y[20:] @ _rotation(6).T, Y[20:]) < 0.5


@pytest.mark.parametrize("method", BRIDGE_METHODS)
def test_bridge_state_round_trip(method):
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(20, 7)), rng.normal(size=(20, 5))
    b = LinearBridge(method).fit(X, Y)
    c = LinearBridge.from_state(b.state())
    np.testing.assert_allclose(c.transform(X), b.transform(X))
    np.testing.assert_allclose(c.transform_text(Y), b.transform_text(Y))


def test_bridge_input_errors():
    X, Y = np.ones((5, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match="rows"):
        LinearBridge().fit(X, Y)
    with pytest.raises(ValueError, match="accepted values"):
        LinearBridge("svd").fit(X[:4], Y)
    with pytest.raises(ValueError, match="same for every"):
        LinearBridge().fit(X[:4], Y)
    with pytest.raises(NotFittedError, match="fit"):
        LinearBridge().transform(X)
    rng = np.random.default_rng(0)
    b = LinearBridge().fit(rng.normal(size=(6, 3)), rng.normal(size=(6, 2)))
    with pytest.raises(ValueError, match="features but the bridge was fit on 3"):
        b.transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        b.transform(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="dim"):
        ContrastiveHeads(dim=0).fit(rng.normal(size=(6, 3)), rng.normal(size=(6, 2)))
    with pytest.raises(ValueError, match="missing|lacks"):
        LinearBridge.from_state({"method": np.array("ridge")})


def test_contrastive_heads_learn_a_shared_space_and_not_a_shuffled_one():
    rng = np.random.default_rng(6)
    Y = rng.normal(size=(60, 8))
    X = Y @ rng.normal(size=(8, 16)) + 0.05 * rng.normal(size=(60, 16))
    heads = ContrastiveHeads(dim=8, steps=200).fit(X[:40], Y[:40])
    assert heads.score(X[40:], Y[40:]) >= 0.8 and heads.temperature_ > 0
    null = ContrastiveHeads(dim=8, steps=200).fit(X[:40], Y[rng.permutation(40)])
    assert null.score(X[40:], Y[40:]) < 0.4


def test_cosine_kernel_is_invariant_to_rotation_and_scale():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(10, 4))
    np.testing.assert_allclose(cosine_kernel(X), cosine_kernel(2 * X @ _rotation(4) + 1), atol=1e-12)
    with pytest.raises(ValueError, match="mean of all rows"):
        cosine_kernel(np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]]))


def test_blind_match_recovers_the_permutation_of_an_isomorphic_kernel():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(25, 6))
    res = blind_match(X, X @ _rotation(6), n_seeds=0, seed=1)
    assert res.accuracy == 1.0 and np.array_equal(res.match, np.arange(25)) and res.chance == 1 / 25


def test_blind_match_keeps_seeds_and_scores_only_the_rest():
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5))
    res = blind_match(X, Y, n_seeds=4, seed=2)
    assert len(res.seeds) == 4 and np.array_equal(res.match[res.seeds], res.seeds)
    rest = np.setdiff1d(np.arange(12), res.seeds)
    assert res.accuracy == np.mean(res.match[rest] == rest) and res.chance == 1 / 8
    null = blind_match(X, Y, n_seeds=4, seed=2, shuffle_seeds=True)
    assert not np.array_equal(null.match[null.seeds], null.seeds)  # the wrong seed pairs were imposed


def test_blind_match_on_unrelated_features_is_near_chance():
    rng = np.random.default_rng(10)
    acc = [blind_match(rng.normal(size=(20, 5)), rng.normal(size=(20, 5)), seed=s, n_init=1).accuracy
           for s in range(10)]
    assert np.mean(acc) < 0.2  # chance 0.05


def test_blind_match_input_errors():
    X = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.raises(ValueError, match="at most 4"):
        blind_match(X, X, n_seeds=5)
    with pytest.raises(ValueError, match="at least 3"):
        blind_match(X[:2], X[:2])
    with pytest.raises(ValueError, match="n_init"):
        blind_match(X, X, n_init=0)
    with pytest.raises(ValueError, match="rows"):
        blind_match(X, X[:5])


def test_stratified_splits_are_disjoint_and_stratified():
    strata = ["a"] * 12 + ["b"] * 9
    splits = stratified_splits(strata, n_splits=3, test_fraction=1 / 3)
    for tr, te in splits:
        assert not set(tr) & set(te) and len(tr) + len(te) == 21
        assert sum(strata[i] == "a" for i in te) == 4 and sum(strata[i] == "b" for i in te) == 3
    assert not np.array_equal(splits[0][1], splits[1][1])
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_splits(strata, test_fraction=1.0)


def test_choose_layer_looks_at_training_rows_only():
    rng = np.random.default_rng(11)
    T = rng.normal(size=(40, 5))
    good_on_train = np.vstack([T[:20], rng.normal(size=(20, 5))])
    good_on_test = np.vstack([rng.normal(size=(20, 5)), T[20:]])
    layers = {"train-like": good_on_train, "test-like": good_on_test}
    assert choose_layer(layers, T, np.arange(20))[0] == "train-like"
    assert choose_layer(layers, T, np.arange(20, 40))[0] == "test-like"


def test_bridge_study_separates_true_pairing_from_nulls():
    rng = np.random.default_rng(12)
    T = rng.normal(size=(36, 6))
    reps = {"net": {"early": rng.normal(size=(36, 10)), "late": T @ _rotation(10)[:6]},  # kernel kept
            "net-untrained": {"late": rng.normal(size=(36, 10))}}
    splits = stratified_splits([0, 1, 2] * 12, n_splits=2)
    st = bridge_study(reps, T, splits, methods=("procrustes", "relative"), n_anchors=(6, 0), lit=False,
                      seed_pairs=(0, 2))
    assert set(st.layers.query("tower == 'net'")["layer"]) == {"late"}
    s = summarize_bridge(st)
    r = s["retrieval"].set_index(["tower", "bridge", "n_anchors", "pairing"])["i2t_R@1_mean"]
    assert r[("net", "procrustes", 24, "true")] == 1.0
    assert r[("net", "procrustes", 24, "shuffled")] < 0.5 and r[("net-untrained", "procrustes", 24, "true")] < 0.5
    b = s["blind"].set_index(["tower", "n_seeds", "pairing"])["accuracy_mean"]
    assert b[("net", 0, "true")] == 1.0
    assert set(s["retrieval"]["n_test"]) == {12} and (s["retrieval"]["chance_R@1"] == 1 / 12).all()
    with pytest.raises(ValueError, match="rows"):
        bridge_study({"net": {"late": T[:10]}}, T, splits)
