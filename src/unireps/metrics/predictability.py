"""Linear predictability and paired cosine.

``linear_predictability(X, Y)``: cross-validated ridge R^2 of predicting Y from X, asymmetric.  K shuffled
folds (seeded); in each, an intercept and a ridge map W = (Xc^T Xc + a I)^-1 Xc^T Yc are fit on the training
fold, with a chosen per fold by generalised cross-validation (Golub, Heath & Wahba 1979) over
a = s_max^2 × 10^[-8, -7, ..., 2] (scale-free).  The score is the pooled out-of-fold
R^2 = 1 - sum ||Y - Y_hat||^2 / sum ||Y - mean(Y)||^2 over all stimuli and outputs (variance-weighted).
Similarity, at most 1 (can be negative for useless predictors).  Invariant to invertible linear maps of X
up to the ridge penalty, and to translation and isotropic scaling of either side.
"""

from __future__ import annotations

import torch

from ._validate import acc_dtype, check_pair, relative_floor, rows_pow2

_ALPHA_EXPONENTS = torch.arange(-8, 3, dtype=torch.float64)


def _fit_ridge(x: torch.Tensor, y: torch.Tensor):
    """Ridge with intercept, alpha by GCV; returns (W, x_mean, y_mean)."""
    mx, my = x.mean(0, keepdim=True), y.mean(0, keepdim=True)
    xc, yc = x - mx, y - my
    U, s, Vh = torch.linalg.svd(xc, full_matrices=False)
    n = x.shape[0]
    proj = U.T @ yc
    c = proj.pow(2).sum(dim=1)  # squared projections of Y on each left singular vector
    # RSS = sum_i (1 - f_i)^2 c_i + ||Y outside span(U)||^2 and n - dof = (n - 1 - k) + sum_i (1 - f_i), with
    # 1 - f_i = alpha / (s_i^2 + alpha): no subtraction of nearly equal numbers (y2 - sum (2f - f^2) c lost every
    # digit at the smallest alphas when d >= n, where the fit nearly interpolates, and misled the GCV choice)
    rss_out = (yc - U @ proj).pow(2).sum()
    s2 = s.pow(2)
    best, best_alpha = None, None
    for e in _ALPHA_EXPONENTS:
        alpha = s2[0] * 10.0 ** float(e)
        g = alpha / (s2 + alpha)  # 1 - f
        rss = (g * g * c).sum() + rss_out
        n_minus_dof = (n - 1.0 - s.shape[0]) + g.sum()  # n - (sum f + 1 for the intercept)
        gcv = rss / max(float(n_minus_dof), 1e-12) ** 2
        if best is None or gcv < best:
            best, best_alpha = gcv, alpha
    W = Vh.T @ ((s / (s2 + best_alpha))[:, None] * (U.T @ yc))
    return W, mx, my


def _at_rounding_level(t: torch.Tensor, centred_sq: torch.Tensor) -> bool:
    """True when the variation of t around its column means is zero or rounding noise of its dtype."""
    floor = relative_floor(t.dtype) * float(torch.linalg.vector_norm(t))
    return not float(centred_sq) ** 0.5 > floor or float(centred_sq) == 0.0


def linear_predictability(X, Y, cv: int = 5, seed: int = 0) -> float:
    """Cross-validated ridge R^2 of predicting Y (n, d2) from X (n, d1); see the module docstring.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import linear_predictability
    >>> round(linear_predictability(X, X @ Q), 3)
    1.0
    """
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise ValueError(f"cv must be an integer >= 2 (number of folds), got {cv!r}")
    x, y = check_pair(X, Y, rescale=True)
    n = x.shape[0]
    if n < 2 * cv:
        raise ValueError(f"{cv}-fold cross-validation needs at least {2 * cv} stimuli, got {n}; lower cv")
    x, y = x.to(acc_dtype(x)), y.to(acc_dtype(y))
    sst = (y - y.mean(0, keepdim=True)).pow(2).sum()
    if _at_rounding_level(y, sst):
        raise ValueError("Y is constant across stimuli (zero variance); R^2 is undefined")
    if _at_rounding_level(x, (x - x.mean(0, keepdim=True)).pow(2).sum()):
        raise ValueError("X is constant across stimuli (zero variance); nothing can be predicted from it")
    g = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n, generator=g).to(x.device)
    sse = torch.zeros((), dtype=x.dtype, device=x.device)
    for test in torch.tensor_split(perm, cv):
        train = torch.ones(n, dtype=torch.bool, device=x.device)
        train[test] = False
        W, mx, my = _fit_ridge(x[train], y[train])
        pred = (x[test] - mx) @ W + my
        sse = sse + (y[test] - pred).pow(2).sum()
    return float(1.0 - sse / sst)


def paired_cosine(X, Y) -> float:
    """Mean cosine similarity between matched rows, (1/n) sum_i <x_i, y_i> / (||x_i|| ||y_i||).

    Needs equal widths (the same embedding space). Similarity in [-1, 1]; not centred.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import paired_cosine
    >>> round(paired_cosine(X, 2 * X), 6)
    1.0
    """
    x, y = check_pair(X, Y, min_rows=1, same_dims=True)
    x, y = rows_pow2(x), rows_pow2(y)  # each cosine is per-row scale free: norms can then not overflow
    nx = torch.linalg.vector_norm(x, dim=1, dtype=acc_dtype(x))
    ny = torch.linalg.vector_norm(y, dim=1, dtype=acc_dtype(y))
    if bool((nx == 0).any() | (ny == 0).any()):
        raise ValueError("some rows of X or Y are all zeros; their cosine is undefined. Drop those stimuli")
    dots = (x.to(nx.dtype) * y.to(ny.dtype)).sum(dim=1)
    return float((dots / (nx * ny)).mean())
