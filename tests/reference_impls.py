"""Independent, deliberately naive reference implementations of the published similarity measures.

Each function re-derives, in plain numpy (n×n matrices, explicit centring matrices, loops where clearer),
the algorithm of the public reference code named in its comment.  Nothing here imports ``unireps``; the
point is to have a second, independent computation on the SAME convention that ``tests/test_metrics_reference.py``
compares ``unireps.metrics`` against.

Sources read (GitHub):
* google-research/google-research  representation_similarity/Demo.ipynb  (Kornblith et al. 2019, CKA)
* minyoungg/platonic-rep  metrics.py (mutual_knn, cknna, hsic_unbiased, compute_nearest_neighbors) and
  measure_alignment.py (compute_score: rows L2-normalised with F.normalize(dim=-1) before every metric)
* google/svcca  cca_core.py (get_cca_similarity, compute_ccas, positivedef_matrix_sqrt) and pwcca.py
  (compute_pwcca)
* ahwillia/netrep  netrep/metrics/linear.py (LinearMetric), netrep/utils.py (whiten, angular_distance),
  netrep/validation.py (check_equal_shapes, zero padding)
* rsatoolbox (installed, called directly) for RSA.
"""

from __future__ import annotations

import numpy as np

# ------------------------------------------------------------------------------------------------- helpers


def centering_matrix(n: int) -> np.ndarray:
    """H = I - 11^T / n."""
    return np.eye(n) - np.ones((n, n)) / n


def col_center(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=0, keepdims=True)


def pairwise_sq_dists_direct(x: np.ndarray) -> np.ndarray:
    """||x_i - x_j||^2 by explicit differences (no Gram-matrix trick)."""
    diff = x[:, None, :] - x[None, :, :]
    return np.einsum("ijk,ijk->ij", diff, diff)


# --------------------------------------------------------------------- CKA (Kornblith et al. 2019)
# Re-derived from google-research/google-research representation_similarity/Demo.ipynb.


def gram_linear(x: np.ndarray) -> np.ndarray:
    """Linear kernel Gram x x^T (Demo.ipynb ``gram_linear``)."""
    return x @ x.T


def gram_rbf(x: np.ndarray, threshold: float = 1.0) -> np.ndarray:
    """Demo.ipynb ``gram_rbf``: squared distances from the (uncentred) Gram, bandwidth^2 = threshold^2 × the
    median of ALL n^2 squared distances (zero diagonal included), kernel exp(-d^2 / (2 bandwidth^2))."""
    G = x @ x.T
    sq = np.diag(G)
    D = sq[:, None] + sq[None, :] - 2.0 * G
    med = np.median(D)
    return np.exp(-D / (2.0 * threshold**2 * med))


def gram_rbf_sigma(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian kernel with an explicit bandwidth, exp(-||x_i - x_j||^2 / (2 sigma^2)), by direct differences.
    (Kornblith's gram_rbf only takes a threshold; this is the textbook formula for a fixed sigma.)"""
    return np.exp(-pairwise_sq_dists_direct(x) / (2.0 * sigma**2))


def center_gram(K: np.ndarray, unbiased: bool = False) -> np.ndarray:
    """Demo.ipynb ``center_gram``.

    biased: H K H with an explicit n×n centering matrix.
    unbiased: the U-centred matrix of Szekely & Rizzo (2014) that the Demo uses: with K's diagonal zeroed,
      K~_ij = K_ij - r_i/(n-2) - r_j/(n-2) + S/((n-1)(n-2))  (i != j),  K~_ii = 0,
    r_i the row sums and S the total; <K~, L~> / (n(n-3)) is Song et al.'s unbiased HSIC.
    """
    if not np.allclose(K, K.T):
        raise ValueError("Gram matrix must be symmetric")
    n = K.shape[0]
    if not unbiased:
        H = centering_matrix(n)
        return H @ K @ H
    K0 = K.copy()
    np.fill_diagonal(K0, 0.0)
    out = np.zeros_like(K0)
    r = K0.sum(axis=1)
    S = K0.sum()
    for i in range(n):
        for j in range(n):
            if i != j:
                out[i, j] = K0[i, j] - r[i] / (n - 2) - r[j] / (n - 2) + S / ((n - 1) * (n - 2))
    return out


def cka(gram_x: np.ndarray, gram_y: np.ndarray, debiased: bool = False) -> float:
    """Demo.ipynb ``cka``: <vec Kc, vec Lc> / (||Kc||_F ||Lc||_F) on (U-)centred Grams."""
    kx = center_gram(gram_x, unbiased=debiased)
    ky = center_gram(gram_y, unbiased=debiased)
    return float(np.sum(kx * ky) / (np.linalg.norm(kx) * np.linalg.norm(ky)))


def _debiased_dot(xty: float, rx: np.ndarray, ry: np.ndarray, sx: float, sy: float, n: int) -> float:
    # Song et al.'s unbiased HSIC (× n(n-3)) rewritten in feature-space terms (Demo.ipynb helper)
    return xty - n / (n - 2.0) * float(rx @ ry) + sx * sy / ((n - 1.0) * (n - 2.0))


def feature_space_linear_cka(x: np.ndarray, y: np.ndarray, debiased: bool = False) -> float:
    """Demo.ipynb ``feature_space_linear_cka``: ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on centred features."""
    x, y = col_center(x), col_center(y)
    num = np.linalg.norm(x.T @ y) ** 2
    nx = np.linalg.norm(x.T @ x)
    ny = np.linalg.norm(y.T @ y)
    if debiased:
        n = x.shape[0]
        rx, ry = (x**2).sum(1), (y**2).sum(1)
        num = _debiased_dot(num, rx, ry, rx.sum(), ry.sum(), n)
        nx = np.sqrt(_debiased_dot(nx**2, rx, rx, rx.sum(), rx.sum(), n))
        ny = np.sqrt(_debiased_dot(ny**2, ry, ry, ry.sum(), ry.sum(), n))
    return float(num / (nx * ny))


def hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012) eq. 5 as written in minyoungg/platonic-rep metrics.py ``hsic_unbiased``:
    [sum(K~ ⊙ L~^T) + 1'K~1 1'L~1 / ((m-1)(m-2)) - 2/(m-2) 1'K~L~1] / (m(m-3)), K~, L~ with zeroed diagonals.
    (K and L need not be symmetric: CKNNA feeds masked Grams.)"""
    m = K.shape[0]
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0.0)
    np.fill_diagonal(Lt, 0.0)
    val = (np.sum(Kt * Lt.T) + Kt.sum() * Lt.sum() / ((m - 1) * (m - 2))
           - 2.0 * np.sum(Kt @ Lt) / (m - 2))
    return float(val / (m * (m - 3)))


def hsic_biased(K: np.ndarray, L: np.ndarray) -> float:
    """tr(K H L H) (platonic-rep ``hsic_biased``; the (n-1)^-2 factor cancels in CKA)."""
    H = centering_matrix(K.shape[0])
    return float(np.trace(K @ H @ L @ H))


def minibatch_cka(batches_x, batches_y) -> float:
    """Minibatch CKA of Nguyen, Raghu & Kornblith (ICLR 2021): the unbiased HSIC per batch (linear kernel on
    the batch's raw features), averaged over batches in the numerator and in each denominator term."""
    kl = kk = ll = 0.0
    for xb, yb in zip(batches_x, batches_y, strict=True):
        K, L = gram_linear(xb), gram_linear(yb)
        kl += hsic_unbiased(K, L)
        kk += hsic_unbiased(K, K)
        ll += hsic_unbiased(L, L)
    return kl / np.sqrt(kk * ll)


# ------------------------------------------------------- k-NN measures (Huh et al. 2024, platonic-rep)
# Re-derived from minyoungg/platonic-rep metrics.py and measure_alignment.py.


def prh_normalize(x: np.ndarray) -> np.ndarray:
    """measure_alignment.compute_score: rows L2-normalised (F.normalize(p=2, dim=-1)) before any metric."""
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def nearest_neighbors(feats: np.ndarray, k: int) -> np.ndarray:
    """metrics.compute_nearest_neighbors: S = F F^T, diagonal set to -1e8 (self excluded), the k largest."""
    S = feats @ feats.T
    np.fill_diagonal(S, -1e8)
    return np.argsort(-S, axis=1, kind="stable")[:, :k]


def knn_mask(idx: np.ndarray) -> np.ndarray:
    n = idx.shape[0]
    M = np.zeros((n, n))
    for i in range(n):
        M[i, idx[i]] = 1.0
    return M


def mutual_knn(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """metrics.AlignmentMetrics.mutual_knn on row-normalised features: mean_i |N_x(i) ∩ N_y(i)| / k via n×n masks."""
    a, b = prh_normalize(x), prh_normalize(y)
    ma, mb = knn_mask(nearest_neighbors(a, k)), knn_mask(nearest_neighbors(b, k))
    return float(((ma * mb).sum(axis=1) / k).mean())


def jaccard_knn(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """Mean over stimuli of the Jaccard index of the two k-NN sets (same neighbour rule), with Python sets."""
    a, b = prh_normalize(x), prh_normalize(y)
    na, nb = nearest_neighbors(a, k), nearest_neighbors(b, k)
    vals = []
    for i in range(a.shape[0]):
        sa, sb = set(na[i].tolist()), set(nb[i].tolist())
        vals.append(len(sa & sb) / len(sa | sb))
    return float(np.mean(vals))


def cknna(x: np.ndarray, y: np.ndarray, k: int, eps: float = 1e-6, return_terms: bool = False):
    """metrics.AlignmentMetrics.cknna (unbiased=True, distance_agnostic=False) on row-normalised features.

    K = A A^T, L = B B^T; for a pair (K, L): top-k of each row with the diagonal at -inf, M = M_K ⊙ M_L,
    s(K, L) = HSIC_1(M ⊙ K, M ⊙ L); CKNNA = s(K, L) / (sqrt(s(K, K) s(L, L)) + eps).  The PRH code uses
    eps = 1e-6; eps = 0 is the plain ratio.  ``return_terms=True`` returns (s(K, L), s(K, K), s(L, L)).
    """
    a, b = prh_normalize(x), prh_normalize(y)
    K, L = a @ a.T, b @ b.T

    def topk_mask(G):
        Gh = G.copy()
        np.fill_diagonal(Gh, -np.inf)
        return knn_mask(np.argsort(-Gh, axis=1, kind="stable")[:, :k])

    def sim(G1, G2):
        M = topk_mask(G1) * topk_mask(G2)
        return hsic_unbiased(M * G1, M * G2)

    kl, kk, ll = sim(K, L), sim(K, K), sim(L, L)
    if return_terms:
        return kl, kk, ll
    return kl / (np.sqrt(kk * ll) + eps)


def knn_margin(x: np.ndarray, k: int) -> float:
    """Smallest gap between the k-th and (k+1)-th cosine similarity over rows: how robust the k-NN sets are to
    rounding (used to pick test data whose neighbour sets are not decided by float error)."""
    a = prh_normalize(x)
    S = a @ a.T
    np.fill_diagonal(S, -np.inf)
    s = -np.sort(-S, axis=1)
    return float(np.min(s[:, k - 1] - s[:, k]))


# ------------------------------------------------------------------ CCA / SVCCA / PWCCA (google/svcca)
# Re-derived from google/svcca cca_core.py and pwcca.py.  Their inputs are (neurons, datapoints).


def _psd_sqrt(A: np.ndarray) -> np.ndarray:
    """cca_core.positivedef_matrix_sqrt: V diag(sqrt(w)) V^T from eigh."""
    w, V = np.linalg.eigh(A)
    return V @ np.diag(np.sqrt(w)) @ V.T


def google_cca(acts1: np.ndarray, acts2: np.ndarray, epsilon: float = 0.0) -> dict:
    """cca_core.get_cca_similarity (compute_coefs=True) by the covariance / inverse-square-root route.

    np.cov of the stacked neurons; each covariance block rescaled by the max |entry| of sigma_xx / sigma_yy;
    neurons with variance < epsilon dropped (none for epsilon = 0); inverse via pinv, its PSD square root via
    eigh; the canonical correlations are the singular values of Sxx^-1/2 Sxy Syy^-1/2.
    Returns s (canonical correlations), u, v (singular vectors), invsqrt_xx, invsqrt_yy, neuron means.
    """
    numx, numy = acts1.shape[0], acts2.shape[0]
    assert acts1.shape[1] == acts2.shape[1] and numx < acts1.shape[1] and numy < acts2.shape[1]
    cov = np.cov(np.vstack([acts1, acts2]))
    sxx, sxy, syy = cov[:numx, :numx], cov[:numx, numx:], cov[numx:, numx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx, syy, sxy = sxx / xmax, syy / ymax, sxy / np.sqrt(xmax * ymax)
    keep_x = np.abs(np.diag(sxx)) >= epsilon
    keep_y = np.abs(np.diag(syy)) >= epsilon
    assert keep_x.all() and keep_y.all(), "reference only covers the no-pruning case"
    sxx = sxx + epsilon * np.eye(numx)
    syy = syy + epsilon * np.eye(numy)
    isx = _psd_sqrt(np.linalg.pinv(sxx))
    isy = _psd_sqrt(np.linalg.pinv(syy))
    u, s, v = np.linalg.svd(isx @ sxy @ isy)
    return {"s": np.abs(s), "u": u, "v": v, "invsqrt_xx": isx, "invsqrt_yy": isy,
            "means1": acts1.mean(axis=1, keepdims=True), "means2": acts2.mean(axis=1, keepdims=True)}


def google_mean_cca(x: np.ndarray, y: np.ndarray) -> float:
    """Mean of ALL canonical correlations, np.mean(results["cca_coef1"]) as the svcca tutorials report it.
    x, y are (n, d) here; transposed to Google's (neurons, datapoints)."""
    return float(np.mean(google_cca(x.T, y.T)["s"]))


def svd_reduce(x: np.ndarray, keep) -> np.ndarray:
    """SVCCA step 1 (Raghu et al. 2017; svcca tutorial 001): centre each neuron, SVD, keep the top directions
    as s_i v_i^T (neurons × datapoints in Google's layout; here returned as (n, r)).  ``keep`` an int: that
    many directions; a float: the smallest r whose cumulative squared singular values reach keep × total."""
    acts = col_center(x).T  # (neurons, datapoints)
    U, s, Vt = np.linalg.svd(acts, full_matrices=False)
    if isinstance(keep, int):
        r = min(keep, len(s))
    else:
        var = s**2
        r = 1
        while r < len(s) and var[:r].sum() / var.sum() < keep:
            r += 1
    return (np.diag(s[:r]) @ Vt[:r]).T


def svcca(x: np.ndarray, y: np.ndarray, keep) -> float:
    """SVCCA = Google's mean CCA of the SVD-reduced representations."""
    return google_mean_cca(svd_reduce(x, keep), svd_reduce(y, keep))


def pwcca(x: np.ndarray, y: np.ndarray, literal_google: bool = False) -> float:
    """Projection-weighted CCA (Morcos et al. 2018), following pwcca.compute_pwcca.

    The representation with fewer neurons (X on a tie: ``sum(x_idxs) <= sum(y_idxs)``) gives the weights:
    P = Q of the QR of its canonical directions (datapoints × directions), weights_i = sum_j |<P_i, acts_j>|
    over its neurons, normalised to sum 1; PWCCA = sum_i weights_i rho_i.

    Canonical directions: the paper's canonical variates u_i^T Sxx^-1/2 (acts - mean) (what cca_core builds as
    ``cca_dirns1`` with full_coef_x @ full_invsqrt_xx).  ``literal_google=True`` reproduces compute_pwcca
    literally instead: it uses ``coef_x = u^T`` WITHOUT ``invsqrt_xx``, i.e. directions u_i^T (acts - mean),
    which are not the canonical variates unless the neurons are already white.  In both cases the code adds the
    neuron means back to the directions and projects the RAW ``acts``; both vanish only for centred input,
    so callers must pass column-centred x, y.
    """
    r = google_cca(x.T, y.T)
    numx, numy = x.shape[1], y.shape[1]
    if numx <= numy:
        acts, coef, isq, means = x.T, r["u"].T, r["invsqrt_xx"], r["means1"]
    else:
        acts, coef, isq, means = y.T, r["v"], r["invsqrt_yy"], r["means2"]
    W = coef if literal_google else coef @ isq
    dirns = W @ (acts - means) + means
    P, _ = np.linalg.qr(dirns.T)
    weights = np.sum(np.abs(P.T @ acts.T), axis=1)
    weights = weights / weights.sum()
    return float(np.sum(weights * r["s"]))


# ------------------------------------------------------------------------- Procrustes (ahwillia/netrep)
# Re-derived from netrep/metrics/linear.py LinearMetric(alpha=1, center_columns=True, zero_pad=True).


def zero_pad(x: np.ndarray, y: np.ndarray):
    """netrep.validation.check_equal_shapes(zero_pad=True): pad the narrower matrix with zero columns."""
    d = max(x.shape[1], y.shape[1])
    return (np.pad(x, ((0, 0), (0, d - x.shape[1]))), np.pad(y, ((0, 0), (0, d - y.shape[1]))))


def netrep_linear_metric(x: np.ndarray, y: np.ndarray, score_method: str = "angular") -> float:
    """LinearMetric(alpha=1).fit_score: zero-pad, centre columns, no whitening (alpha = 1 => Z = I),
    U S V^T = svd(X^T Y), X -> X U, Y -> Y V; angular: arccos(<XU, YV> / (||XU|| ||YV||)), euclidean:
    ||XU - YV||_F (netrep does NOT normalise here, so the euclidean score is in the data's units)."""
    x, y = zero_pad(x, y)
    x, y = col_center(x), col_center(y)
    U, _, Vt = np.linalg.svd(x.T @ y)
    tx, ty = x @ U, y @ Vt.T
    if score_method == "angular":
        c = np.dot(tx.ravel(), ty.ravel()) / (np.linalg.norm(tx) * np.linalg.norm(ty))
        return float(np.arccos(np.clip(c, -1.0, 1.0)))
    return float(np.linalg.norm(tx - ty))


def procrustes_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """<X Q, Y> / (||X|| ||Y||) at the optimal rotation Q = U V^T of svd(X^T Y) (explicit orthogonal Procrustes
    solution), on zero-padded, centred data: the cosine whose arccos is netrep's angular distance."""
    x, y = zero_pad(x, y)
    x, y = col_center(x), col_center(y)
    U, _, Vt = np.linalg.svd(x.T @ y)
    Q = U @ Vt
    return float(np.sum((x @ Q) * y) / (np.linalg.norm(x) * np.linalg.norm(y)))


# --------------------------------------------------------------------------- ridge / GCV (Golub et al. 1979)


def gcv_ridge_fit(x: np.ndarray, y: np.ndarray, exponents=range(-8, 3)):
    """Ridge with intercept, alpha chosen by generalised cross-validation over s_max^2 × 10^e of centred x.

    GCV(a) = n ||(I - A) Y||^2 / (n - tr A)^2 with A = 11^T/n + Xc (Xc^T Xc + a I)^-1 Xc^T the hat matrix
    (Golub, Heath & Wahba 1979; summed over outputs: one alpha shared by all outputs).  Naive but numerically
    sound: with P = I - 11^T/n and G = Xc Xc^T, the kernel-ridge identity I - A = a (G + a I)^-1 P gives the
    residuals and n - tr A = a tr((G + a I)^-1 P) by one explicit n×n solve per alpha, without subtracting
    nearly equal numbers (the forms ||Y||^2 - ||A Y||^2 or n - tr A lose every digit at the smallest alphas
    when d >= n, where the fit nearly interpolates).  W = Xc^T (G + a I)^-1 Yc (dual form of the ridge map).
    Returns (W, x_mean, y_mean, alpha).
    """
    n = x.shape[0]
    mx, my = x.mean(0, keepdims=True), y.mean(0, keepdims=True)
    xc = x - mx
    smax2 = np.linalg.svd(xc, compute_uv=False)[0] ** 2
    G = xc @ xc.T
    P = np.eye(n) - np.ones((n, n)) / n
    best = None
    for e in exponents:
        a = smax2 * 10.0**e
        M = np.linalg.solve(G + a * np.eye(n), P)  # (G + aI)^-1 P
        resid = a * (M @ y)
        gcv = n * np.sum(resid**2) / (a * np.trace(M)) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, a, xc.T @ (M @ y))
    _, a, W = best
    return W, mx, my, a


def loo_ridge_alpha(x: np.ndarray, y: np.ndarray, exponents=range(-8, 3)) -> float:
    """The alpha of the same grid minimising the exact leave-one-out error sum_i ||e_i / (1 - A_ii)||^2 (the
    criterion of scikit-learn's RidgeCV with cv=None), with I - A = a (G + a I)^-1 P as in gcv_ridge_fit."""
    n = x.shape[0]
    xc = x - x.mean(0, keepdims=True)
    smax2 = np.linalg.svd(xc, compute_uv=False)[0] ** 2
    G = xc @ xc.T
    P = np.eye(n) - np.ones((n, n)) / n
    best = None
    for e in exponents:
        a = smax2 * 10.0**e
        I_minus_A = a * np.linalg.solve(G + a * np.eye(n), P)
        loo = np.sum(((I_minus_A @ y) / np.diag(I_minus_A)[:, None]) ** 2)
        if best is None or loo < best[0]:
            best = (loo, a)
    return best[1]


def pooled_r2(y: np.ndarray, pred: np.ndarray) -> float:
    """1 - sum ||Y - Y_hat||^2 / sum ||Y - mean Y||^2 over all stimuli and outputs."""
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean(0, keepdims=True)) ** 2))


# ------------------------------------------------------------------------------- RSA (rsatoolbox, called directly)


def rsatoolbox_rdm(x: np.ndarray, method: str) -> np.ndarray:
    """rsatoolbox.rdm.calc_rdm on a Dataset of x (rows = conditions): the RDM vector (upper triangle, row-major,
    scipy squareform order).  'euclidean' in rsatoolbox is the SQUARED distance divided by n_features."""
    import rsatoolbox

    rdm = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(np.asarray(x, dtype=float)), method=method)
    return rdm.get_vectors()[0]


def rsatoolbox_compare(va: np.ndarray, vb: np.ndarray, method: str) -> float:
    """rsatoolbox.rdm.compare of two RDM vectors ('spearman', 'corr', 'tau-a', 'cosine', 'rho-a', 'tau-b')."""
    import rsatoolbox

    a = rsatoolbox.rdm.RDMs(np.asarray(va, dtype=float)[None, :])
    b = rsatoolbox.rdm.RDMs(np.asarray(vb, dtype=float)[None, :])
    return float(rsatoolbox.rdm.compare(a, b, method=method)[0, 0])
