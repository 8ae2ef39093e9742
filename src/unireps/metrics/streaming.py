"""Streaming linear CKA over batches of paired rows (torchmetrics style: ``update`` / ``compute``).

``estimator="exact"`` (default): accumulates in float64 the sufficient statistics of the whole data set,
shifted by the first batch's column means for numerical stability (CKA and HSIC_1 are translation
invariant): n, sum x, sum y, X^T X, Y^T Y, X^T Y, and for the debiased estimator the row-norm terms.
``compute()`` then equals ``linear_cka`` on all rows at once (to ~1e-9 in float64), biased or debiased,
in O(d1^2 + d2^2 + d1 d2) memory whatever n.

``estimator="minibatch"``: the minibatch CKA of Nguyen, Raghu & Kornblith (ICLR 2021),
sum_b HSIC_1(K_b, L_b) / sqrt(sum_b HSIC_1(K_b, K_b) sum_b HSIC_1(L_b, L_b)), unbiased HSIC per batch.
A different quantity: it depends on the batch size and partition and does not equal full-data CKA.
"""

from __future__ import annotations

import torch

from ._validate import check_choice, check_pair
from .cka import GramStats, cka_from_hsic


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
        self._s: dict[str, torch.Tensor] = {}

    def _add(self, key: str, value: torch.Tensor) -> None:
        self._s[key] = self._s[key] + value if key in self._s else value

    def update(self, X, Y) -> StreamingCKA:
        x, y = check_pair(X, Y, min_rows=4 if self.estimator == "minibatch" else 1)
        x, y = x.double(), y.double()
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


def _debiased(cross, sum_ab, sum_a, sum_b, n):
    """Song et al.'s HSIC_1 × n(n-3) from tr(KL), sum_i a_i b_i and the row-norm totals (see cka.py)."""
    return cross - n / (n - 2.0) * sum_ab + sum_a * sum_b / ((n - 1.0) * (n - 2.0))


def _sum_ab(pq, p_y, q_x, Sxy, sx, sy, psum, qsum, mx, my, n):
    """sum_i a_i b_i for a_i = ||x_i - mx||^2, b_i = ||y_i - my||^2 from streamed sums over shifted rows:
    p_i = ||x_i||^2, q_i = ||y_i||^2, pq = sum p q, p_y = sum p_i y_i, q_x = sum q_i x_i, Sxy = X^T Y."""
    Mx, My = mx @ mx, my @ my
    return (pq - 2 * (p_y @ my) + My * psum - 2 * (q_x @ mx) + 4 * (mx @ Sxy @ my)
            - 2 * My * (sx @ mx) + Mx * qsum - 2 * Mx * (sy @ my) + n * Mx * My)
