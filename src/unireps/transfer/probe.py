"""Transferring a linear probe, and retrieval, from model A's embedding space to model B's.

Setting: ``emb_a`` (n, d_A) and ``emb_b`` (n, d_B) embed the same n stimuli (rows paired); ``labels`` (n,).
A probe (standardise + multinomial logistic regression) is trained on A's embeddings of ``train_idx``.  For each
number k of anchors — k paired training stimuli drawn (nested: the first k of one seeded permutation of
``train_idx``) — B's test embeddings are brought to A's probe by

* ``lstsq`` / ``ridge`` / ``procrustes``: a :class:`~unireps.transfer.LinearMap` from B to A fitted on the k anchor
  pairs (no labels), then A's probe;
* ``relative``: relative representations (cosine to the k anchors, centred, Moschella et al. 2023): a probe
  trained on A's relative representation of the train split is applied to B's relative representation (no map
  at all — only the anchor identities are shared).

Baselines (``n_anchors`` = 0): ``no_map`` (A's probe on B's embeddings zero-padded / truncated to d_A),
``a_on_a`` (A's probe on A's test embeddings: the ceiling), ``b_on_b`` (a probe trained on B itself), and
``chance`` (the most frequent test class).  For ``relative`` the same-space ceiling ``relative_a_on_a`` is added.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..literals import TransferMethod
from .maps import MAP_METHODS, LinearMap, RelativeProjection, as_matrix, pad_to
from .retrieval import retrieval_recall

TRANSFER_METHODS = (*MAP_METHODS, "relative")


def fit_probe(X, y, C: float = 1.0, max_iter: int = 2000) -> Pipeline:
    """Standardise, then multinomial logistic regression (lbfgs)."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter)).fit(as_matrix(X), y)


def check_split(train_idx, test_idx, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of a train / test split of n rows (boolean masks of length n are accepted), non-empty, in
    range and disjoint; ValueError naming the problem otherwise."""
    out = []
    for name, idx in (("train_idx", train_idx), ("test_idx", test_idx)):
        if hasattr(idx, "detach"):
            idx = idx.detach().cpu().numpy()
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ValueError(f"{name} is a boolean mask of shape {idx.shape}; a mask must have shape ({n},)")
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or len(idx) == 0 or not (np.issubdtype(idx.dtype, np.integer) or (
                idx.dtype.kind == "f" and np.all(idx == np.round(idx)))):
            raise ValueError(f"{name} must be a non-empty 1-D array of row indices (or a boolean mask of length {n})")
        idx = idx.astype(np.int64)
        if idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"{name} has indices outside 0..{n - 1}")
        out.append(idx)
    tr, te = out
    if np.intersect1d(tr, te).size:
        raise ValueError("train_idx and test_idx overlap; fit on one split and score on another")
    return tr, te


def _check_inputs(emb_a, emb_b, train_idx, test_idx, labels=None):
    a, b = as_matrix(emb_a, "emb_a"), as_matrix(emb_b, "emb_b")
    if len(a) != len(b):
        raise ValueError(f"emb_a has {len(a)} rows but emb_b has {len(b)}; rows must be the same stimuli")
    tr, te = check_split(train_idx, test_idx, len(a))
    if labels is not None:
        y = np.asarray(labels)
        if y.shape != (len(a),):
            raise ValueError(f"labels must have shape ({len(a)},), got {y.shape}")
        return a, b, tr, te, y
    return a, b, tr, te


def _check_methods(methods: Sequence[str]) -> list[str]:
    if isinstance(methods, str):
        methods = (methods,)
    bad = [m for m in methods if m not in TRANSFER_METHODS]
    if bad:
        raise ValueError(f"unknown methods {bad}; accepted values: {', '.join(TRANSFER_METHODS)}")
    return list(methods)


def _anchor_sets(train_idx: np.ndarray, n_anchors: Sequence[int], seed: int, repeat: int):
    rng = np.random.default_rng([seed, repeat])
    order = rng.permutation(train_idx)
    if isinstance(n_anchors, int | np.integer):
        n_anchors = (n_anchors,)
    for k in n_anchors:
        k = int(k)
        if k < 2:
            raise ValueError(f"n_anchors must be >= 2, got {k}")
        yield min(k, len(order)), order[:k]


def probe_transfer(emb_a, emb_b, labels, train_idx, test_idx, *, n_anchors: Sequence[int] = (10, 20, 50, 100, 200),
                   methods: Sequence[TransferMethod] = TRANSFER_METHODS, alpha: float = 1e-2, n_repeats: int = 1,
                   seed: int = 0, C: float = 1.0) -> pd.DataFrame:
    """Accuracy of A's probe on B's test embeddings per method and number of anchors (plus baselines).

    Columns: method, n_anchors, repeat, accuracy.  ``alpha``: relative ridge strength of ``ridge``.
    """
    a, b, tr, te, y = _check_inputs(emb_a, emb_b, train_idx, test_idx, labels)
    methods = _check_methods(methods)
    probe = fit_probe(a[tr], y[tr], C)
    vals, counts = np.unique(y[te], return_counts=True)
    rows = [
        {"method": "a_on_a", "n_anchors": 0, "repeat": 0, "accuracy": probe.score(a[te], y[te])},
        {"method": "b_on_b", "n_anchors": 0, "repeat": 0, "accuracy": fit_probe(b[tr], y[tr], C).score(b[te], y[te])},
        {"method": "no_map", "n_anchors": 0, "repeat": 0, "accuracy": probe.score(pad_to(b[te], a.shape[1]), y[te])},
        {"method": "chance", "n_anchors": 0, "repeat": 0, "accuracy": float(counts.max() / counts.sum())},
    ]
    for r in range(n_repeats):
        for k, anchors in _anchor_sets(tr, n_anchors, seed, r):
            for m in methods:
                if m == "relative":
                    rel_a = RelativeProjection().fit(a[anchors])
                    rel_b = RelativeProjection().fit(b[anchors])
                    rp = fit_probe(rel_a.transform(a[tr]), y[tr], C)
                    rows.append({"method": "relative", "n_anchors": k, "repeat": r,
                                 "accuracy": rp.score(rel_b.transform(b[te]), y[te])})
                    rows.append({"method": "relative_a_on_a", "n_anchors": k, "repeat": r,
                                 "accuracy": rp.score(rel_a.transform(a[te]), y[te])})
                else:
                    mp = LinearMap(method=m, alpha=alpha).fit(b[anchors], a[anchors])
                    rows.append({"method": m, "n_anchors": k, "repeat": r,
                                 "accuracy": probe.score(mp.transform(b[te]), y[te])})
    return pd.DataFrame(rows)


def cross_model_retrieval(emb_a, emb_b, train_idx, test_idx, *, n_anchors: Sequence[int] = (10, 20, 50, 100, 200),
                          methods: Sequence[str] = TRANSFER_METHODS, ks: Sequence[int] = (1, 5), alpha: float = 1e-2,
                          n_repeats: int = 1, seed: int = 0) -> pd.DataFrame:
    """Zero-shot cross-model retrieval: each B test embedding (query) must retrieve the A test embedding of the
    same stimulus among all A test embeddings, by cosine, after mapping B into A (linear maps fitted on the
    anchors) or comparing relative representations.  Columns: method, n_anchors, repeat, R@k for ``ks``.
    Baselines: ``no_map`` (B zero-padded / truncated to A's width) and ``chance`` (k / n_test)."""
    a, b, tr, te = _check_inputs(emb_a, emb_b, train_idx, test_idx)
    methods = _check_methods(methods)
    n = len(te)
    rows = [
        {"method": "no_map", "n_anchors": 0, "repeat": 0, **retrieval_recall(pad_to(b[te], a.shape[1]), a[te], ks)},
        {"method": "chance", "n_anchors": 0, "repeat": 0, **{f"R@{k}": min(1.0, k / n) for k in ks}},
    ]
    for r in range(n_repeats):
        for k, anchors in _anchor_sets(tr, n_anchors, seed, r):
            for m in methods:
                if m == "relative":
                    qa = RelativeProjection().fit(a[anchors]).transform(a[te])
                    qb = RelativeProjection().fit(b[anchors]).transform(b[te])
                    rec = retrieval_recall(qb, qa, ks)
                else:
                    mp = LinearMap(method=m, alpha=alpha).fit(b[anchors], a[anchors])
                    rec = retrieval_recall(mp.transform(b[te]), a[te], ks)
                rows.append({"method": m, "n_anchors": k, "repeat": r, **rec})
    return pd.DataFrame(rows)
