"""Canonical correlation analysis and its descendants.

* ``cca``    mean canonical correlation (Hotelling 1936) of column-centred X, Y: the singular values of
             Q_X^T Q_Y, Q an orthonormal basis of each column space, averaged over the min(rank X, rank Y)
             pairs (np.mean of ``cca_coef1`` from Google's SVCCA code ``get_cca_similarity``, epsilon = 0,
             as its tutorials report; its ``return_dict["mean"]`` drops trailing coefficients).
* ``svcca``  Raghu et al., NeurIPS 2017: per representation keep the top singular directions explaining a
             fraction ``keep`` of the variance (sum of squared singular values of the centred data; the
             smallest number reaching it), then mean CCA.  An integer ``keep`` keeps that many directions.
* ``pwcca``  Morcos, Raghu & Bengio, NeurIPS 2018: sum_i alpha_i rho_i with alpha_i proportional to
             sum_j |<h_i, z_j>|, h_i the unit-norm canonical variates and z_j the centred neurons of the
             representation with fewer neurons (X on a tie), as Google's ``compute_pwcca`` chooses.  The weights
             use the canonical variates of the paper; Google's code projects on u^T (acts - mean) without the
             whitening, which differs slightly (e.g. 0.8905 vs 0.8880 on a test case; equal when the
             weighting side is already white).

All are similarities in [0, 1] and invariant to invertible linear maps (cca, pwcca) and translation.
CCA is degenerate when a representation spans nearly all n-1 centred directions: every correlation is
then 1 whatever the data.  That is refused with advice (reduce with ``svcca`` or use more stimuli).
"""

from __future__ import annotations

import torch

from ._validate import center, check_pair, warn_if_chance_high


def _basis(xc: torch.Tensor, name: str):
    """Left singular vectors (orthonormal basis of the centred column space), singular values, right vectors."""
    U, s, Vh = torch.linalg.svd(xc, full_matrices=False)
    tol = s[0] * max(xc.shape) * torch.finfo(s.dtype).eps
    r = int((s > tol).sum())
    if r == 0:
        raise ValueError(f"{name} has rank 0 after centering")
    return U[:, :r], s[:r], Vh[:r]


def _check_not_degenerate(r: int, n: int, name: str):
    if r >= n - 1:
        raise ValueError(f"{name} has rank {r} with only n={n} stimuli: after centering it spans all n-1 "
                         "directions, so CCA finds perfect correlations whatever the data. Use more stimuli "
                         "than features, or reduce dimensions first (svcca(X, Y, keep=0.99))")


def warn_chance_cca(rx: int, ry: int, n: int) -> None:
    """UninformativeWarning when the mean squared canonical correlation of unrelated data is high: for
    random subspaces of ranks rx, ry among the n - 1 centred directions, E[sum rho_i^2] = rx ry / (n - 1),
    so the mean over min(rx, ry) pairs is max(rx, ry) / (n - 1)."""
    warn_if_chance_high("CCA", max(rx, ry) / (n - 1.0), "mean squared canonical correlation",
                        f"ranks {rx} and {ry} with n={n} stimuli")


def canonical_correlations(X, Y, keep_x: float | int | None = None, keep_y: float | int | None = None):
    """Canonical correlations (descending) and what pwcca needs: returns (rho, Qx, Px, Qy, Py, xc, yc)."""
    x, y = check_pair(X, Y, min_rows=3, rescale=True)
    xc, yc = center(x, "X"), center(y, "Y")
    n = x.shape[0]
    Ux, sx, _ = _basis(xc, "X")
    Uy, sy, _ = _basis(yc, "Y")
    Ux, Uy = _truncate(Ux, sx, keep_x, "X"), _truncate(Uy, sy, keep_y, "Y")
    _check_not_degenerate(Ux.shape[1], n, "X")
    _check_not_degenerate(Uy.shape[1], n, "Y")
    warn_chance_cca(Ux.shape[1], Uy.shape[1], n)
    P, rho, Rh = torch.linalg.svd(Ux.T @ Uy, full_matrices=False)
    return rho.clamp(0.0, 1.0), Ux, P, Uy, Rh.T, xc, yc


def _truncate(U: torch.Tensor, s: torch.Tensor, keep, name: str) -> torch.Tensor:
    if keep is None:
        return U
    if isinstance(keep, bool) or not isinstance(keep, (int, float)):
        raise TypeError(f"keep must be a variance fraction in (0, 1] or a number of directions, got {keep!r}")
    if isinstance(keep, int):
        if keep < 1:
            raise ValueError(f"keep={keep} directions: must be at least 1")
        return U[:, : min(keep, U.shape[1])]
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep={keep}: a variance fraction must be in (0, 1]")
    var = s.double() ** 2
    frac = torch.cumsum(var, 0) / var.sum()
    r = int(torch.searchsorted(frac, torch.tensor(keep - 1e-12, dtype=frac.dtype, device=frac.device))) + 1
    return U[:, : min(r, U.shape[1])]


def cca(X, Y) -> float:
    """Mean canonical correlation between X (n, d1) and Y (n, d2): (1/m) sum_i rho_i, m = min(ranks).

    Similarity in [0, 1], invariant to any invertible linear map and translation of either side.
    Needs clearly more stimuli than features (see the module docstring).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import cca
    >>> A = rng.standard_normal((8, 8))  # an invertible linear map
    >>> round(cca(X, X @ A), 6)
    1.0
    """
    rho = canonical_correlations(X, Y)[0]
    return float(rho.double().mean())


def svcca(X, Y, keep: float | int = 0.99) -> float:
    """SVCCA (Raghu et al. 2017): SVD-reduce each side to the directions explaining ``keep`` of its variance
    (or to ``keep`` directions if an int), then the mean canonical correlation. Similarity in [0, 1].

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import svcca
    >>> round(svcca(X, X @ Q), 6)
    1.0
    """
    rho = canonical_correlations(X, Y, keep_x=keep, keep_y=keep)[0]
    return float(rho.double().mean())


def pwcca(X, Y) -> float:
    """Projection-weighted CCA (Morcos et al. 2018): sum_i alpha_i rho_i, alpha_i ∝ sum_j |<h_i, z_j>|.

    h_i: canonical variates (unit norm, over stimuli) of the side with fewer neurons (X on a tie), z_j: that
    side's centred neurons. Similarity in [0, 1]; not symmetric when widths are equal.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import pwcca
    >>> round(pwcca(X, 2 * X @ Q), 6)
    1.0
    """
    rho, Qx, Px, Qy, Py, xc, yc = canonical_correlations(X, Y)
    if xc.shape[1] <= yc.shape[1]:
        H, Z = Qx @ Px, xc
    else:
        H, Z = Qy @ Py, yc
    m = rho.shape[0]
    alpha = (H[:, :m].T @ Z).abs().sum(dim=1, dtype=torch.float64)
    alpha = alpha / alpha.sum()
    return float((alpha * rho.double()).sum())
