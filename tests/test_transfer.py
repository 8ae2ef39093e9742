"""Transfer: linear maps recover known maps, relative representations' invariance, probe transfer, retrieval,
distillation."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group
from sklearn.exceptions import NotFittedError

from unireps.applications import distillation_cka
from unireps.transfer import (
    LinearMap,
    RelativeProjection,
    cross_model_retrieval,
    distill,
    kd_loss,
    pad_to,
    probe_transfer,
    relative_representation,
    retrieval_recall,
)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("method", ["lstsq", "ridge"])
def test_lstsq_and_ridge_recover_a_known_affine_map(rng, method):
    X = rng.normal(size=(200, 6))
    W, b = rng.normal(size=(6, 4)), rng.normal(size=4)
    Y = X @ W + b
    m = LinearMap(method=method, alpha=1e-10).fit(X[:150], Y[:150])
    assert np.allclose(m.coef_, W, atol=1e-6) and np.allclose(m.intercept_, b, atol=1e-6)
    assert m.score(X[150:], Y[150:]) > 1 - 1e-9  # fit on one split, score on another
    assert np.allclose(m.transform(X[150:]), Y[150:], atol=1e-6)


def test_ridge_shrinks_and_dual_form_matches_primal(rng):
    X, Y = rng.normal(size=(30, 8)), rng.normal(size=(30, 3))
    weak, strong = LinearMap("ridge", alpha=1e-3).fit(X, Y), LinearMap("ridge", alpha=10.0).fit(X, Y)
    assert np.linalg.norm(strong.coef_) < np.linalg.norm(weak.coef_)
    Xw = rng.normal(size=(5, 8))  # fewer rows than dims: dual form; compare with the explicit primal solution
    Yw = rng.normal(size=(5, 2))
    m = LinearMap("ridge", alpha=0.5).fit(Xw, Yw)
    xc, yc = Xw - Xw.mean(0), Yw - Yw.mean(0)
    lam = 0.5 * (xc ** 2).sum() / 8
    assert np.allclose(m.coef_, np.linalg.solve(xc.T @ xc + lam * np.eye(8), xc.T @ yc))


def test_procrustes_recovers_scaled_orthogonal_map_with_padding(rng):
    Q = ortho_group.rvs(7, random_state=1)
    X = rng.normal(size=(100, 5))
    Y = 2.5 * pad_to(X, 7) @ Q + 3.0
    m = LinearMap("procrustes").fit(X[:60], Y[:60])
    assert m.scale_ == pytest.approx(2.5)
    assert np.allclose(m.coef_, 2.5 * Q[:5], atol=1e-8)
    assert np.allclose(m.transform(X[60:]), Y[60:], atol=1e-8)
    unscaled = LinearMap("procrustes", scale=False).fit(X, Y)
    assert unscaled.scale_ == 1.0 and np.allclose(unscaled.coef_, Q[:5], atol=1e-8)
    narrow = LinearMap("procrustes").fit(Y, X)  # 7 -> 5: the padded inverse map, X = (Y - 3) Q^T / 2.5 restricted
    assert narrow.coef_.shape == (7, 5) and narrow.score(Y, X) > 1 - 1e-9


def test_relative_representation_is_invariant_to_orthogonal_maps_scale_and_shift(rng):
    X = rng.normal(size=(80, 10))
    anchors = X[:12]
    R = ortho_group.rvs(10, random_state=3)
    Xt = 3.0 * X @ R + 5.0
    rel, rel_t = relative_representation(X, anchors), relative_representation(Xt, Xt[:12])
    assert rel.shape == (80, 12) and np.allclose(rel, rel_t, atol=1e-10)
    assert np.allclose(np.diag(rel[:12]), 1.0)
    not_centred = relative_representation(Xt, Xt[:12], center=False)
    assert not np.allclose(not_centred, rel, atol=1e-3)  # without centring the shift breaks the invariance


def test_map_errors_are_clear(rng):
    X = rng.normal(size=(10, 3))
    with pytest.raises(NotFittedError, match=r"call \.fit\(X, Y\)"):
        LinearMap().transform(X)
    with pytest.raises(NotFittedError):
        LinearMap().score(X, X)
    with pytest.raises(NotFittedError, match="anchors"):
        RelativeProjection().transform(X)
    with pytest.raises(ValueError, match="accepted values"):
        LinearMap(method="cca").fit(X, X)
    with pytest.raises(ValueError, match="alpha"):
        LinearMap(alpha=-1).fit(X, X)
    with pytest.raises(ValueError, match="paired"):
        LinearMap().fit(X, X[:9])
    with pytest.raises(ValueError, match="fitted on 3"):
        LinearMap().fit(X, X).transform(rng.normal(size=(4, 5)))
    with pytest.raises(ValueError, match="2-D"):
        LinearMap().fit(X[:, 0], X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LinearMap().fit(bad, X)
    with pytest.raises(ValueError, match="at least 2 anchors"):
        RelativeProjection().fit(X[:1])


def test_retrieval_recall(rng):
    G = rng.normal(size=(50, 8))
    assert retrieval_recall(G, G) == {"R@1": 1.0, "R@5": 1.0}
    shuffled = retrieval_recall(G[rng.permutation(50)], G, ks=(1, 50))
    assert shuffled["R@1"] < 0.2 and shuffled["R@50"] == 1.0
    assert retrieval_recall(np.ones((4, 2)), np.ones((4, 2)))["R@1"] == 0.0  # ties count against the item
    with pytest.raises(ValueError, match="map one space"):
        retrieval_recall(G, G[:, :3])


def _two_spaces(rng, n=600):
    z = rng.normal(size=(n, 6))
    y = (z[:, 0] + 0.5 * z[:, 1] > 0).astype(int) + 2 * (z[:, 2] > 0)
    a = np.hstack([z, 0.05 * rng.normal(size=(n, 2))])
    b = pad_to(z, 12) @ ortho_group.rvs(12, random_state=4) * 4.0 - 1.0 + 0.05 * rng.normal(size=(n, 12))
    return a, b, y


def test_probe_transfer_recovers_accuracy_and_no_map_does_not(rng):
    a, b, y = _two_spaces(rng)
    tr, te = np.arange(400), np.arange(400, 600)
    df = probe_transfer(a, b, y, tr, te, n_anchors=(10, 50))
    acc = df.set_index(["method", "n_anchors"])["accuracy"]
    ceiling = acc[("a_on_a", 0)]
    assert ceiling > 0.9 and acc[("no_map", 0)] < ceiling - 0.2
    for m in ("lstsq", "ridge", "procrustes", "relative"):
        assert acc[(m, 50)] > ceiling - 0.06, m
    with pytest.raises(ValueError, match="overlap"):
        probe_transfer(a, b, y, tr, tr)
    with pytest.raises(ValueError, match="accepted values"):
        probe_transfer(a, b, y, tr, te, methods=("cca",))


def test_cross_model_retrieval(rng):
    a, b, _ = _two_spaces(rng)
    df = cross_model_retrieval(a, b, np.arange(400), np.arange(400, 600), n_anchors=(100,), methods=("ridge",))
    rec = df.set_index("method")
    assert rec.loc["ridge", "R@5"] > 0.9 and rec.loc["no_map", "R@5"] < 0.2
    assert rec.loc["chance", "R@1"] == pytest.approx(1 / 200)


def test_kd_loss_and_distillation():
    torch.manual_seed(0)
    z = torch.randn(8, 5)
    assert float(kd_loss(z, z)) == pytest.approx(0.0, abs=1e-6)
    assert float(kd_loss(z, z + torch.randn(8, 5))) > 0
    with pytest.raises(ValueError, match="same classes"):
        kd_loss(z, z[:, :3])
    teacher = torch.nn.Linear(4, 3)
    student = torch.nn.Linear(4, 3)
    x = torch.randn(200, 4)
    distill(student, teacher, x, epochs=40, lr=0.05, temperature=2.0)
    with torch.no_grad():
        assert (student(x).argmax(1) == teacher(x).argmax(1)).double().mean() > 0.95


def test_distillation_cka_smoke():
    torch.set_num_threads(1)
    df = distillation_cka(width_a=16, width_b=16, epochs=3, layers=("out",))
    assert list(df["student"]) == ["init", "independent", "distilled"]
    assert df["linear_cka"].between(0, 1).all()
