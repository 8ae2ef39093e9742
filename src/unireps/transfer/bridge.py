"""Bridges between a frozen image tower and a frozen text tower: a shared image-text space fit on paired anchors.

Both bridges learn from n paired rows (image features ``X`` (n, d_X), text features ``Y`` (n, d_Y) of the same
captioned images) and expose ``fit(X, Y)``, ``transform(X)`` (images into the joint space), ``transform_text(Y)``
(texts into the joint space), ``retrieval(X, Y)`` and ``score(X, Y)`` (image→text R@1 on paired held-out rows).

* :class:`LinearBridge` (latent space translation, Maiorca et al., NeurIPS 2023): each side is centred on its
  anchors' mean and scaled to unit root-mean-square row norm, then a :class:`~unireps.transfer.LinearMap`
  (``procrustes``: X̃ ≈ s·X̃ Q with Q orthogonal, ``ridge``, ``lstsq``) takes images into the text space;
  ``relative`` (relative representations, Moschella et al., ICLR 2023) fits no map: each side becomes its cosine
  similarities to its own k anchors, centred, and the two k-vectors are compared directly.
* :class:`ContrastiveHeads` (LiT, Zhai et al., CVPR 2022, with both towers locked): two linear heads W_x, W_y into
  a p-dimensional space trained with the symmetric InfoNCE loss of CLIP (Radford et al. 2021),
  L = ½ [CE(τ⁻¹ Z_x Z_yᵀ, I) + CE(τ⁻¹ Z_y Z_xᵀ, I)] on L2-normalised Z = norm(X̃ W), learnable temperature τ.

Retrieval is by cosine in the joint space: image i retrieves among the scored captions, a hit when its own
caption i is among the k best (ties count against, :func:`~unireps.transfer.retrieval_recall`). Chance is k / n.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator

from .maps import MAP_METHODS, LinearMap, RelativeProjection, as_matrix, check_paired
from .retrieval import retrieval_recall

BRIDGE_METHODS = (*MAP_METHODS, "relative")


def _check_fitted(est, attr: str) -> None:
    if not hasattr(est, attr):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"this {type(est).__name__} is not fitted yet; call .fit(X, Y) on paired image and text "
                             "features first")


def _check_width(a: np.ndarray, d: int, name: str) -> None:
    if a.shape[1] != d:
        raise ValueError(f"{name} has {a.shape[1]} features but the bridge was fit on {d}; use the same tower and "
                         "layer as in fit")


class _Standardiser:
    """Centre on the fitting rows' mean, divide by their root-mean-square row norm (scale-free, Maiorca et al.)."""

    def __init__(self, a: np.ndarray):
        self.mean = a.mean(0)
        c = a - self.mean
        self.scale = float(np.sqrt((c ** 2).sum(1).mean()))
        if not self.scale > 1e-12 * max(float(np.abs(a).max()), 1e-300):
            raise ValueError("the features are the same for every fitting row, so no bridge can be fit; check that "
                             "the features were extracted for different inputs")

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return (a - self.mean) / self.scale


class _JointSpace:
    """Scoring shared by the bridges: retrieval in the joint space."""

    def transform(self, X) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def transform_text(self, Y) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def retrieval(self, X, Y, ks=(1, 5)) -> dict[str, float]:
        """R@k image→text (``i2t_R@k``) and text→image (``t2i_R@k``) among the n paired rows; chance k / n."""
        x, y = check_paired(X, Y)
        if len(x) < 2:
            raise ValueError(f"retrieval needs at least 2 paired rows to choose among, got {len(x)}")
        zx, zy = self.transform(x), self.transform_text(y)
        i2t, t2i = retrieval_recall(zx, zy, ks), retrieval_recall(zy, zx, ks)
        return {**{f"i2t_{k}": v for k, v in i2t.items()}, **{f"t2i_{k}": v for k, v in t2i.items()}}

    def score(self, X, Y) -> float:
        """Image→text R@1 on paired rows (each image must retrieve its own caption among all n)."""
        return self.retrieval(X, Y, ks=(1,))["i2t_R@1"]


class LinearBridge(_JointSpace, BaseEstimator):
    """Image features → text space by a linear map fit on paired anchors, or relative representations.

    ``method``: ``"procrustes"`` (scaled orthogonal), ``"ridge"`` (``alpha`` relative to the mean eigenvalue),
    ``"lstsq"`` or ``"relative"`` (no map: cosines to the anchors on each side). Attributes after fit:
    ``n_anchors_``, ``map_`` (the :class:`~unireps.transfer.LinearMap`, None for ``relative``).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(40, 8)); Q = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    >>> bridge = LinearBridge("procrustes").fit(Y @ Q.T, Y)
    >>> round(bridge.score(Y @ Q.T, Y), 2)
    1.0
    """

    def __init__(self, method: str = "procrustes", alpha: float = 1.0):
        self.method = method
        self.alpha = alpha

    def fit(self, X, Y) -> LinearBridge:
        if self.method not in BRIDGE_METHODS:
            raise ValueError(f"unknown method={self.method!r}; accepted values: "
                             f"{', '.join(repr(m) for m in BRIDGE_METHODS)}")
        if (not isinstance(self.alpha, numbers.Real) or isinstance(self.alpha, bool) or not self.alpha >= 0
                or not np.isfinite(self.alpha)):
            raise ValueError(f"alpha must be a finite number >= 0, got {self.alpha!r}")
        x, y = check_paired(X, Y, ("X (image features)", "Y (text features)"))
        if len(x) < 2:
            raise ValueError(f"a bridge needs at least 2 paired anchors, got {len(x)}")
        self.x_std_, self.y_std_ = _Standardiser(x), _Standardiser(y)
        xs, ys = self.x_std_(x), self.y_std_(y)
        if self.method == "relative":
            self.map_ = None
            self.x_rel_ = RelativeProjection(center=False).fit(xs)
            self.y_rel_ = RelativeProjection(center=False).fit(ys)
        elif self.method == "procrustes":
            self.map_ = _procrustes(xs, ys)
        else:
            self.map_ = LinearMap(self.method, alpha=self.alpha, center=False).fit(xs, ys)
        self.n_anchors_ = len(x)
        self.n_features_in_, self.n_features_text_ = x.shape[1], y.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Images into the joint space: (n, d_Y) mapped features, or (n, n_anchors) for ``relative``."""
        _check_fitted(self, "n_anchors_")
        x = as_matrix(X, "X (image features)")
        _check_width(x, self.n_features_in_, "X (image features)")
        xs = self.x_std_(x)
        return self.x_rel_.transform(xs) if self.map_ is None else self.map_.transform(xs)

    def transform_text(self, Y) -> np.ndarray:
        """Texts into the joint space: standardised text features, or (n, n_anchors) for ``relative``."""
        _check_fitted(self, "n_anchors_")
        y = as_matrix(Y, "Y (text features)")
        _check_width(y, self.n_features_text_, "Y (text features)")
        ys = self.y_std_(y)
        return self.y_rel_.transform(ys) if self.map_ is None else ys

    def state(self) -> dict[str, np.ndarray]:
        """The fitted arrays, for saving (``np.savez``); :meth:`from_state` rebuilds the bridge from them."""
        _check_fitted(self, "n_anchors_")
        out = {"x_mean": self.x_std_.mean, "x_scale": np.array(self.x_std_.scale), "y_mean": self.y_std_.mean,
               "y_scale": np.array(self.y_std_.scale), "n_anchors": np.array(self.n_anchors_),
               "method": np.array(self.method), "alpha": np.array(float(self.alpha))}
        if self.map_ is None:
            out.update(x_anchors=self.x_rel_.anchors_, y_anchors=self.y_rel_.anchors_,
                       x_anchor_mean=self.x_rel_.mean_, y_anchor_mean=self.y_rel_.mean_)
        else:
            out.update(coef=self.map_.coef_, intercept=self.map_.intercept_)
        return out

    @classmethod
    def from_state(cls, state) -> LinearBridge:
        """The bridge saved by :meth:`state` (every array checked to be present and finite)."""
        need = {"x_mean", "x_scale", "y_mean", "y_scale", "n_anchors", "method", "alpha"}
        missing = need - set(state)
        if missing:
            raise ValueError(f"a saved bridge lacks {sorted(missing)}; delete the file and refit")
        self = cls(str(state["method"]), float(state["alpha"]))
        self.x_std_, self.y_std_ = object.__new__(_Standardiser), object.__new__(_Standardiser)
        for std, side in ((self.x_std_, "x"), (self.y_std_, "y")):
            std.mean, std.scale = np.asarray(state[f"{side}_mean"], float), float(state[f"{side}_scale"])
        if self.method == "relative":
            self.map_ = None
            for side in ("x", "y"):
                rel = RelativeProjection(center=False)
                rel.anchors_, rel.mean_ = np.asarray(state[f"{side}_anchors"]), np.asarray(state[f"{side}_anchor_mean"])
                rel.n_features_in_ = rel.anchors_.shape[1]
                setattr(self, f"{side}_rel_", rel)
        else:
            m = LinearMap(self.method, alpha=self.alpha, center=False)
            m.coef_, m.intercept_ = np.asarray(state["coef"], float), np.asarray(state["intercept"], float)
            m.n_features_in_, m.n_features_out_ = m.coef_.shape
            self.map_ = m
        self.n_anchors_ = int(state["n_anchors"])
        self.n_features_in_, self.n_features_text_ = len(self.x_std_.mean), len(self.y_std_.mean)
        for k, v in self.state().items():
            if np.asarray(v).dtype.kind == "f" and not np.isfinite(v).all():
                raise ValueError(f"a saved bridge has non-finite values in {k!r}; delete the file and refit")
        return self


def _procrustes(xs: np.ndarray, ys: np.ndarray) -> LinearMap:
    """Scaled orthogonal Procrustes (Schönemann 1966) as a fitted :class:`LinearMap`: W = s·U Vᵀ from the SVD
    U Σ Vᵀ of X̃ᵀỸ, s = tr(Σ) / ‖X̃‖²_F. Only the singular vectors with Σ > 0 are kept: with fewer anchors than
    dimensions the rotation is determined on the anchors' span only, and the map used is the partial isometry that
    is zero outside it (when X̃ᵀỸ has full rank this is the d_X x d_Y block of ``LinearMap("procrustes")``). The SVD
    is taken of the n x d_Y matrix R Ỹ (X̃ᵀ = Q R) when n < d_X, so the cost is O(n² (d_X + d_Y))."""
    n, dx = xs.shape
    if n < dx:
        q, r = np.linalg.qr(xs.T)
        u, sv, vt = np.linalg.svd(r @ ys, full_matrices=False)
        u = q @ u
    else:
        u, sv, vt = np.linalg.svd(xs.T @ ys, full_matrices=False)
    keep = sv > 1e-10 * max(float(sv[0]), 1e-300)
    m = LinearMap("procrustes", center=False)
    m.scale_ = float(sv.sum() / max(float((xs ** 2).sum()), 1e-300))
    m.coef_ = m.scale_ * (u[:, keep] @ vt[keep])
    m.intercept_ = np.zeros(ys.shape[1])
    m.n_features_in_, m.n_features_out_ = dx, ys.shape[1]
    return m


class ContrastiveHeads(_JointSpace, BaseEstimator):
    """LiT-style heads with both towers locked: linear heads trained with symmetric InfoNCE on paired anchors.

    ``dim``: width p of the joint space; ``steps`` full-batch AdamW steps with learning rate ``lr`` and
    ``weight_decay``; the temperature τ is learned from ``init_temperature``; ``seed`` fixes the initialisation.
    Inputs are standardised as in :class:`LinearBridge`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(30, 6)); X = Y @ rng.normal(size=(6, 10))
    >>> heads = ContrastiveHeads(dim=6, steps=200).fit(X, Y)
    >>> heads.score(X, Y) > 0.9
    True
    """

    def __init__(self, dim: int = 64, steps: int = 300, lr: float = 1e-2, weight_decay: float = 1e-2,
                 init_temperature: float = 0.07, seed: int = 0):
        self.dim = dim
        self.steps = steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.init_temperature = init_temperature
        self.seed = seed

    def _check_params(self) -> None:
        for name in ("dim", "steps"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        for name in ("lr", "init_temperature"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not v > 0 or not np.isfinite(v):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not isinstance(self.weight_decay, numbers.Real) or not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")

    def fit(self, X, Y) -> ContrastiveHeads:
        self._check_params()
        x, y = check_paired(X, Y, ("X (image features)", "Y (text features)"))
        if len(x) < 2:
            raise ValueError(f"contrastive heads need at least 2 paired anchors (one positive, one negative), "
                             f"got {len(x)}")
        self.x_std_, self.y_std_ = _Standardiser(x), _Standardiser(y)
        # the heads act on the anchors' span (a head's part outside it gets no gradient): the minimum-norm heads
        bx, by = _span_basis(self.x_std_(x)), _span_basis(self.y_std_(y))
        with _torch_threads(1):
            wx, wy, inv_t, loss = _train_heads(self.x_std_(x) @ bx, self.y_std_(y) @ by, int(self.dim),
                                               int(self.steps), float(self.lr), float(self.weight_decay),
                                               float(self.init_temperature), int(self.seed))
        self.coef_image_, self.coef_text_ = bx @ wx, by @ wy
        self.temperature_, self.final_loss_ = 1.0 / inv_t, loss
        self.n_anchors_ = len(x)
        self.n_features_in_, self.n_features_text_ = x.shape[1], y.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Images into the p-dimensional joint space (not normalised)."""
        _check_fitted(self, "coef_image_")
        x = as_matrix(X, "X (image features)")
        _check_width(x, self.n_features_in_, "X (image features)")
        return self.x_std_(x) @ self.coef_image_

    def transform_text(self, Y) -> np.ndarray:
        """Texts into the p-dimensional joint space (not normalised)."""
        _check_fitted(self, "coef_text_")
        y = as_matrix(Y, "Y (text features)")
        _check_width(y, self.n_features_text_, "Y (text features)")
        return self.y_std_(y) @ self.coef_text_


def _span_basis(a: np.ndarray) -> np.ndarray:
    """Orthonormal basis (d, r) of the row space of ``a`` (its right singular vectors above 1e-10 · the largest)."""
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    return vt[s > 1e-10 * s[0]].T


class _torch_threads:
    """Run torch on ``n`` threads inside the block (small full-batch problems: more threads only contend)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)


def _train_heads(x: np.ndarray, y: np.ndarray, dim: int, steps: int, lr: float, weight_decay: float,
                 init_temperature: float, seed: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Full-batch AdamW on the symmetric InfoNCE loss; returns (W_x, W_y, 1/τ, final loss)."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    wx = (torch.randn(x.shape[1], dim, generator=gen) / np.sqrt(x.shape[1])).requires_grad_(True)
    wy = (torch.randn(y.shape[1], dim, generator=gen) / np.sqrt(y.shape[1])).requires_grad_(True)
    log_inv_t = torch.tensor(float(np.log(1.0 / init_temperature)), requires_grad=True)
    opt = torch.optim.AdamW([{"params": [wx, wy], "weight_decay": weight_decay},
                             {"params": [log_inv_t], "weight_decay": 0.0}], lr=lr)
    target = torch.arange(len(x))
    max_log = float(np.log(100.0))  # CLIP clips 1/τ at 100
    for _ in range(steps):
        zx, zy = F.normalize(xt @ wx, dim=1), F.normalize(yt @ wy, dim=1)
        logits = log_inv_t.clamp(max=max_log).exp() * zx @ zy.T
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
        opt.zero_grad()
        loss.backward()
        opt.step()
    inv_t = float(log_inv_t.detach().clamp(max=max_log).exp())
    return wx.detach().double().numpy(), wy.detach().double().numpy(), inv_t, float(loss.detach())
