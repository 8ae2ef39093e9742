"""Centered kernel alignment (CKA).

CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))           (Kornblith et al., ICML 2019)

Estimators of HSIC:
* biased (default):  HSIC_0 = tr(K H L H) / (n-1)^2,  H = I - 11^T/n     (Gretton et al., ALT 2005)
* debiased:          HSIC_1 = [tr(K~L~) + 1^T K~ 1 1^T L~ 1 / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n(n-3)),
  K~ = K with its diagonal set to zero                                    (Song et al., JMLR 2012)
The normalisations cancel in the ratio. Returns a similarity: 1 for representations equal up to the
measure's invariances; biased CKA is in [0, 1], debiased CKA can be slightly negative.

Linear kernel K = X X^T on column-centred X.  For n > d the feature-space form is used (Kornblith et al.
2019, eq. for linear CKA): HSIC_0 ∝ ||X^T Y||_F^2 with O(n d1 d2) work and no n×n matrix; the Gram form is
used otherwise.  No n×n centering matrix is ever built: centring the features (or the Gram's rows and
columns) is equivalent.  Norms and traces of float32 products are reduced in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import _validate
from ._validate import (
    acc_dtype,
    center,
    check_finite,
    check_pair,
    constant_error,
    relative_floor,
    warn_if_chance_high,
)

# --------------------------------------------------------------------------------------------- primitives


def _sqnorm(t: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm reduced in float64."""
    return torch.linalg.vector_norm(t, dtype=acc_dtype(t)) ** 2


def _use_feature_form(n: int, dx: int, dy: int) -> bool:
    """Feature-space cost n(dx dy + dx^2 + dy^2) against Gram cost n^2 (dx + dy)."""
    return dx * dy + dx * dx + dy * dy <= n * (dx + dy)


def debiased_from_terms(cross: torch.Tensor, rx: torch.Tensor, ry: torch.Tensor, n: int) -> torch.Tensor:
    """Unbiased HSIC (times n(n-3)) from feature-space terms of column-centred X, Y.

    cross = ||X^T Y||_F^2 = tr(K L);  rx, ry = squared row norms (diag K, diag L).  With centred features,
    K~ 1 = -diag(K), so 1^T K~ 1 = -sum(rx) and 1^T K~ L~ 1 = rx . ry; substituting into Song's formula:
    tr(KL) - n/(n-2) rx.ry + sum(rx) sum(ry) / ((n-1)(n-2)).
    """
    return cross - n / (n - 2.0) * torch.dot(rx, ry) + rx.sum() * ry.sum() / ((n - 1.0) * (n - 2.0))


class GramStats:
    """What HSIC needs of one Gram matrix, formed once and reused against many others.

    biased:   the doubly centred Gram H K H;   debiased: K~ (zero diagonal), its row sums and total.
    """

    __slots__ = ("mat", "rowsum", "total", "debiased", "n")

    def __init__(self, K: torch.Tensor, debiased: bool, centered: bool = False):
        self.n = K.shape[0]
        self.debiased = debiased
        acc = acc_dtype(K)
        if debiased:
            Kt = K.clone()
            Kt.diagonal().zero_()
            self.mat = Kt
            self.rowsum = Kt.sum(dim=1, dtype=acc)
            self.total = self.rowsum.sum()
        else:
            self.mat = K if centered else center_gram(K)
            self.rowsum = self.total = None

    def hsic(self, other: GramStats) -> torch.Tensor:
        """HSIC (up to the positive factor that cancels in CKA) between two prepared Grams."""
        tr = torch.sum(self.mat * other.mat, dtype=acc_dtype(self.mat))  # tr(K L) for symmetric K, L
        if not self.debiased:
            return tr
        n = self.n
        return (tr + self.total * other.total / ((n - 1.0) * (n - 2.0))
                - 2.0 / (n - 2.0) * torch.dot(self.rowsum, other.rowsum))


def center_gram(K: torch.Tensor) -> torch.Tensor:
    """H K H without forming H: subtract row and column means, add back the grand mean (float64 means)."""
    acc = acc_dtype(K)
    row = K.mean(dim=1, dtype=acc)
    col = K.mean(dim=0, dtype=acc)
    grand = row.mean()
    return K - row[:, None].to(K.dtype) - col[None, :].to(K.dtype) + grand.to(K.dtype)


def cka_from_hsic(hxy: torch.Tensor, hxx: torch.Tensor, hyy: torch.Tensor) -> float:
    denom = hxx * hyy
    if not bool(denom > 0):
        raise ValueError("the HSIC of a representation with itself is not positive (a degenerate, nearly "
                         "constant representation, or too few stimuli for the debiased estimator); "
                         "use more stimuli or debiased=False")
    return float(hxy / torch.sqrt(denom))


# ------------------------------------------------------------------------------------------- public API


def _mean_and_ratio(x: torch.Tensor):
    """(mean, estimated ||x||^2 / ||x - mean||^2): the column means over all rows (accumulated in float64), the
    energy ratio from at most 1024 evenly spaced rows (it only steers the choice of centring first, which is
    verified exactly after the products)."""
    n = x.shape[0]
    a = _validate.host_numpy(x)
    if a is not None:
        mean = torch.from_numpy(a.sum(axis=0, dtype=np.float64) / n)  # numpy: a fast float64 pass
    else:
        mean = x.sum(dim=0, dtype=acc_dtype(x)) / n
    sample = x[:: max(1, n // 1024)]
    total = float(torch.linalg.vector_norm(sample)) ** 2 / sample.shape[0]
    centred = total - float(torch.linalg.vector_norm(mean)) ** 2
    return mean, (total / centred if centred > 0 else math.inf)


def _ratio_limit(dtype: torch.dtype) -> float:
    """||x||^2 / ||x - mean||^2 above which uncentred products lose too much to cancellation: then centre first."""
    return 8.0 if dtype == torch.float32 else 1e6


def _products(xs: torch.Tensor, ys: torch.Tensor):
    """X^T Y, X^T X, Y^T Y.  On the CPU in float32/float64 numpy's BLAS is used: it forms X^T X with syrk (half the
    flops of a general product), which torch's matmul does not; elsewhere torch."""
    a, b = _validate.host_numpy(xs), _validate.host_numpy(ys)
    if a is not None and b is not None:
        with np.errstate(all="ignore"):  # overflow / NaN are reported by the caller's finiteness check
            return tuple(torch.from_numpy(p) for p in (a.T @ b, a.T @ a, b.T @ b))
    return xs.T @ ys, xs.T @ xs, ys.T @ ys


def _centred_products(x: torch.Tensor, y: torch.Tensor, shift: tuple[bool, bool] = (False, False)):
    """The centred products Xc^T Yc, Xc^T Xc, Yc^T Yc in float64, the uncentred energies ||x||^2, ||y||^2 and the
    (possibly shifted) inputs with their residual means.

    No centred copy is made unless ``shift`` asks for one (or the sampled energy ratio does): uncentred products
    are corrected by -n r r^T in float64 (in place, no d×d temporaries).  The exact energies come from the
    products' traces; when they show that cancellation would cost accuracy, the products are formed again on
    centred copies.
    """
    n, acc = x.shape[0], acc_dtype(x)
    limit = _ratio_limit(x.dtype)
    parts = []
    for t, force in ((x, shift[0]), (y, shift[1])):
        mean, ratio = _mean_and_ratio(t)
        if force or ratio > limit or t.dtype not in (torch.float32, torch.float64):
            t = t - mean.to(t.dtype)
            mean = _mean_and_ratio(t)[0]
            force = True
        parts.append((t, mean.to(acc), force))
    (xs, rx, fx), (ys, ry, fy) = parts
    pxy, pxx, pyy = _products(xs, ys)
    ex, ey = float(torch.trace(pxx)), float(torch.trace(pyy))
    redo = tuple(not f and math.isfinite(e) and e > limit * (e - n * float(r @ r))
                 for f, e, r in ((fx, ex, rx), (fy, ey, ry)))
    if any(redo):
        return _centred_products(x, y, (fx or redo[0], fy or redo[1]))
    cxy = pxy.to(acc).addr_(rx, ry, alpha=-n)
    cxx = pxx.to(acc).addr_(rx, rx, alpha=-n)
    cyy = pyy.to(acc).addr_(ry, ry, alpha=-n)
    return (cxy, cxx, cyy), (ex, ey), (xs, rx), (ys, ry)


def _feature_terms(x: torch.Tensor, y: torch.Tensor, debiased: bool):
    """||Xc^T Yc||^2, ||Xc^T Xc||^2, ||Yc^T Yc||^2 (float64), HSIC_1-corrected when debiased."""
    n = x.shape[0]
    (cxy, cxx, cyy), (ex, ey), (xs, rx), (ys, ry) = _centred_products(x, y)
    if not bool(torch.isfinite(cxy.sum() + cxx.sum() + cyy.sum())):
        check_finite(x, "X"), check_finite(y, "Y")
        raise ValueError("the feature products overflowed (values too large for the dtype); rescale X and Y or "
                         "pass float64")
    for c, energy, t, name in ((cxx, ex, x, "X"), (cyy, ey, y, "Y")):
        if not float(torch.trace(c)) > relative_floor(t.dtype) ** 2 * energy:
            raise constant_error(name)
    hxy, hxx, hyy = (cxy**2).sum(), (cxx**2).sum(), (cyy**2).sum()
    if not debiased:
        warn_chance_cka(torch.trace(cxx), torch.trace(cyy), hxx, hyy, n)
    if debiased:
        ax = _row_sq_norms(xs, rx)
        ay = _row_sq_norms(ys, ry)
        hxy = debiased_from_terms(hxy, ax, ay, n)
        hxx = debiased_from_terms(hxx, ax, ax, n)
        hyy = debiased_from_terms(hyy, ay, ay, n)
    return hxy, hxx, hyy


def _row_sq_norms(xs: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """||xs_i - r||^2 = ||xs_i||^2 - 2 xs_i . r + ||r||^2 (r is small: no cancellation)."""
    acc = r.dtype
    return (torch.linalg.vector_norm(xs, dim=1, dtype=acc) ** 2 - 2.0 * (xs @ r.to(xs.dtype)).to(acc)
            + torch.dot(r, r))


def warn_chance_cka(trx, try_, hxx, hyy, n: int, measure: str = "linear CKA") -> None:
    """UninformativeWarning when biased linear CKA's mean under random pairing of the stimuli is high.

    For centred Grams K, L the mean of tr(K P L P^T) over permutations P is tr K tr L / (n - 1), so the chance
    level is tr K tr L / ((n - 1) ||K||_F ||L||_F) = sqrt(PR_X PR_Y) / (n - 1), PR = (tr K)^2 / ||K||_F^2 the
    participation ratio: near 1 when both sides spread over most of the n - 1 centred directions (d >> n,
    or very few stimuli)."""
    chance = float(trx) * float(try_) / ((n - 1.0) * float(torch.sqrt(hxx * hyy)))
    pr_x, pr_y = float(trx) ** 2 / float(hxx), float(try_) ** 2 / float(hyy)
    warn_if_chance_high(measure, chance, "mean value",
                        f"n={n} stimuli, participation ratios {pr_x:.3g} and {pr_y:.3g} of at most n-1={n - 1}")


def linear_cka(X, Y, debiased: bool = False) -> float:
    """Linear CKA between representations X (n, d1) and Y (n, d2) of the same n stimuli.

    CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on column-centred X, Y (Kornblith et al. 2019), biased
    HSIC (Gretton 2005) by default; ``debiased=True`` uses the unbiased HSIC of Song et al. 2012 (n >= 4).
    Similarity in [0, 1] (debiased: can dip below 0). Invariant to orthogonal transforms, isotropic
    scaling and translation of either representation; not to general invertible linear maps.
    Feature-space form when n > d (cost n·d1·d2, three d×d products), Gram form otherwise.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import linear_cka
    >>> round(linear_cka(X, X @ Q), 6)  # invariant to rotations
    1.0
    >>> round(linear_cka(X, rng.standard_normal((60, 8))), 2) < 0.5
    True
    """
    x, y = check_pair(X, Y, min_rows=4 if debiased else 2, rescale=True)
    n, dx = x.shape
    dy = y.shape[1]
    if _use_feature_form(n, dx, dy):
        return cka_from_hsic(*_feature_terms(x, y, debiased))
    check_finite(x, "X"), check_finite(y, "Y")
    x, y = center(x, "X"), center(y, "Y")
    gx = GramStats(x @ x.T, debiased, centered=True)
    gy = GramStats(y @ y.T, debiased, centered=True)
    hxx, hyy = gx.hsic(gx), gy.hsic(gy)
    if not debiased and bool(hxx * hyy > 0):
        warn_chance_cka(torch.trace(gx.mat.to(hxx.dtype)), torch.trace(gy.mat.to(hyy.dtype)), hxx, hyy, n)
    return cka_from_hsic(gx.hsic(gy), hxx, hyy)


def sq_distances(x: torch.Tensor) -> torch.Tensor:
    """All n^2 squared Euclidean distances, via the Gram of the centred rows, clamped at 0, zero diagonal."""
    xc = x - x.mean(dim=0, dtype=acc_dtype(x), keepdim=True).to(x.dtype)
    G = xc @ xc.T
    sq = torch.diagonal(G)
    D = sq[:, None] + sq[None, :] - 2.0 * G
    D.clamp_(min=0)
    D.diagonal().zero_()
    return D


def median_all(D: torch.Tensor) -> torch.Tensor:
    """Median of all entries (numpy's convention: the mean of the two middle values for an even count)."""
    flat = D.reshape(-1)
    m = flat.numel()
    lo = torch.kthvalue(flat, (m + 1) // 2).values
    if m % 2:
        return lo
    hi = torch.kthvalue(flat, m // 2 + 1).values
    return (lo + hi) / 2


def rbf_gram(x: torch.Tensor, sigma: float | None = None, threshold: float = 1.0, name: str = "X"):
    """RBF Gram exp(-||x_i - x_j||^2 / (2 sigma^2)).

    sigma=None: Kornblith et al.'s convention, sigma^2 = threshold^2 × median of all n^2 squared distances
    (diagonal zeros included), per matrix.
    """
    D = sq_distances(x)
    if sigma is None:
        med = median_all(D)
        if not bool(med > 0):
            raise ValueError(f"the median squared distance of {name} is 0 (most stimuli are identical), so the "
                             "median-heuristic bandwidth is undefined; pass sigma explicitly")
        sigma2 = threshold**2 * med
    else:
        sigma2 = torch.as_tensor(float(sigma) ** 2, dtype=D.dtype, device=D.device)
    return torch.exp(-D / (2.0 * sigma2))


def _check_bandwidth(sigma, threshold):
    if sigma is not None and not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ValueError(f"sigma must be a positive number or None (median heuristic), got {sigma!r}")
    if not (isinstance(threshold, (int, float)) and threshold > 0):
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")


def rbf_cka(X, Y, sigma: float | None = None, threshold: float = 1.0, debiased: bool = False) -> float:
    """CKA with Gaussian RBF kernels k(x, x') = exp(-||x - x'||^2 / (2 sigma^2)) (Kornblith et al. 2019).

    sigma=None (default): per representation sigma^2 = threshold^2 × median of all n^2 squared distances
    (diagonal included), Kornblith et al.'s convention; a number fixes sigma for both. Biased HSIC by
    default, ``debiased=True`` for Song et al.'s unbiased estimator. Similarity in [0, 1]. Invariant to
    orthogonal transforms and translation; to isotropic scaling only with the median bandwidth. Gram form:
    O(n^2 d) time, O(n^2) memory.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import rbf_cka
    >>> round(rbf_cka(X, 3 * X @ Q), 6)  # invariant to rotation and isotropic scaling
    1.0
    """
    _check_bandwidth(sigma, threshold)
    x, y = check_pair(X, Y, min_rows=4 if debiased else 2, rescale=sigma is None)
    center(x, "X"), center(y, "Y")  # refuses constant representations
    gx = GramStats(rbf_gram(x, sigma, threshold, "X"), debiased)
    gy = GramStats(rbf_gram(y, sigma, threshold, "Y"), debiased)
    hxx, hyy = gx.hsic(gx), gy.hsic(gy)
    if not debiased and bool(hxx * hyy > 0):  # the permutation mean holds for any centred kernels
        warn_chance_cka(torch.trace(gx.mat).to(hxx.dtype), torch.trace(gy.mat).to(hyy.dtype), hxx, hyy,
                        x.shape[0], "RBF CKA")
    return cka_from_hsic(gx.hsic(gy), hxx, hyy)
