"""unireps.metrics against independent reference implementations of the papers' public code, on the SAME
convention, to 1e-6 in float64 (most agree to ~1e-14).

References (re-derived in ``tests/reference_impls.py``; see the comments there for the files read):
* CKA          google-research/google-research representation_similarity/Demo.ipynb (Kornblith et al. 2019)
* RSA          rsatoolbox 0.3 (installed), calc_rdm + compare, called directly
* k-NN         minyoungg/platonic-rep metrics.py + measure_alignment.py (Huh et al. 2024)
* CCA family   google/svcca cca_core.py (covariance / inverse-sqrt route) + pwcca.py
* Procrustes   ahwillia/netrep netrep/metrics/linear.py LinearMetric(alpha=1, center_columns=True, zero_pad=True)
* ridge        Golub-Heath-Wahba GCV (own naive reference), scikit-learn Ridge / RidgeCV
* streaming    full-data CKA, and the minibatch CKA of Nguyen, Raghu & Kornblith (ICLR 2021)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import reference_impls as ref
from unireps.metrics import (
    StreamingCKA,
    cca,
    cknna,
    compute_rdm,
    get_metric,
    jaccard_knn,
    layer_similarity,
    linear_cka,
    linear_predictability,
    list_metrics,
    mutual_knn,
    paired_cosine,
    procrustes,
    procrustes_distance,
    pwcca,
    rbf_cka,
    rsa,
    rsa_rdms,
    svcca,
)

TOL = 1e-6

warnings.filterwarnings("ignore", category=DeprecationWarning)


def _pair(seed: int, n: int, dx: int, dy: int, noise: float = 0.7, offset: float = 1.0):
    """Y a noisy linear image of X (so the measures are far from both 0 and 1), non-zero means."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dx)) * rng.uniform(0.5, 2.0, size=dx) + offset * rng.normal(size=dx)
    Y = X @ rng.normal(size=(dx, dy)) / np.sqrt(dx) + noise * rng.normal(size=(n, dy)) + offset * rng.normal(size=dy)
    return X, Y


def _latent_pair(seed: int, n: int, dx: int, dy: int, r: int = 6, noise: float = 0.5):
    """Two views of a shared r-dimensional latent (clear neighbourhood structure for k-NN measures)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, r))
    X = Z @ rng.normal(size=(r, dx)) + noise * rng.normal(size=(n, dx))
    Y = np.tanh(Z) @ rng.normal(size=(r, dy)) + noise * rng.normal(size=(n, dy))
    return X, Y


# =============================================================================================== 1. CKA


@pytest.mark.parametrize("n,dx,dy,route", [(50, 200, 150, "gram"), (300, 20, 15, "feature")])
@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_equals_kornblith(n, dx, dy, route, debiased):
    from unireps.metrics.cka import _use_feature_form

    assert _use_feature_form(n, dx, dy) == (route == "feature")  # both of unireps' routes are exercised
    X, Y = _pair(1, n, dx, dy)
    got = linear_cka(X, Y, debiased=debiased)
    want_gram = ref.cka(ref.gram_linear(X), ref.gram_linear(Y), debiased=debiased)
    want_feat = ref.feature_space_linear_cka(X, Y, debiased=debiased)
    assert abs(want_gram - want_feat) < 1e-10  # the Demo's two formulations agree
    assert got == pytest.approx(want_gram, abs=TOL)


@pytest.mark.parametrize("n", [11, 40])
def test_reference_hsic_estimators_agree(n):
    """Sanity of the references themselves: U-centred Grams (Szekely-Rizzo, used by the Demo) give Song et al.'s
    unbiased HSIC (the PRH formula), and H K H gives tr(K H L H)."""
    X, Y = _pair(2, n, 5, 4)
    K, L = ref.gram_linear(X), ref.gram_linear(Y)
    u = np.sum(ref.center_gram(K, unbiased=True) * ref.center_gram(L, unbiased=True)) / (n * (n - 3))
    assert u == pytest.approx(ref.hsic_unbiased(K, L), rel=1e-10)
    b = np.sum(ref.center_gram(K) * ref.center_gram(L))
    assert b == pytest.approx(ref.hsic_biased(K, L), rel=1e-10)


@pytest.mark.parametrize("n", [61, 120])  # odd and even number of squared distances for the median
@pytest.mark.parametrize("threshold", [0.5, 1.0])
@pytest.mark.parametrize("debiased", [False, True])
def test_rbf_cka_median_bandwidth_equals_kornblith(n, threshold, debiased):
    X, Y = _pair(3, n, 10, 7)
    got = rbf_cka(X, Y, threshold=threshold, debiased=debiased)
    want = ref.cka(ref.gram_rbf(X, threshold), ref.gram_rbf(Y, threshold), debiased=debiased)
    assert got == pytest.approx(want, abs=TOL)


@pytest.mark.parametrize("sigma", [0.7, 2.5, 10.0])
@pytest.mark.parametrize("debiased", [False, True])
def test_rbf_cka_explicit_sigma_equals_direct_formula(sigma, debiased):
    X, Y = _pair(4, 80, 6, 9)
    got = rbf_cka(X, Y, sigma=sigma, debiased=debiased)
    want = ref.cka(ref.gram_rbf_sigma(X, sigma), ref.gram_rbf_sigma(Y, sigma), debiased=debiased)
    assert got == pytest.approx(want, abs=TOL)


# =============================================================================================== 2. RSA
# unireps 'sq_euclidean' = rsatoolbox 'euclidean' × n_features; unireps 'euclidean' = its square root.

COMPARES = [("spearman", "spearman"), ("pearson", "corr"), ("kendall_tau_a", "tau-a"), ("cosine", "cosine"),
            ("rho_a", "rho-a"), ("kendall_tau_b", "tau-b")]


def _rsatoolbox_rdm(X, rdm: str) -> np.ndarray:
    if rdm == "correlation":
        return ref.rsatoolbox_rdm(X, "correlation")
    v = ref.rsatoolbox_rdm(X, "euclidean") * X.shape[1]
    return v if rdm == "sq_euclidean" else np.sqrt(v)


@pytest.mark.parametrize("rdm", ["correlation", "sq_euclidean", "euclidean"])
def test_compute_rdm_equals_rsatoolbox(rdm):
    X, _ = _pair(5, 40, 12, 3)
    got, want = compute_rdm(X, rdm), _rsatoolbox_rdm(X, rdm)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rdm", ["correlation", "sq_euclidean", "euclidean"])
@pytest.mark.parametrize("compare,rsatb", COMPARES)
def test_rsa_equals_rsatoolbox(rdm, compare, rsatb):
    X, Y = _pair(6, 45, 12, 9)
    want = ref.rsatoolbox_compare(_rsatoolbox_rdm(X, rdm), _rsatoolbox_rdm(Y, rdm), rsatb)
    assert rsa(X, Y, rdm=rdm, compare=compare) == pytest.approx(want, abs=TOL)


@pytest.mark.parametrize("square", [False, True])
@pytest.mark.parametrize("compare,rsatb", COMPARES)
def test_rsa_rdms_equals_rsatoolbox(square, compare, rsatb):
    from scipy.spatial.distance import squareform

    X, Y = _pair(7, 35, 10, 8)
    va, vb = ref.rsatoolbox_rdm(X, "correlation"), ref.rsatoolbox_rdm(Y, "euclidean")
    a, b = (squareform(va), squareform(vb)) if square else (va, vb)
    assert rsa_rdms(a, b, compare=compare) == pytest.approx(ref.rsatoolbox_compare(va, vb, rsatb), abs=TOL)


@pytest.mark.parametrize("rdm", ["sq_euclidean", "euclidean"])
@pytest.mark.parametrize("compare,rsatb", COMPARES)
def test_rsa_with_tied_dissimilarities_equals_rsatoolbox(rdm, compare, rsatb):
    """Integer features: many exactly tied (squared) Euclidean distances, which rsatoolbox computes exactly.
    Spearman uses average ranks of ties; tau-a counts tied pairs as neither concordant nor discordant.
    (Correlation-distance ties of integer data are not exactly representable in floating point; both libraries
    break them by rounding, so ties are tested on Euclidean RDMs and on precomputed RDMs below.)"""
    rng = np.random.default_rng(8)
    X = rng.integers(0, 3, size=(30, 4)).astype(float)
    Y = X[:, :3] + rng.integers(0, 2, size=(30, 3))
    va, vb = _rsatoolbox_rdm(X, rdm), _rsatoolbox_rdm(Y, rdm)
    assert len(np.unique(va)) < len(va) / 10  # heavily tied
    np.testing.assert_array_equal(compute_rdm(X, rdm), va)  # ties preserved exactly
    assert rsa(X, Y, rdm=rdm, compare=compare) == pytest.approx(ref.rsatoolbox_compare(va, vb, rsatb), abs=TOL)


@pytest.mark.parametrize("compare,rsatb", COMPARES)
def test_rsa_rdms_with_ties_equals_rsatoolbox(compare, rsatb):
    rng = np.random.default_rng(9)
    m = 20 * 19 // 2
    va = rng.integers(1, 5, size=m).astype(float)
    vb = np.clip(va + rng.integers(-1, 2, size=m), 0, None)
    for a, b in ((va, vb), (vb, va)):
        assert rsa_rdms(a, b, compare=compare) == pytest.approx(ref.rsatoolbox_compare(a, b, rsatb), abs=TOL)


# ========================================================================================= 3. k-NN (PRH)

KNN_CASES = [(60, 8, 12, 5), (120, 20, 20, 3), (200, 30, 10, 10), (300, 6, 16, 20)]


def _knn_data(seed, n, dx, dy, k):
    X, Y = _latent_pair(seed, n, dx, dy)
    # neighbour sets must not hinge on rounding (the references sort in numpy, unireps uses torch.topk)
    assert min(ref.knn_margin(X, k), ref.knn_margin(Y, k)) > 1e-9
    return X, Y


@pytest.mark.parametrize("n,dx,dy,k", KNN_CASES)
def test_mutual_and_jaccard_knn_equal_prh(n, dx, dy, k):
    X, Y = _knn_data(10 + n, n, dx, dy, k)
    assert mutual_knn(X, Y, k=k) == pytest.approx(ref.mutual_knn(X, Y, k), abs=TOL)
    assert jaccard_knn(X, Y, k=k) == pytest.approx(ref.jaccard_knn(X, Y, k), abs=TOL)


@pytest.mark.parametrize("n,dx,dy,k", KNN_CASES)
def test_cknna_equals_prh_without_eps(n, dx, dy, k):
    """unireps.cknna omits PRH's ``+ 1e-6`` in the denominator: equal to the PRH formula with eps = 0, and the
    PRH value (eps = 1e-6) differs exactly by that term: prh = kl / (sqrt(kk ll) + 1e-6)."""
    X, Y = _knn_data(20 + n, n, dx, dy, k)
    got = cknna(X, Y, k=k)
    assert got == pytest.approx(ref.cknna(X, Y, k, eps=0.0), abs=TOL)
    kl, kk, ll = ref.cknna(X, Y, k, return_terms=True)
    prh = ref.cknna(X, Y, k, eps=1e-6)
    assert prh == pytest.approx(kl / (np.sqrt(kk * ll) + 1e-6), rel=1e-12)
    assert prh == pytest.approx(got * np.sqrt(kk * ll) / (np.sqrt(kk * ll) + 1e-6), abs=1e-9)
    assert prh != got


# ================================================================================== 4. CCA / SVCCA / PWCCA


@pytest.mark.parametrize("n,dx,dy", [(200, 10, 14), (150, 12, 12), (90, 20, 5)])
def test_cca_equals_google_mean_cca(n, dx, dy):
    """Mean of all canonical correlations (np.mean(cca_coef1), as the svcca tutorials report), epsilon = 0.
    NB cca_core's own return_dict['mean'] is np.mean(s[:idx]) with idx from sum_threshold(s, 0.98), which can
    drop trailing coefficients; it is a different summary."""
    X, Y = _pair(30, n, dx, dy, noise=1.0)
    assert cca(X, Y) == pytest.approx(ref.google_mean_cca(X, Y), abs=TOL)


@pytest.mark.parametrize("keep", [0.99, 0.9, 0.5, 3, 7, 100])
def test_svcca_equals_svd_then_google_cca(keep):
    rng = np.random.default_rng(31)
    n = 200
    X = rng.normal(size=(n, 16)) * np.geomspace(5.0, 0.05, 16)  # spread spectrum: keep=0.99 truncates
    Y = X @ rng.normal(size=(16, 12)) + 0.5 * rng.normal(size=(n, 12)) * np.geomspace(3.0, 0.1, 12)
    r_x = ref.svd_reduce(X, keep).shape[1]
    assert r_x < 16 or keep == 100
    assert svcca(X, Y, keep=keep) == pytest.approx(ref.svcca(X, Y, keep), abs=TOL)


@pytest.mark.parametrize("dx,dy", [(6, 11), (11, 6), (8, 8)])
def test_pwcca_equals_google_route_on_centred_data(dx, dy):
    """Google's compute_pwcca adds the neuron means back to the directions and projects the raw activations;
    both vanish only for column-centred input, so the reference gets centred data (unireps centres itself).
    The side with fewer neurons (X on a tie) gives the weights.  Directions are the canonical variates
    u_i^T Sxx^-1/2 (acts - mean) (see the next test for compute_pwcca's literal u_i^T (acts - mean))."""
    X, Y = _pair(32, 150, dx, dy, noise=1.5)
    Xc, Yc = ref.col_center(X), ref.col_center(Y)
    assert pwcca(X, Y) == pytest.approx(ref.pwcca(Xc, Yc), abs=TOL)
    assert pwcca(Y, X) == pytest.approx(ref.pwcca(Yc, Xc), abs=TOL)
    assert abs(ref.pwcca(X, Y) - pwcca(X, Y)) > 1e-4  # uncentred input: Google's mean handling changes the value


def test_pwcca_literal_google_directions_differ_unless_white():
    """compute_pwcca (pwcca.py) builds its directions from ``coef_x = u^T`` WITHOUT ``invsqrt_xx``, i.e.
    u_i^T (acts - mean) instead of the canonical variates u_i^T Sxx^-1/2 (acts - mean) that the paper (Morcos et
    al. 2018: h_i = canonical vectors) and cca_core's own ``cca_dirns1`` use.  unireps follows the paper.  The
    two coincide when the weighting side's covariance is isotropic (Sxx^-1/2 ∝ I), and differ otherwise."""
    X, Y = _pair(33, 150, 6, 11, noise=1.5)
    Xc, Yc = ref.col_center(X), ref.col_center(Y)
    assert abs(ref.pwcca(Xc, Yc, literal_google=True) - pwcca(X, Y)) > 1e-4
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)  # whiten X: Xw^T Xw = I
    Xw = U @ Vt
    assert pwcca(Xw, Y) == pytest.approx(ref.pwcca(Xw, Yc, literal_google=True), abs=TOL)


# ========================================================================================= 5. Procrustes


@pytest.mark.parametrize("n,dx,dy", [(100, 10, 7), (50, 12, 12), (20, 40, 30), (15, 5, 60)])
def test_procrustes_equals_netrep(n, dx, dy):
    X, Y = _pair(40, n, dx, dy, noise=1.0)
    sim = procrustes(X, Y)
    assert sim == pytest.approx(ref.procrustes_similarity(X, Y), abs=TOL)
    assert procrustes_distance(X, Y, kind="angular") == pytest.approx(ref.netrep_linear_metric(X, Y), abs=TOL)
    # netrep's euclidean score is ||XU - YV||_F in the data's units; unireps' is on Frobenius-normalised
    # centred data, so compare on that convention
    Xn = ref.col_center(X) / np.linalg.norm(ref.col_center(X))
    Yn = ref.col_center(Y) / np.linalg.norm(ref.col_center(Y))
    want = ref.netrep_linear_metric(Xn, Yn, score_method="euclidean")
    assert procrustes_distance(X, Y, kind="euclidean") == pytest.approx(want, abs=TOL)
    assert procrustes_distance(X * 7.0, Y, kind="euclidean") == pytest.approx(want, abs=TOL)


# ================================================================================ 6. linear predictability


def _folds(n: int, cv: int, seed: int):
    """The fold construction of unireps.metrics.predictability: torch.randperm under a seeded Generator,
    split into cv near-equal consecutive chunks by torch.tensor_split."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return [t.numpy() for t in torch.tensor_split(perm, cv)]


def _cv_ridge(X, Y, cv, seed, fit):
    n = X.shape[0]
    pred = np.zeros_like(Y)
    alphas = []
    for test in _folds(n, cv, seed):
        train = np.ones(n, dtype=bool)
        train[test] = False
        pred[test], a = fit(X[train], Y[train], X[test])
        alphas.append(a)
    return ref.pooled_r2(Y, pred), alphas


def _gcv_fit(Xtr, Ytr, Xte):
    W, mx, my, a = ref.gcv_ridge_fit(Xtr, Ytr)
    return (Xte - mx) @ W + my, a


PRED_CASES = [(120, 10, 6, 1.0, 5, 0), (60, 100, 5, 0.5, 5, 1), (200, 30, 3, 3.0, 4, 2), (80, 5, 4, 0.1, 3, 3)]


def _pred_data(n, dx, dy, noise, seed=50):
    rng = np.random.default_rng(seed + n)
    X = rng.normal(size=(n, dx)) + 3.0
    Y = X @ rng.normal(size=(dx, dy)) + noise * np.sqrt(dx) * rng.normal(size=(n, dy))
    return X, Y


@pytest.mark.parametrize("n,dx,dy,noise,cv,seed", PRED_CASES)
def test_linear_predictability_equals_gcv_ridge_reference(n, dx, dy, noise, cv, seed):
    X, Y = _pred_data(n, dx, dy, noise)
    want, _ = _cv_ridge(X, Y, cv, seed, _gcv_fit)
    assert linear_predictability(X, Y, cv=cv, seed=seed) == pytest.approx(want, abs=TOL)


@pytest.mark.parametrize("n,dx,dy,noise,cv,seed", PRED_CASES)
def test_linear_predictability_ridge_fit_equals_sklearn(n, dx, dy, noise, cv, seed):
    """With the GCV-selected alpha of each fold fixed, sklearn's Ridge(fit_intercept=True) gives the same
    out-of-fold predictions, hence the same pooled R^2."""
    from sklearn.linear_model import Ridge

    X, Y = _pred_data(n, dx, dy, noise)

    def sk_fit(Xtr, Ytr, Xte):
        a = ref.gcv_ridge_fit(Xtr, Ytr)[3]
        return Ridge(alpha=a, fit_intercept=True, solver="svd").fit(Xtr, Ytr).predict(Xte), a

    want, _ = _cv_ridge(X, Y, cv, seed, sk_fit)
    assert linear_predictability(X, Y, cv=cv, seed=seed) == pytest.approx(want, abs=TOL)


def _sk_ridgecv_fit(Xtr, Ytr, Xte):
    from sklearn.linear_model import RidgeCV

    smax2 = np.linalg.svd(Xtr - Xtr.mean(0), compute_uv=False)[0] ** 2
    m = RidgeCV(alphas=smax2 * 10.0 ** np.arange(-8, 3), gcv_mode="svd", fit_intercept=True).fit(Xtr, Ytr)
    return m.predict(Xte), m.alpha_


def test_sklearn_ridgecv_selects_by_leave_one_out_not_gcv():
    """Why the reference is our own GCV and not sklearn's RidgeCV: RidgeCV(cv=None) minimises the exact
    leave-one-out error sum_i (e_i / (1 - h_ii))^2, whereas unireps (as documented) minimises Golub's GCV,
    RSS / (n - tr H)^2.  On the same grid, RidgeCV's alpha_ is the LOO argmin in every fold; the two criteria
    usually agree, but here pick alphas a factor 10 apart in some folds, which changes the pooled R^2."""
    disagreements = 0
    for n, dx, dy, noise, cv, seed in PRED_CASES:
        X, Y = _pred_data(n, dx, dy, noise)
        for test in _folds(n, cv, seed):
            train = np.ones(n, dtype=bool)
            train[test] = False
            a_sk = _sk_ridgecv_fit(X[train], Y[train], X[test])[1]
            assert a_sk == pytest.approx(ref.loo_ridge_alpha(X[train], Y[train]), rel=1e-9)
            disagreements += not np.isclose(a_sk, ref.gcv_ridge_fit(X[train], Y[train])[3], rtol=1e-9)
        sk, _ = _cv_ridge(X, Y, cv, seed, _sk_ridgecv_fit)
        gcv, _ = _cv_ridge(X, Y, cv, seed, _gcv_fit)
        assert linear_predictability(X, Y, cv=cv, seed=seed) == pytest.approx(gcv, abs=TOL)
    assert disagreements > 0


def test_paired_cosine_equals_sklearn():
    from sklearn.metrics.pairwise import cosine_similarity

    X, Y = _pair(51, 70, 9, 9, offset=0.3)
    assert paired_cosine(X, Y) == pytest.approx(np.mean(np.diag(cosine_similarity(X, Y))), abs=TOL)


# ============================================================================================ 7. streaming

SPLITS = [[7, 50, 3, 90, 30], [1, 1, 2, 176], [180]]


def _batches(n_sizes):
    edges = np.cumsum([0, *n_sizes])
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


@pytest.mark.parametrize("sizes", SPLITS)
@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("dims", [(12, 9), (25, 40)])
def test_streaming_exact_equals_full_cka(sizes, debiased, dims):
    X, Y = _pair(60, sum(sizes), *dims)
    X, Y = X + 1e3, Y - 1e3  # large offsets: the accumulator must not lose the signal to the means
    s = StreamingCKA(debiased=debiased)
    for sl in _batches(sizes):
        s.update(X[sl], Y[sl])
    got = s.compute()
    assert got == pytest.approx(linear_cka(X, Y, debiased=debiased), abs=1e-9)
    assert got == pytest.approx(ref.feature_space_linear_cka(X, Y, debiased=debiased), abs=1e-9)


@pytest.mark.parametrize("sizes", [[20, 20, 20, 20], [5, 37, 12, 26], [80]])
def test_streaming_minibatch_equals_nguyen_reference(sizes):
    X, Y = _pair(61, sum(sizes), 10, 14, offset=2.0)
    s = StreamingCKA(estimator="minibatch")
    for sl in _batches(sizes):
        s.update(X[sl], Y[sl])
    want = ref.minibatch_cka([X[sl] for sl in _batches(sizes)], [Y[sl] for sl in _batches(sizes)])
    assert s.compute() == pytest.approx(want, abs=TOL)


# ===================================================================================== 8. layer_similarity

LAYER_CASES = [
    ("linear_cka", {}, "feature"),
    ("linear_cka", {}, "gram"),
    ("linear_cka", {"debiased": True}, "feature"),
    ("linear_cka", {"debiased": True}, "gram"),
    ("linear_cka_debiased", {}, "feature"),
    ("rbf_cka", {}, "feature"),
    ("rbf_cka", {"threshold": 0.5, "debiased": True}, "feature"),
    ("rbf_cka", {"sigma": 3.0}, "feature"),
    ("rsa", {}, "feature"),
    ("rsa", {"rdm": "euclidean", "compare": "kendall_tau_a"}, "feature"),
    ("rsa", {"rdm": "sq_euclidean", "compare": "pearson"}, "feature"),
    ("cca", {}, "feature"),
    ("svcca", {}, "feature"),
    ("svcca", {"keep": 4}, "feature"),
    ("mutual_knn", {"k": 5}, "feature"),
    ("jaccard_knn", {"k": 7}, "feature"),
    ("procrustes", {}, "feature"),  # no fast path: called pair by pair
    ("procrustes", {}, "gram"),
]


def _layers(route: str):
    rng = np.random.default_rng(70)
    n, widths = (150, [5, 9, 13]) if route == "feature" else (24, [60, 90, 120])
    Z = rng.normal(size=(n, 8))
    la = [np.tanh(Z @ rng.normal(size=(8, w)) + 0.3 * rng.normal(size=(n, w))) for w in widths]
    lb = [Z @ rng.normal(size=(8, w)) + rng.normal(size=(n, w)) for w in widths[:2]]
    return la, lb


@pytest.mark.parametrize("metric,kwargs,route", LAYER_CASES)
def test_layer_similarity_equals_pairwise_calls(metric, kwargs, route):
    from unireps.metrics.layers import _fast_path

    la, lb = _layers(route)
    info = get_metric(metric)
    fast = _fast_path(info.name, kwargs, la[0].shape[0], la, lb)
    if metric.startswith("linear_cka"):
        assert fast.feature == (route == "feature")  # both linear-CKA routes are covered
    assert (fast is None) == (metric == "procrustes")
    want = np.array([[info.fn(a, b, **kwargs) for b in lb] for a in la])
    np.testing.assert_allclose(layer_similarity(la, lb, metric, **kwargs), want, rtol=0, atol=1e-10)
    sq = la[:2]  # layers_b is layers_a: the symmetric shortcut
    want_sq = np.array([[info.fn(a, b, **kwargs) for b in sq] for a in sq])
    np.testing.assert_allclose(layer_similarity(sq, sq, metric, **kwargs), want_sq, rtol=0, atol=1e-10)


# ============================================================================================ 9. float32


@pytest.fixture(scope="module")
def f32_data():
    out = {}
    for shape in [(500, 64), (64, 500)]:
        n, d = shape
        X, Y = _latent_pair(80, n, d, d, r=10, noise=0.8)
        out[shape] = (X.astype(np.float32), Y.astype(np.float32))
    return out


@pytest.mark.parametrize("shape", [(500, 64), (64, 500)])
@pytest.mark.parametrize("name", [m.name for m in list_metrics()])
def test_float32_agrees_with_float64(name, shape, f32_data):
    X32, Y32 = f32_data[shape]
    X64, Y64 = X32.astype(np.float64), Y32.astype(np.float64)  # the same numbers: only the arithmetic differs
    info = get_metric(name)
    try:
        v64 = info(X64, Y64)
    except ValueError as e:  # e.g. CCA with d > n spans every direction and is refused
        pytest.skip(f"{name} refuses n={shape[0]}, d={shape[1]} in float64 too: {e}")
    if name in ("mutual_knn", "jaccard_knn", "cknna"):
        # the 10-NN sets must not hinge on float32 rounding: margin above twice the d·u32 dot-product error bound
        bound = 2 * shape[1] * np.finfo(np.float32).eps / 2
        assert min(ref.knn_margin(X64, 10), ref.knn_margin(Y64, 10)) > bound
    v32 = info(X32, Y32)
    assert v32 == pytest.approx(v64, abs=1e-5)
    torch_v32 = info(torch.from_numpy(X32), torch.from_numpy(Y32))
    assert torch_v32 == pytest.approx(v64, abs=1e-5)
