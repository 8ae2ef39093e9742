"""Streaming linear CKA over batches of paired rows (torchmetrics style: ``update`` / ``compute``).

``estimator="exact"`` (default): accumulates in float64 the sufficient statistics of the whole data set,
shifted by the first batch's column means for numerical stability (CKA and HSIC_1 are translation
invariant): n, sum x, sum y, X^T X, Y^T Y, X^T Y, and for the debiased estimator the row-norm terms.
``compute()`` then equals ``linear_cka`` on all rows at once (to ~1e-9 in float64), biased or debiased,
in O(d1^2 + d2^2 + d1 d2) memory whatever n.

``estimator="minibatch"``: the minibatch CKA of Nguyen, Raghu & Kornblith (ICLR 2021),
sum_b HSIC_1(K_b, L_b) / sqrt(sum_b HSIC_1(K_b, K_b) sum_b HSIC_1(L_b, L_b)), unbiased HSIC per batch.
A different quantity: it depends on the batch size and partition and does not equal full-data CKA.

``StreamingCCA``: shifted float64 covariance accumulators (sum x, sum y, X^T X, Y^T Y, X^T Y); ``cca()``,
``svcca(keep)``, ``pwcca()`` (and ``procrustes()``) from them, equal to the in-memory measures to ~1e-8 on
well-conditioned data, in O((d1 + d2)^2) memory whatever n.

``StreamingPredictability``: cross-validated ridge R^2 from streamed per-fold sufficient statistics; each
row's fold comes from a seeded hash of its global row index (``fold_ids``), so its folds differ from the
in-memory ``linear_predictability``'s ``torch.randperm`` folds: the two agree only statistically.
"""

from __future__ import annotations

import torch

from ._validate import check_choice, check_pair, pow2_shift, times_pow2
from .cca import _check_not_degenerate, _truncate
from .cka import GramStats, cka_from_hsic
from .predictability import _ALPHA_EXPONENTS


class StreamingCKA:
    """Linear CKA accumulated batch by batch. ``update(Xb, Yb)`` with rows = the same stimuli."""

    ESTIMATORS = ("exact", "minibatch")

    def __init__(self, debiased: bool = False, estimator: str = "exact"):
        check_choice("estimator", estimator, self.ESTIMATORS)
        self.debiased = bool(debiased)
        self.estimator = estimator
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self._shift = None
        self._pow2 = None
        self._s: dict[str, torch.Tensor] = {}

    def _add(self, key: str, value: torch.Tensor) -> None:
        self._s[key] = self._s[key] + value if key in self._s else value

    def update(self, X, Y) -> StreamingCKA:
        x, y = check_pair(X, Y, min_rows=4 if self.estimator == "minibatch" else 1)
        self._pow2 = self._pow2 or (pow2_shift(x.double(), "X"), pow2_shift(y.double(), "Y"))
        x, y = _scaled(x.double(), self._pow2[0]), _scaled(y.double(), self._pow2[1])
        if self._shift is not None and (x.shape[1], y.shape[1]) != self._dims:
            raise ValueError(f"batch widths {(x.shape[1], y.shape[1])} differ from the first batch's {self._dims}")
        if self.estimator == "minibatch":
            self._update_minibatch(x, y)
        else:
            self._update_exact(x, y)
        self.n += x.shape[0]
        return self

    def _update_exact(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if self._shift is None:
            self._shift = (x.mean(0, keepdim=True), y.mean(0, keepdim=True))
            self._dims = (x.shape[1], y.shape[1])
        x, y = x - self._shift[0], y - self._shift[1]
        self._add("sx", x.sum(0))
        self._add("sy", y.sum(0))
        self._add("xx", x.T @ x)
        self._add("yy", y.T @ y)
        self._add("xy", x.T @ y)
        if self.debiased:  # row-norm terms: a_i = ||x_i - mean||^2 expands in these sums
            p, q = (x * x).sum(1), (y * y).sum(1)
            for key, val in (("psum", p.sum()), ("qsum", q.sum()), ("pq", p @ q), ("pp", p @ p),
                             ("qq", q @ q), ("p_x", p @ x), ("p_y", p @ y), ("q_x", q @ x), ("q_y", q @ y)):
                self._add(key, val)

    def _update_minibatch(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if self._shift is None:
            self._shift = ()
            self._dims = (x.shape[1], y.shape[1])

        xc, yc = x - x.mean(0, keepdim=True), y - y.mean(0, keepdim=True)
        gx, gy = GramStats(xc @ xc.T, True, True), GramStats(yc @ yc.T, True, True)
        m = x.shape[0]
        scale = 1.0 / (m * (m - 3.0))  # HSIC_1's normalisation matters when batch sizes differ
        self._add("kl", gx.hsic(gy) * scale)
        self._add("kk", gx.hsic(gx) * scale)
        self._add("ll", gy.hsic(gy) * scale)

    def compute(self) -> float:
        if self.n == 0:
            raise ValueError("StreamingCKA.compute() called before any update(); feed batches first")
        s = self._s
        if self.estimator == "minibatch":
            return cka_from_hsic(s["kl"], s["kk"], s["ll"])
        n = self.n
        if n < (4 if self.debiased else 2):
            raise ValueError(f"only {n} stimuli seen; linear CKA needs at least {4 if self.debiased else 2}")
        mx, my = s["sx"] / n, s["sy"] / n
        cxx = s["xx"] - n * torch.outer(mx, mx)
        cyy = s["yy"] - n * torch.outer(my, my)
        cxy = s["xy"] - n * torch.outer(mx, my)
        hxy, hxx, hyy = (cxy**2).sum(), (cxx**2).sum(), (cyy**2).sum()
        if float(torch.trace(cxx)) <= 0 or float(torch.trace(cyy)) <= 0:
            raise ValueError("X or Y is constant across the stimuli seen; CKA is undefined")
        if not self.debiased:
            return cka_from_hsic(hxy, hxx, hyy)
        sx, sy, Sxy = s["sx"], s["sy"], s["xy"]
        sum_a = s["psum"] - 2 * (sx @ mx) + n * (mx @ mx)
        sum_b = s["qsum"] - 2 * (sy @ my) + n * (my @ my)
        ab = _sum_ab(s["pq"], s["p_y"], s["q_x"], Sxy, sx, sy, s["psum"], s["qsum"], mx, my, n)
        aa = _sum_ab(s["pp"], s["p_x"], s["p_x"], s["xx"], sx, sx, s["psum"], s["psum"], mx, mx, n)
        bb = _sum_ab(s["qq"], s["q_y"], s["q_y"], s["yy"], sy, sy, s["qsum"], s["qsum"], my, my, n)
        return cka_from_hsic(_debiased(hxy, ab, sum_a, sum_b, n), _debiased(hxx, aa, sum_a, sum_a, n),
                             _debiased(hyy, bb, sum_b, sum_b, n))


def _scaled(t: torch.Tensor, shift: int) -> torch.Tensor:
    """t × 2^shift (exact); every streamed measure is scale invariant, so the first batch fixes one power of two
    per side (``pow2_shift``) that keeps the accumulated products of extreme-scale data inside float64."""
    return times_pow2(t, shift) if shift else t


def _debiased(cross, sum_ab, sum_a, sum_b, n):
    """Song et al.'s HSIC_1 × n(n-3) from tr(KL), sum_i a_i b_i and the row-norm totals (see cka.py)."""
    return cross - n / (n - 2.0) * sum_ab + sum_a * sum_b / ((n - 1.0) * (n - 2.0))


def _sum_ab(pq, p_y, q_x, Sxy, sx, sy, psum, qsum, mx, my, n):
    """sum_i a_i b_i for a_i = ||x_i - mx||^2, b_i = ||y_i - my||^2 from streamed sums over shifted rows:
    p_i = ||x_i||^2, q_i = ||y_i||^2, pq = sum p q, p_y = sum p_i y_i, q_x = sum q_i x_i, Sxy = X^T Y."""
    Mx, My = mx @ mx, my @ my
    return (pq - 2 * (p_y @ my) + My * psum - 2 * (q_x @ mx) + 4 * (mx @ Sxy @ my)
            - 2 * My * (sx @ mx) + Mx * qsum - 2 * Mx * (sy @ my) + n * Mx * My)


# ------------------------------------------------------------------------------------------------ helpers


class _Shifted:
    """Shared bookkeeping: float64 batches shifted by the first batch's column means (every measure below is
    translation invariant, and the shift keeps the uncentred sums small), widths checked across batches."""

    def reset(self) -> None:
        self.n = 0
        self._shift: tuple[torch.Tensor, torch.Tensor] | None = None
        self._dims: tuple[int, int] | None = None
        self._pow2: tuple[int, int] | None = None

    def _prepare(self, X, Y, min_rows: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = check_pair(X, Y, min_rows=min_rows)
        x, y = x.double(), y.double()
        self._pow2 = self._pow2 or (pow2_shift(x, "X"), pow2_shift(y, "Y"))
        x, y = _scaled(x, self._pow2[0]), _scaled(y, self._pow2[1])
        dims = (x.shape[1], y.shape[1])
        if self._shift is None:
            self._shift = (x.mean(0, keepdim=True), y.mean(0, keepdim=True))
            self._dims = dims
        elif dims != self._dims:
            raise ValueError(f"batch widths {dims} differ from the first batch's {self._dims}")
        if x.device != self._shift[0].device:
            raise ValueError(f"batch on {x.device} but earlier batches were on {self._shift[0].device}; keep "
                             "every batch on one device")
        return x - self._shift[0], y - self._shift[1]


def _eig_desc(C: torch.Tensor, rank_tol: float | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and eigenvectors of a symmetric PSD matrix, keeping those above the rank
    tolerance: lambda > rank_tol × lambda_max, rank_tol = max(n, d) × eps by default (the in-memory SVD's
    relative tolerance on singular values, applied to their squares: covariance eigenvalues below it are
    rounding noise)."""
    lam, V = torch.linalg.eigh((C + C.T) / 2)
    lam, V = lam.flip(0), V.flip(1)
    tol = rank_tol if rank_tol is not None else max(n, C.shape[0]) * torch.finfo(C.dtype).eps
    keep = lam > tol * lam[0].clamp(min=0)
    r = int(keep.sum())
    return lam[:r], V[:, :r]


# --------------------------------------------------------------------------------------------------- CCA


class StreamingCCA(_Shifted):
    """Canonical correlations accumulated batch by batch: ``update(Xb, Yb)`` (rows = the same stimuli), then
    ``cca()``, ``svcca(keep=0.99)``, ``pwcca()``, ``procrustes()`` or the correlations from ``compute()``.

    Keeps n, sum x, sum y and X^T X, Y^T Y, X^T Y of rows shifted by the first batch's means, in float64:
    O((d1 + d2)^2) memory whatever n.  The centred covariances follow exactly; each side is whitened with the
    eigendecomposition of its covariance, keeping eigenvalues above ``rank_tol`` × the largest (default
    max(n, d) × eps), and the canonical correlations are the singular values of
    Lx^-1/2 Vx^T Cxy Vy Ly^-1/2.  SVCCA keeps each covariance's top eigen-directions explaining ``keep`` of
    its variance (the same rule as ``unireps.metrics.svcca``).  Agrees with the in-memory measures to ~1e-8
    when the covariances are well conditioned; whitening a covariance squares the condition number of the
    data, so for nearly collinear features (condition number near 1e8) the in-memory SVD route is more
    accurate.
    """

    def __init__(self, rank_tol: float | None = None):
        self.rank_tol = rank_tol
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._s: dict[str, torch.Tensor] = {}
        self._cache: dict = {}

    def update(self, X, Y) -> StreamingCCA:
        x, y = self._prepare(X, Y)
        for key, val in (("sx", x.sum(0)), ("sy", y.sum(0)), ("xx", x.T @ x), ("yy", y.T @ y), ("xy", x.T @ y)):
            self._s[key] = self._s[key] + val if key in self._s else val
        self.n += x.shape[0]
        self._cache = {}
        return self

    def covariances(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Centred scatter matrices (Xc^T Xc, Yc^T Yc, Xc^T Yc), float64, not divided by n."""
        if "cov" not in self._cache:
            self._cache["cov"] = self._covariances()
        return self._cache["cov"]

    def _covariances(self):
        if self.n < 3:
            raise ValueError(f"only {self.n} stimuli seen; CCA needs at least 3 (feed batches with update())")
        s, n = self._s, self.n
        mx, my = s["sx"] / n, s["sy"] / n
        cxx = s["xx"] - n * torch.outer(mx, mx)
        cyy = s["yy"] - n * torch.outer(my, my)
        cxy = s["xy"] - n * torch.outer(mx, my)
        for c, name in ((cxx, "X"), (cyy, "Y")):
            if not bool(torch.isfinite(c).all()):
                raise ValueError(f"{name}'s covariance is not finite (values too large); rescale the features")
            if not float(torch.trace(c)) > 0:
                raise ValueError(f"{name} is constant across stimuli (zero variance after centering); the "
                                 "measure is undefined")
        return cxx, cyy, cxy

    def _side(self, C: torch.Tensor, keep, name: str):
        if ("eig", name) not in self._cache:  # one eigendecomposition per side serves every measure
            self._cache[("eig", name)] = _eig_desc(C, self.rank_tol, self.n)
        lam, V = self._cache[("eig", name)]
        if lam.numel() == 0:
            raise ValueError(f"{name} has rank 0 after centering")
        V = _truncate(V, lam.sqrt(), keep, name)
        r = V.shape[1]
        _check_not_degenerate(r, self.n, name)
        return V / lam[:r].sqrt()  # columns: whitening directions (Xc V L^-1/2 is orthonormal)

    def _solve(self, keep_x=None, keep_y=None):
        cxx, cyy, cxy = self.covariances()
        Kx, Ky = self._side(cxx, keep_x, "X"), self._side(cyy, keep_y, "Y")
        P, rho, Rh = torch.linalg.svd(Kx.T @ cxy @ Ky, full_matrices=False)
        return rho.clamp(0.0, 1.0), Kx, P, Ky, Rh.T, cxx, cyy

    def compute(self, keep_x: float | int | None = None, keep_y: float | int | None = None) -> torch.Tensor:
        """Canonical correlations, descending (float64, on the data's device); ``keep_*`` as in svcca."""
        return self._solve(keep_x, keep_y)[0]

    def cca(self) -> float:
        """Mean canonical correlation (``unireps.metrics.cca`` on all rows seen)."""
        return float(self.compute().mean())

    def svcca(self, keep: float | int = 0.99) -> float:
        """SVCCA with each side reduced to the directions explaining ``keep`` of its variance (or ``keep``
        directions when an int), as ``unireps.metrics.svcca``."""
        return float(self.compute(keep, keep).mean())

    def pwcca(self) -> float:
        """Projection-weighted CCA as ``unireps.metrics.pwcca``: alpha_i ∝ sum_j |<h_i, z_j>| on the side with
        fewer neurons (X on a tie); <h_i, z_j> = (P^T K^T C)_ij needs only that side's covariance C."""
        rho, Kx, Px, Ky, Py, cxx, cyy = self._solve()
        H = (Kx @ Px).T @ cxx if self._dims[0] <= self._dims[1] else (Ky @ Py).T @ cyy
        m = rho.shape[0]
        alpha = H[:m].abs().sum(dim=1)
        alpha = alpha / alpha.sum()
        return float((alpha * rho).sum())

    def procrustes(self) -> float:
        """Orthogonal Procrustes similarity ||Xc^T Yc||_* / (||Xc||_F ||Yc||_F), as ``unireps.metrics.procrustes``."""
        cxx, cyy, cxy = self.covariances()
        s = torch.linalg.svdvals(cxy).sum() / torch.sqrt(torch.trace(cxx) * torch.trace(cyy))
        return float(min(float(s), 1.0))


# ----------------------------------------------------------------------------------------- predictability

_M32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer finaliser on int64 tensors holding values in [0, 2^32) (products stay below 2^59)."""
    x = ((x >> 16) ^ x) * 0x45D9F3B & _M32
    x = ((x >> 16) ^ x) * 0x45D9F3B & _M32
    return (x >> 16) ^ x


def fold_ids(rows: torch.Tensor, cv: int, seed: int = 0) -> torch.Tensor:
    """Fold (0 .. cv-1) of each global row index: a seeded integer hash of the index, modulo cv.

    Depends only on (row index, seed, cv), so any batching, sharding or ordering of the stream gives every
    row the same fold; folds are balanced only in expectation (multinomial sizes).
    """
    rows = torch.as_tensor(rows).to(torch.int64)
    salt = (int(seed) * 0x9E3779B1 + 0x7F4A7C15) & _M32
    h = _mix32((rows & _M32) ^ salt)
    h = _mix32(h ^ ((rows >> 32) & _M32))
    return h % int(cv)


class StreamingPredictability(_Shifted):
    """Cross-validated ridge R^2 of predicting Y from X, from streamed per-fold sufficient statistics.

    ``update(Xb, Yb, start=None)``: rows ``start .. start + len(Xb) - 1`` of the data set (default: right after
    the rows seen so far).  Each row goes to fold ``fold_ids(row, cv, seed)`` and, per fold, n, sum x, sum y,
    X^T X, X^T Y and sum ||y||^2 are accumulated (float64, rows shifted by the first batch's means).
    ``compute()``: for each fold the training statistics are the totals minus the fold's; the ridge map with
    intercept and its alpha are chosen by generalised cross-validation exactly as ``linear_predictability``
    does (alphas lambda_max × 10^[-8 .. 2]), with the training SVD replaced by the eigendecomposition of the
    training covariance (eigenvalues below max(n, d) × eps × the largest dropped); the fold's test SSE comes
    from its own statistics.  Returns the pooled out-of-fold R^2 = 1 - sum SSE / sum ||y - mean y||^2.

    The folds differ from ``linear_predictability``'s (a ``torch.randperm`` permutation split into equal
    parts), so the two values agree only statistically; with the same fold assignment they agree to ~1e-10.
    Only the trace of Y^T Y is kept (it is all that the SSE and the total sum of squares need).
    """

    def __init__(self, cv: int = 5, seed: int = 0):
        if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
            raise ValueError(f"cv must be an integer >= 2 (number of folds), got {cv!r}")
        self.cv, self.seed = cv, int(seed)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._f: dict[str, torch.Tensor] = {}

    def update(self, X, Y, start: int | None = None) -> StreamingPredictability:
        x, y = self._prepare(X, Y)
        m = x.shape[0]
        first = self.n if start is None else int(start)
        # folds depend on row indices only: computed on the host, so the device never syncs for the counts
        fold = fold_ids(torch.arange(first, first + m), self.cv, self.seed)
        order = torch.argsort(fold, stable=True).to(x.device)
        counts = torch.bincount(fold, minlength=self.cv).tolist()
        xs, ys = x[order], y[order]
        parts = []
        s = 0
        for c in counts:
            xf, yf = xs[s:s + c], ys[s:s + c]
            parts.append((xf.T @ xf, xf.T @ yf, xf.sum(0), yf.sum(0), (yf * yf).sum()))
            s += c
        stats = {key: torch.stack([p[i] for p in parts]) for i, key in enumerate(("xx", "xy", "sx", "sy", "yy"))}
        stats["n"] = torch.tensor(counts, dtype=torch.float64, device=x.device)
        for key, val in stats.items():
            self._f[key] = self._f[key] + val if key in self._f else val
        self.n += m
        return self

    def compute(self) -> float:
        if self.n == 0:
            raise ValueError("StreamingPredictability.compute() called before any update(); feed batches first")
        if self.n < 2 * self.cv:
            raise ValueError(f"{self.cv}-fold cross-validation needs at least {2 * self.cv} stimuli, got {self.n}")
        f = self._f
        tot = {k: v.sum(0) for k, v in f.items()}
        N = float(tot["n"])
        sst = tot["yy"] - tot["sy"] @ tot["sy"] / N
        if not float(sst) > 0:
            raise ValueError("Y is constant across stimuli (zero variance); R^2 is undefined")
        cxx_all = tot["xx"] - torch.outer(tot["sx"], tot["sx"]) / N
        if not float(torch.trace(cxx_all)) > 0:
            raise ValueError("X is constant across stimuli (zero variance); nothing can be predicted from it")
        sse = torch.zeros((), dtype=torch.float64, device=sst.device)
        for k in range(self.cv):
            nk = float(f["n"][k])
            if nk == 0:
                continue  # no test rows in this fold
            nt = N - nk
            if nt < 2:
                raise ValueError("a training fold has fewer than 2 stimuli; use more stimuli or fewer folds")
            mx = (tot["sx"] - f["sx"][k]) / nt
            my = (tot["sy"] - f["sy"][k]) / nt
            cxx = tot["xx"] - f["xx"][k] - nt * torch.outer(mx, mx)
            cxy = tot["xy"] - f["xy"][k] - nt * torch.outer(mx, my)
            yy = tot["yy"] - f["yy"][k] - nt * (my @ my)
            W = _gcv_ridge(cxx, cxy, yy, nt)
            # test rows a = x - mx, b = y - my: SSE = sum ||b||^2 - 2 tr(W^T A^T B) + tr(W^T A^T A W)
            sxk, syk = f["sx"][k], f["sy"][k]
            saa = f["xx"][k] - torch.outer(sxk, mx) - torch.outer(mx, sxk) + nk * torch.outer(mx, mx)
            sab = f["xy"][k] - torch.outer(sxk, my) - torch.outer(mx, syk) + nk * torch.outer(mx, my)
            sbb = f["yy"][k] - 2.0 * (syk @ my) + nk * (my @ my)
            sse = sse + sbb - 2.0 * (W * sab).sum() + (W * (saa @ W)).sum()
        return float(1.0 - sse / sst)


def _gcv_ridge(cxx: torch.Tensor, cxy: torch.Tensor, yy: torch.Tensor, n: float) -> torch.Tensor:
    """Ridge map W = (Cxx + a I)^-1 Cxy with a chosen by GCV as in ``predictability._fit_ridge``.

    With Cxx = V L V^T (L = s^2 of the centred training data) the squared projections of Yc on the left
    singular vectors are c_i = ||v_i^T Cxy||^2 / l_i, and ||Yc outside their span||^2 = tr(Yc^T Yc) - sum c_i.
    """
    lam, V = _eig_desc(cxx, None, int(n))
    if lam.numel() == 0:
        raise ValueError("X is constant across the training stimuli of a fold")
    proj = V.T @ cxy  # rows: s_i × (u_i^T Yc)
    c = proj.pow(2).sum(dim=1) / lam
    rss_out = (yy - c.sum()).clamp(min=0)
    best, best_alpha = None, None
    for e in _ALPHA_EXPONENTS:
        alpha = lam[0] * 10.0 ** float(e)
        g = alpha / (lam + alpha)
        rss = (g * g * c).sum() + rss_out
        n_minus_dof = (n - 1.0 - lam.shape[0]) + g.sum()
        gcv = rss / max(float(n_minus_dof), 1e-12) ** 2
        if best is None or gcv < best:
            best, best_alpha = gcv, alpha
    return V @ (proj / (lam + best_alpha)[:, None])
