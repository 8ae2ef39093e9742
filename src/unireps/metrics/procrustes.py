"""Orthogonal Procrustes / normalised Bures similarity and the Procrustes shape distances.

With column-centred, Frobenius-normalised X~ = Xc / ||Xc||_F and Y~ (Williams et al., NeurIPS 2021, "Generalized
shape metrics"; Ding et al. 2021):

    procrustes(X, Y) = max_Q tr(Q^T X~^T Y~) = ||X~^T Y~||_*  (nuclear norm, Q orthogonal, widths zero-padded)

a similarity in [0, 1] equal to the normalised Bures similarity of the linear Gram matrices.  Distances:
``angular`` = arccos(similarity) (netrep's LinearMetric(alpha=1), score_method="angular"), ``euclidean`` =
min_Q ||X~ - Y~ Q||_F = sqrt(2 - 2 similarity).  Invariant to orthogonal maps, isotropic scaling and
translation; symmetric.
"""

from __future__ import annotations

import math

import torch

from ._validate import acc_dtype, center, check_choice, check_pair, warn_if_chance_high

DISTANCE_KINDS = ("angular", "euclidean")


def reduce_columns(x: torch.Tensor) -> torch.Tensor:
    """A matrix with the same row Gram x x^T and at most n columns (U S of the thin SVD when d > n)."""
    n, d = x.shape
    if d <= n:
        return x
    U, s, _ = torch.linalg.svd(x, full_matrices=False)
    return U * s


def _warn_if_filled(x: torch.Tensor, y: torch.Tensor) -> None:
    """UninformativeWarning when unit-norm centred x and y both fill most of the n - 1 centred directions:
    the linear-CKA chance level sqrt(PR_x PR_y) / (n - 1) (participation ratios PR = 1 / ||x^T x||_F^2 here),
    where unrelated representations also reach a Procrustes similarity near 1."""
    n = x.shape[0]
    pr_x = 1.0 / float(torch.linalg.vector_norm(x.T @ x, dtype=acc_dtype(x))) ** 2
    pr_y = 1.0 / float(torch.linalg.vector_norm(y.T @ y, dtype=acc_dtype(y))) ** 2
    warn_if_chance_high("procrustes", (pr_x * pr_y) ** 0.5 / max(n - 1, 1), "linear-CKA level",
                        f"n={n} stimuli, participation ratios {pr_x:.3g} and {pr_y:.3g} of at most n-1={n - 1}; "
                        "unrelated representations then reach a Procrustes similarity near 1 too")


def nuclear_similarity(x: torch.Tensor, y: torch.Tensor) -> float:
    """||X~^T Y~||_* for centred x, y; normalised here."""
    x = x / torch.linalg.vector_norm(x, dtype=acc_dtype(x)).to(x.dtype)
    y = y / torch.linalg.vector_norm(y, dtype=acc_dtype(y)).to(y.dtype)
    x, y = reduce_columns(x), reduce_columns(y)
    _warn_if_filled(x, y)
    s = torch.linalg.svdvals(x.T @ y)
    return float(min(s.sum(dtype=acc_dtype(s)), 1.0))


def procrustes(X, Y) -> float:
    """Orthogonal Procrustes similarity ||X~^T Y~||_* in [0, 1] (centred, Frobenius-normalised X~, Y~).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import procrustes
    >>> round(procrustes(X, 2 * X @ Q), 6)
    1.0
    """
    x, y = check_pair(X, Y, rescale=True)
    return nuclear_similarity(center(x, "X"), center(y, "Y"))


def procrustes_distance(X, Y, kind: str = "angular") -> float:
    """Procrustes shape distance: ``angular`` arccos(sim) in [0, pi/2]; ``euclidean`` sqrt(2 - 2 sim) in
    [0, sqrt 2]. Distances (0 = identical up to rotation, scale and translation); both are metrics.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import procrustes_distance
    >>> round(procrustes_distance(X, 2 * X @ Q), 6)
    0.0
    """
    check_choice("kind", kind, DISTANCE_KINDS)
    sim = procrustes(X, Y)
    if kind == "angular":
        return float(math.acos(max(-1.0, min(1.0, sim))))
    return float(math.sqrt(max(0.0, 2.0 - 2.0 * sim)))
