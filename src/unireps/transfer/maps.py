"""Maps between embedding spaces, scikit-learn style (fit on paired rows of one split, transform / score another).

``LinearMap(method)`` learns Y ≈ (X − μ_X) W + μ_Y from paired rows (the same stimuli embedded by two models):

* ``"lstsq"``: minimum-norm least squares (exact interpolation when there are fewer pairs than dimensions);
* ``"ridge"``: W = (XᵀX + λI)⁻¹ XᵀY on centred X, Y, with λ = ``alpha`` · tr(XᵀX) / d_X (``alpha`` is relative
  to the mean eigenvalue, so the map does not depend on the embeddings' scale); the dual form is used when
  there are fewer pairs than dimensions;
* ``"procrustes"``: scaled orthogonal Procrustes — both sides zero-padded to d = max(d_X, d_Y), W = s·Q with
  Q = U Vᵀ from the SVD of XᵀY and s = tr(Σ) / ‖X‖²_F (``scale=False``: s = 1); the d_X x d_Y block is kept.

``score(X, Y)`` is R² = 1 − ‖Y − Ŷ‖² / ‖Y − mean(Y)‖² pooled over all outputs.

``RelativeProjection`` is the relative representation of Moschella et al. (ICLR 2023): each embedding becomes
its cosine similarities to a set of anchor embeddings (same anchor stimuli in each space), after subtracting the
anchors' mean (``center=True``).  It is invariant to orthogonal maps and isotropic scaling of the space (and to
translation when centred), so two models' relative representations are comparable without any fitted map.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from ..literals import MapMethod

MAP_METHODS = ("lstsq", "ridge", "procrustes")


def as_matrix(X, name: str = "X") -> np.ndarray:
    """A finite float64 (n, d) array from numpy / torch / lists (ValueError/TypeError naming the problem)."""
    if isinstance(X, torch.Tensor):
        t = X.detach().cpu()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        X = t.numpy()
    a = np.asarray(X)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array of shape (n, d), got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {a.shape}; reshape "
                         "(e.g. X.reshape(len(X), -1)) first")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean or drop those rows first")
    return a


def check_paired(X, Y, names=("X", "Y")) -> tuple[np.ndarray, np.ndarray]:
    x, y = as_matrix(X, names[0]), as_matrix(Y, names[1])
    if len(x) != len(y):
        raise ValueError(f"{names[0]} has {len(x)} rows but {names[1]} has {len(y)}; rows must be the same stimuli "
                         "embedded by the two models (paired)")
    return x, y


def pad_to(X, d: int) -> np.ndarray:
    """Zero-pad (or truncate) the columns of X to width d."""
    x = as_matrix(X)
    if x.shape[1] >= d:
        return x[:, :d].copy()
    return np.hstack([x, np.zeros((len(x), d - x.shape[1]))])


def _check_fitted(est, attr: str, how: str) -> None:
    if not hasattr(est, attr):
        raise NotFittedError(f"this {type(est).__name__} is not fitted yet; call {how} first")


def _check_width(x: np.ndarray, expected: int, what: str) -> None:
    if x.shape[1] != expected:
        raise ValueError(f"{what} has {x.shape[1]} features but the map was fitted on {expected}; pass embeddings "
                         "from the same model (and layer) as in fit")


class LinearMap(TransformerMixin, BaseEstimator):
    """Linear map from embedding space X to embedding space Y: ``fit(X, Y)``, ``transform(X)``, ``score(X, Y)``.

    Attributes after fit: ``coef_`` (d_X, d_Y), ``intercept_`` (d_Y,), ``n_features_in_``, ``n_features_out_``.
    """

    def __init__(self, method: MapMethod = "ridge", alpha: float = 1e-3, center: bool = True, scale: bool = True):
        self.method = method
        self.alpha = alpha
        self.center = center
        self.scale = scale

    def _check_params(self) -> None:
        if self.method not in MAP_METHODS:
            raise ValueError(f"unknown method={self.method!r}; accepted values: "
                             f"{', '.join(repr(m) for m in MAP_METHODS)}")
        if (not isinstance(self.alpha, numbers.Real) or isinstance(self.alpha, bool) or not self.alpha >= 0
                or not np.isfinite(self.alpha)):
            raise ValueError(f"alpha must be a finite number >= 0 (relative ridge strength), got {self.alpha!r}")

    def fit(self, X, Y) -> LinearMap:
        self._check_params()
        x, y = check_paired(X, Y)
        if self.center and len(x) < 2:
            raise ValueError(f"fit needs at least 2 paired rows to estimate a centred map, got {len(x)}")
        mx = x.mean(0) if self.center else np.zeros(x.shape[1])
        my = y.mean(0) if self.center else np.zeros(y.shape[1])
        xc, yc = x - mx, y - my
        if not np.any(np.abs(xc) > 1e-12 * max(float(np.abs(x).max()), 1e-300)):
            raise ValueError("X is constant across the fitting rows (the same embedding for every stimulus), so no map "
                             "from it can be learned; check that the embeddings were extracted for different inputs")
        for a in ("rotation_", "scale_"):  # a refit with another method must not keep the previous fit's attributes
            self.__dict__.pop(a, None)
        n, dx = xc.shape
        dy = yc.shape[1]
        if self.method == "lstsq":
            W = np.linalg.lstsq(xc, yc, rcond=None)[0]
        elif self.method == "ridge":
            lam = float(self.alpha) * float((xc ** 2).sum()) / dx
            lam = max(lam, 1e-12)
            if n >= dx:
                W = np.linalg.solve(xc.T @ xc + lam * np.eye(dx), xc.T @ yc)
            else:
                W = xc.T @ np.linalg.solve(xc @ xc.T + lam * np.eye(n), yc)
        else:
            d = max(dx, dy)
            xp, yp = pad_to(xc, d), pad_to(yc, d)
            U, S, Vt = np.linalg.svd(xp.T @ yp)
            Q = U @ Vt
            s = float(S.sum() / max((xp ** 2).sum(), 1e-300)) if self.scale else 1.0
            W = s * Q[:dx, :dy]
            self.rotation_ = Q
            self.scale_ = s
        self.coef_ = W
        self.intercept_ = my - mx @ W
        self.n_features_in_, self.n_features_out_ = dx, dy
        return self

    def transform(self, X) -> np.ndarray:
        _check_fitted(self, "coef_", ".fit(X, Y) on paired embeddings")
        x = as_matrix(X)
        _check_width(x, self.n_features_in_, "X")
        return x @ self.coef_ + self.intercept_

    def score(self, X, Y) -> float:
        """R² of the mapped X against Y, pooled over outputs."""
        _check_fitted(self, "coef_", ".fit(X, Y) on paired embeddings")
        x, y = check_paired(X, Y)
        _check_width(y, self.n_features_out_, "Y")
        res = ((y - self.transform(x)) ** 2).sum()
        tot = ((y - y.mean(0)) ** 2).sum()
        if not tot > 0:
            raise ValueError("Y is constant across the scored rows, so R² is undefined; score on rows whose target "
                             "embeddings vary (at least 2 different stimuli)")
        return float(1.0 - res / tot)


def _unit_rows(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


class RelativeProjection(TransformerMixin, BaseEstimator):
    """Relative representation: ``fit(anchors)`` then ``transform(X)`` -> (n, k) cosines to the k anchors."""

    def __init__(self, center: bool = True):
        self.center = center

    def fit(self, anchors, y=None) -> RelativeProjection:
        a = as_matrix(anchors, "anchors")
        if len(a) < 2:
            raise ValueError(f"RelativeProjection needs at least 2 anchors, got {len(a)}")
        self.mean_ = a.mean(0) if self.center else np.zeros(a.shape[1])
        self.anchors_ = _unit_rows(a - self.mean_)
        self.n_features_in_ = a.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        _check_fitted(self, "anchors_", ".fit(anchors)")
        x = as_matrix(X)
        _check_width(x, self.n_features_in_, "X")
        return _unit_rows(x - self.mean_) @ self.anchors_.T


def relative_representation(X, anchors, center: bool = True) -> np.ndarray:
    """Cosine similarities of X's rows to the anchors (anchor mean subtracted first when ``center``)."""
    return RelativeProjection(center=center).fit(anchors).transform(X)
