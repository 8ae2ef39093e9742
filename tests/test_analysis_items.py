"""Item-level analyses moved out of the app: nearest neighbours, across-model profile variance, zero-shot
probabilities, occlusion and word importance, the invariance table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from unireps.analysis import (
    invariance_table,
    nearest_neighbours,
    neighbour_labels,
    occlusion_images,
    occlusion_map,
    profile_variance,
    word_importance,
    zero_shot,
)


def rotation(d, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q


def test_nearest_neighbours_matches_brute_force_and_marks_shared():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((30, 6)), rng.standard_normal((30, 6))
    t = nearest_neighbours({"x": X, "y": Y}, item=4, k=5)
    for label, A in (("x", X), ("y", Y)):
        cos = [(A[j] @ A[4]) / np.linalg.norm(A[j]) / np.linalg.norm(A[4]) for j in range(30)]
        expected = [j for j in np.argsort(-np.array(cos)) if j != 4][:5]
        got = t[t.model == label].sort_values("rank")
        assert got["index"].tolist() == expected
        np.testing.assert_allclose(got.cosine, np.array(cos)[expected])
    shared = set(t[t.model == "x"]["index"]) & set(t[t.model == "y"]["index"])
    assert set(t[t.shared]["index"]) == shared


def test_nearest_neighbours_invariant_to_rotation_and_scale():
    X = np.random.default_rng(2).standard_normal((25, 8))
    t = nearest_neighbours({"a": X, "b": 3.0 * X @ rotation(8)}, item=0, k=4)
    assert t.shared.all()
    np.testing.assert_allclose(t[t.model == "a"].cosine.to_numpy(), t[t.model == "b"].cosine.to_numpy())


@pytest.mark.parametrize("kw, msg", [({"item": 30}, "between 0 and 29"), ({"item": 0, "k": 30}, "k must be"),
                                     ({"item": 0, "k": 0}, "k must be")])
def test_nearest_neighbours_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        nearest_neighbours({"a": np.ones((30, 2)) + np.arange(30)[:, None]}, **kw)


def test_nearest_neighbours_refuses_mismatched_rows_and_nan():
    with pytest.raises(ValueError, match="different numbers of rows"):
        nearest_neighbours({"a": np.eye(5), "b": np.eye(4)}, 0)
    X = np.eye(5)
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        nearest_neighbours({"a": X}, 0)


def test_neighbour_labels():
    t = nearest_neighbours({"a": np.eye(3) + 0.1}, 0, 2)
    out = neighbour_labels(t, ["p", "q", "r"], ["g0", "g1", "g2"])
    assert list(out.columns) == ["model", "rank", "item", "group", "cosine", "shared"]
    assert set(out["item"]) == {"1: q", "2: r"}


def test_profile_variance_zero_for_rotated_copies_positive_for_unrelated():
    rng = np.random.default_rng(3)
    R, Q = rng.standard_normal((40, 10)), rng.standard_normal((3, 10))
    U = rotation(10, 4)
    same = profile_variance({"a": Q, "b": Q @ U}, {"a": R, "b": R @ U})
    np.testing.assert_allclose(same, 0.0, atol=1e-10)
    R2, Q2 = rng.standard_normal((40, 10)), rng.standard_normal((3, 10))
    diff = profile_variance({"a": Q, "b": Q2}, {"a": R, "b": R2})
    assert diff.shape == (3,) and (diff > 0.2).all()
    # hand computation for one query: z-scored cosine profiles, variance over models, mean over references
    def z(q, r):
        s = (q / np.linalg.norm(q)) @ (r / np.linalg.norm(r, axis=1, keepdims=True)).T
        return (s - s.mean()) / s.std()
    expected = np.var(np.stack([z(Q[0], R), z(Q2[0], R2)]), axis=0).mean()
    assert diff[0] == pytest.approx(expected)


def test_profile_variance_errors():
    R = np.random.default_rng(0).standard_normal((10, 3))
    with pytest.raises(ValueError, match="at least two models"):
        profile_variance({"a": R[:1]}, {"a": R})
    with pytest.raises(ValueError, match="same models"):
        profile_variance({"a": R[:1], "b": R[:1]}, {"a": R, "c": R})
    with pytest.raises(ValueError, match="features"):
        profile_variance({"a": R[:1], "b": R[:1, :2]}, {"a": R, "b": R})


def test_zero_shot_softmax_and_temperature():
    rng = np.random.default_rng(5)
    img, txt = rng.standard_normal(8), rng.standard_normal((4, 8))
    cos, p = zero_shot(img, txt, 0.07)
    expected_cos = txt @ img / np.linalg.norm(txt, axis=1) / np.linalg.norm(img)
    np.testing.assert_allclose(cos, expected_cos)
    e = np.exp(expected_cos / 0.07)
    np.testing.assert_allclose(p, e / e.sum())
    _, p_hot = zero_shot(img, txt, 0.001)
    assert np.argmax(p_hot) == np.argmax(cos) and p_hot.max() > p.max()
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            zero_shot(img, txt, bad)
    with pytest.raises(ValueError, match="one image"):
        zero_shot(img[:4], txt, 0.1)


def test_occlusion_finds_the_supporting_region():
    img = np.zeros((16, 16, 3), np.uint8)
    img[:4, 12:] = 255  # the "object" in the top-right cell of a 4×4 grid
    batch = occlusion_images(img, 4)
    assert batch.shape == (17, 16, 16, 3) and (batch[0] == img).all()
    heat, full = occlusion_map(img, lambda b: b[:, :4, 12:].mean(axis=(1, 2, 3)) / 255.0, grid=4)
    assert full == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(heat), heat.shape) == (0, 3)
    assert np.count_nonzero(heat) == 1
    with pytest.raises(ValueError, match="grid"):
        occlusion_images(img, 17)
    with pytest.raises(ValueError, match="returned"):
        occlusion_map(img, lambda b: np.ones(3), grid=4)


def test_word_importance():
    t = word_importance("a red circle", lambda caps: np.array([("red" in c) + 0.5 * ("circle" in c) for c in caps]))
    assert isinstance(t, pd.DataFrame)
    assert t["drop in cosine"].tolist() == [0.0, 1.0, 0.5]
    with pytest.raises(ValueError, match="two words"):
        word_importance("red", lambda caps: np.zeros(len(caps)))


def test_invariance_table_shows_the_known_invariances():
    t = invariance_table(("linear_cka", "cca"), n=60, d=8).set_index("Y")
    for case in ("rotation  X Q", "scaling  3 X", "translation  X + b"):
        assert t.loc[case, "linear_cka"] == pytest.approx(1.0, abs=1e-3)
    assert t.loc["invertible linear  X A", "linear_cka"] < 0.99  # CKA is not invariant to invertible linear maps
    assert t.loc["invertible linear  X A", "cca"] == pytest.approx(1.0, abs=1e-3)  # CCA is
    assert t.loc["unrelated  Y", "linear_cka"] < 0.6
    with pytest.raises(ValueError):
        invariance_table(("not_a_measure",))
