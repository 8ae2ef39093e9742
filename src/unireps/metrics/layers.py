"""All-pairs layer similarity without redundant work.

``layer_similarity(layers_a, layers_b, metric)`` returns an (len(a), len(b)) array.  Each layer is
validated, centred and prepared once (its Gram matrix, covariance, SVD basis, RDM or neighbour lists),
then only the pairwise step runs per pair.  For linear CKA the Gram or feature-space route is picked by
total cost: Gram (La + Lb) n^2 d + La Lb n^2 against features La Lb n d1 d2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ._validate import acc_dtype, center, check_choice, check_k, check_matrix
from .cca import _basis, _check_not_degenerate, _truncate
from .cka import GramStats, cka_from_hsic, debiased_from_terms, rbf_gram
from .knn import knn, overlap_counts, unit_rows
from .rsa import COMPARE_METHODS, RDM_KINDS, _triu, compare_vectors, rankdata, rdm_matrix


def _as_list(layers, name: str) -> tuple[list[torch.Tensor], set[int]]:
    if isinstance(layers, Mapping):
        items = list(layers.items())
    elif isinstance(layers, Sequence) and not isinstance(layers, (str, bytes)):
        items = [(f"{name}[{i}]", v) for i, v in enumerate(layers)]
    else:
        raise TypeError(f"{name} must be a list or dict of (n, d) arrays, one per layer; got {type(layers).__name__}")
    if not items:
        raise ValueError(f"{name} holds no layers")
    out = [check_matrix(v, str(k)) for k, v in items]
    ns = {t.shape[0] for t in out}
    return out, ns


def _batched_gram_cka(pa: list, pb: list) -> np.ndarray:
    """CKA for all pairs of prepared Grams at once: the traces tr(K_a L_b) of every pair are one matrix
    product of the flattened Grams, taken in column chunks converted to float64 (float64 reduction without
    holding float64 copies of all Grams)."""
    A = torch.stack([g.mat.reshape(-1) for g, _ in pa])
    B = torch.stack([g.mat.reshape(-1) for g, _ in pb]).to(A.device)
    acc = acc_dtype(A)
    tr = torch.zeros((A.shape[0], B.shape[0]), dtype=acc, device=A.device)
    step = 1 << 18
    for s in range(0, A.shape[1], step):
        tr += A[:, s:s + step].to(acc) @ B[:, s:s + step].to(acc).T
    g0 = pa[0][0]
    if g0.debiased:
        n = g0.n
        ta = torch.stack([g.total for g, _ in pa])
        tb = torch.stack([g.total for g, _ in pb]).to(ta.device)
        ra = torch.stack([g.rowsum for g, _ in pa])
        rb = torch.stack([g.rowsum for g, _ in pb]).to(ra.device)
        tr = tr + torch.outer(ta, tb) / ((n - 1.0) * (n - 2.0)) - 2.0 / (n - 2.0) * (ra @ rb.T)
    ha = torch.stack([h for _, h in pa]).to(acc)
    hb = torch.stack([h for _, h in pb]).to(acc).to(ha.device)
    denom = torch.outer(ha, hb)
    if not bool((denom > 0).all()):
        raise ValueError("the HSIC of a layer with itself is not positive (a degenerate layer, or too few stimuli "
                         "for the debiased estimator)")
    return (tr / torch.sqrt(denom)).cpu().numpy()


class _Shared:
    """Per-layer work that several measures need, done once: the centred matrix and its SVD basis."""

    def __init__(self, layers: list, prefix: str):
        self.layers, self.prefix = layers, prefix
        self._centred: dict = {}
        self._bases: dict = {}

    def name(self, i: int) -> str:
        return f"{self.prefix}[{i}]"

    def centred(self, i: int) -> torch.Tensor:
        if i not in self._centred:
            self._centred[i] = center(self.layers[i], self.name(i))
        return self._centred[i]

    def basis(self, i: int):
        if i not in self._bases:
            self._bases[i] = _basis(self.centred(i), self.name(i))
        return self._bases[i]


class _LinearCKA:
    def __init__(self, debiased: bool, feature_form: bool):
        self.debiased, self.feature = debiased, feature_form

    def prepare(self, x, name, xc=None):
        xc = center(x, name) if xc is None else xc
        if not self.feature:
            g = GramStats(xc @ xc.T, self.debiased, centered=True)
            return g, g.hsic(g)
        acc = acc_dtype(xc)
        r = torch.linalg.vector_norm(xc, dim=1, dtype=acc) ** 2 if self.debiased else None
        self_h = torch.linalg.vector_norm(xc.T @ xc, dtype=acc) ** 2
        if self.debiased:
            self_h = debiased_from_terms(self_h, r, r, xc.shape[0])
        return (xc, r), self_h

    def batched(self, pa, pb):
        return None if self.feature else _batched_gram_cka(pa, pb)

    def pair(self, pa, pb):
        (a, ha), (b, hb) = pa, pb
        if not self.feature:
            return cka_from_hsic(a.hsic(b), ha, hb)
        (xa, ra), (xb, rb) = a, b
        cross = torch.linalg.vector_norm(xa.T @ xb.to(xa.dtype), dtype=acc_dtype(xa)) ** 2
        if self.debiased:
            cross = debiased_from_terms(cross, ra, rb, xa.shape[0])
        return cka_from_hsic(cross, ha, hb)


class _RBFCKA:
    def __init__(self, debiased=False, sigma=None, threshold=1.0):
        self.debiased, self.sigma, self.threshold = debiased, sigma, threshold

    def prepare(self, x, name):
        center(x, name)
        g = GramStats(rbf_gram(x, self.sigma, self.threshold, name), self.debiased)
        return g, g.hsic(g)

    def batched(self, pa, pb):
        return _batched_gram_cka(pa, pb)

    def pair(self, pa, pb):
        return cka_from_hsic(pa[0].hsic(pb[0]), pa[1], pb[1])


class _RSA:
    def __init__(self, rdm="correlation", compare="spearman"):
        self.rdm = check_choice("rdm", rdm, RDM_KINDS)
        self.compare = check_choice("compare", compare, COMPARE_METHODS)

    def prepare(self, x, name):
        v = _triu(rdm_matrix(x, self.rdm, name))
        if self.compare == "spearman":  # rank once; then Pearson on ranks
            return rankdata(v)
        return v

    def pair(self, a, b):
        return compare_vectors(a, b, "pearson" if self.compare == "spearman" else self.compare)


class _CCA:
    def __init__(self, keep=None):
        self.keep = keep

    def prepare(self, x, name, basis=None):
        U, s, _ = _basis(center(x, name), name) if basis is None else basis
        U = _truncate(U, s, self.keep, name)
        _check_not_degenerate(U.shape[1], x.shape[0], name)
        return U

    def pair(self, a, b):
        rho = torch.linalg.svdvals(a.T @ b.to(a.dtype)).clamp(0.0, 1.0)
        return float(rho.double().mean())


class _KNN:
    def __init__(self, k=10, jaccard=False):
        self.k, self.jaccard = k, jaccard

    def prepare(self, x, name):
        check_k(self.k, x.shape[0])
        xu = unit_rows(x, name)
        center(xu, f"{name} (rows L2-normalised)")
        return knn(xu, self.k)[0]

    def pair(self, a, b):
        inter = overlap_counts(a, b.to(a.device)).double()
        if self.jaccard:
            return float((inter / (2 * self.k - inter)).mean())
        return float(inter.mean() / self.k)


def _fast_path(metric: str, kwargs: dict, n: int, la, lb):
    if metric in ("linear_cka", "linear_cka_debiased"):
        debiased = kwargs.get("debiased", metric == "linear_cka_debiased")
        dims_a, dims_b = [t.shape[1] for t in la], [t.shape[1] for t in lb]
        gram = (len(la) + len(lb)) * n * n * float(np.mean(dims_a + dims_b)) + len(la) * len(lb) * n * n
        feat = n * sum(a * b for a in dims_a for b in dims_b) + n * sum(d * d for d in dims_a + dims_b)
        return _LinearCKA(debiased, feature_form=feat < gram)
    if metric == "rbf_cka":
        return _RBFCKA(**kwargs)
    if metric == "rsa":
        return _RSA(**kwargs)
    if metric == "cca":
        return _CCA()
    if metric == "svcca":
        return _CCA(keep=kwargs.get("keep", 0.99))
    if metric in ("mutual_knn", "jaccard_knn"):
        return _KNN(kwargs.get("k", 10), jaccard=metric == "jaccard_knn")
    return None


def _prepare_shared(fast, shared: _Shared, i: int):
    if isinstance(fast, _CCA):
        return fast.prepare(shared.layers[i], shared.name(i), basis=shared.basis(i))
    if isinstance(fast, _LinearCKA):
        return fast.prepare(shared.layers[i], shared.name(i), xc=shared.centred(i))
    return fast.prepare(shared.layers[i], shared.name(i))


def _pairs(fast, pa, pb, same: bool, symmetric: bool) -> np.ndarray:
    batched = getattr(fast, "batched", None)
    if batched is not None and (res := batched(pa, pb)) is not None:
        return res
    out = np.empty((len(pa), len(pb)))
    for i in range(len(pa)):
        for j in range(len(pb)):
            out[i, j] = out[j, i] if same and j < i and symmetric else fast.pair(pa[i], pb[j])
    return out


def layer_similarities(layers_a, layers_b, metrics, errors: str = "raise") -> dict:
    """``layer_similarity`` for several measures (default options) on the same layers, sharing the per-layer work:
    each layer is validated and centred once, and its SVD basis is computed once for cca and svcca.

    Returns {metric: (len(a), len(b)) array}, equal to ``layer_similarity(layers_a, layers_b, metric)`` for each.
    ``errors="keep"``: a measure that is undefined on these layers (``layer_similarity`` raises ValueError, e.g.
    CCA with too few stimuli) maps to that ValueError instead of stopping the others.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = [rng.standard_normal((60, 8)) for _ in range(2)], [rng.standard_normal((60, 8)) for _ in range(2)]
    >>> maps = layer_similarities(a, b, ("linear_cka", "cca", "svcca"))
    >>> bool(np.allclose(maps["svcca"], layer_similarity(a, b, "svcca")))
    True
    """
    from .registry import get_metric

    if errors not in ("raise", "keep"):
        raise ValueError(f"errors must be 'raise' or 'keep'; got {errors!r}")
    la, na = _as_list(layers_a, "layers_a")
    lb, nb = _as_list(layers_b, "layers_b")
    if len(na | nb) != 1:
        raise ValueError(f"all layers must hold the same stimuli, got row counts {sorted(na | nb)}")
    n = (na | nb).pop()
    same = layers_b is layers_a
    sa = _Shared(la, "layers_a")
    sb = sa if same else _Shared(lb, "layers_b")
    out: dict = {}
    for metric in metrics:
        info = get_metric(metric)
        fast = _fast_path(info.name, {}, n, la, lb)
        try:
            if fast is None:
                out[metric] = layer_similarity(la, lb, metric)
                continue
            pa = [_prepare_shared(fast, sa, i) for i in range(len(la))]
            pb = pa if same else [_prepare_shared(fast, sb, j) for j in range(len(lb))]
            out[metric] = _pairs(fast, pa, pb, same, info.symmetric)
        except ValueError as e:
            if errors == "raise":
                raise
            out[metric] = e
    return out


def layer_similarity(layers_a, layers_b, metric: str = "linear_cka", **metric_kwargs) -> np.ndarray:
    """Similarity of every layer of model A with every layer of model B: an (len(a), len(b)) numpy array.

    ``layers_a`` / ``layers_b``: lists (or dicts, in order) of (n, d) arrays over the same n stimuli.
    ``metric``: any name from ``list_metrics()``; extra keyword arguments go to the measure.  Fast paths
    (each layer prepared once) exist for linear_cka, rbf_cka, rsa, cca, svcca, mutual_knn and jaccard_knn;
    other measures are called pair by pair.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # a rotation
    >>> from unireps.metrics import layer_similarity
    >>> layer_similarity([X, X @ Q], [X, 2 * X], 'linear_cka').round(6).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    from .registry import get_metric

    info = get_metric(metric)
    info.check_kwargs(metric_kwargs)
    la, na = _as_list(layers_a, "layers_a")
    lb, nb = _as_list(layers_b, "layers_b")
    ns = na | nb
    if len(ns) != 1:
        raise ValueError(f"all layers must hold the same stimuli, got row counts {sorted(ns)}")
    n = ns.pop()
    out = np.empty((len(la), len(lb)))
    fast = _fast_path(info.name, metric_kwargs, n, la, lb)
    if fast is None:
        for i, a in enumerate(la):
            for j, b in enumerate(lb):
                out[i, j] = info.fn(a, b, **metric_kwargs)
        return out
    pa = [fast.prepare(t, f"layers_a[{i}]") for i, t in enumerate(la)]
    same = layers_b is layers_a
    pb = pa if same else [fast.prepare(t, f"layers_b[{j}]") for j, t in enumerate(lb)]
    batched = getattr(fast, "batched", None)
    if batched is not None and (res := batched(pa, pb)) is not None:
        return res
    for i in range(len(la)):
        for j in range(len(lb)):
            if same and j < i and info.symmetric:
                out[i, j] = out[j, i]
            else:
                out[i, j] = fast.pair(pa[i], pb[j])
    return out
