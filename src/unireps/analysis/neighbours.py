"""Item-level agreement between models: cosine nearest neighbours of one stimulus in each model's space, and how
much the models disagree about each stimulus (variance of z-scored similarity profiles).

Both work on precomputed embeddings ``{model label: (n, d) array}`` whose rows are the same stimuli in every model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._checks import as_array, check_representation


def unit_rows(X) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (float64); all-zero rows stay zero (the norm is floored at 1e-12).

    >>> unit_rows([[3.0, 4.0], [0.0, 0.0]]).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    X = np.asarray(X, dtype=np.float64)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def _checked(reps: Mapping[str, object], what: str) -> dict[str, np.ndarray]:
    if not isinstance(reps, Mapping) or not reps:
        raise ValueError(f"{what} needs a non-empty dict {{model label: (n, d) array}}")
    out = {}
    for label, X in reps.items():
        a = as_array(X, f"{label!r}")
        check_representation(a, f"{label!r}")
        out[str(label)] = a
    n = {len(a) for a in out.values()}
    if len(n) > 1:
        raise ValueError(f"{what}: the models have different numbers of rows "
                         f"({', '.join(f'{k}: {len(v)}' for k, v in out.items())}); the rows must be the same stimuli")
    return out


def nearest_neighbours(reps: Mapping[str, object], item: int, k: int = 5) -> pd.DataFrame:
    """The ``k`` nearest neighbours of stimulus ``item`` in each model's space, by cosine similarity (the item
    itself excluded; ties broken by the lower index).

    Returns one row per (model, rank): ``model``, ``rank`` (1 = nearest), ``index``, ``cosine``, and ``shared``
    (the neighbour is among the ``k`` nearest in every model: the overlap that mutual k-NN, Huh et al. 2024,
    averages over all stimuli).

    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    >>> t = nearest_neighbours({"a": X, "b": X[:, ::-1]}, item=0, k=1)
    >>> t[["model", "index", "shared"]].values.tolist()
    [['a', 1, True], ['b', 1, True]]
    """
    reps = _checked(reps, "nearest_neighbours")
    n = len(next(iter(reps.values())))
    if item is None or not 0 <= int(item) < n:
        raise ValueError(f"item must be a row index between 0 and {n - 1}, got {item!r}")
    if n < 2:
        raise ValueError("nearest neighbours need at least two stimuli")
    item, k = int(item), int(k)
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be between 1 and {n - 1} (the number of other stimuli), got {k}")
    tops = {}
    for label, X in reps.items():
        E = unit_rows(X)
        s = E @ E[item]
        s[item] = -np.inf
        order = np.argsort(-s, kind="stable")[:k]
        tops[label] = [(int(j), float(s[j])) for j in order]
    common = set.intersection(*[{j for j, _ in v} for v in tops.values()])
    rows = [{"model": m, "rank": r + 1, "index": j, "cosine": c, "shared": j in common}
            for m, v in tops.items() for r, (j, c) in enumerate(v)]
    return pd.DataFrame(rows)


def profile_variance(queries: Mapping[str, object], reference: Mapping[str, object]) -> np.ndarray:
    """How much the models disagree about each query stimulus: for query u and model m, the similarity profile
    s_m(u) = cosines of u with the n reference stimuli, z-scored over the reference stimuli (so that models with
    different similarity scales are comparable); the result is the variance over models of s_m(u)[j], averaged
    over j — one number per query (0 = every model ranks the reference stimuli alike for this query).

    ``queries`` and ``reference``: ``{model: array}`` with the same models; the query rows (and the reference rows)
    are the same stimuli in every model, each model in its own space.  Passing the reference as the queries gives
    the baseline (how much the models disagree on average about the reference stimuli themselves).  This is a
    display statistic of the unireps app, related to RSA (Kriegeskorte et al. 2008) restricted to one row of the
    representational similarity matrix.

    >>> rng = np.random.default_rng(0)
    >>> R = rng.standard_normal((20, 5))
    >>> Q = R[:2] + 0.01
    >>> float(profile_variance({"a": Q, "b": Q @ np.eye(5)[::-1]}, {"a": R, "b": R @ np.eye(5)[::-1]}).max()) < 1e-12
    True
    """
    if set(queries) != set(reference):
        raise ValueError(f"queries and reference must cover the same models; got {sorted(queries)} and "
                         f"{sorted(reference)}")
    if len(queries) < 2:
        raise ValueError("the variance across models needs at least two models")
    q, r = _checked(queries, "profile_variance (queries)"), _checked(reference, "profile_variance (reference)")
    if len(next(iter(r.values()))) < 2:
        raise ValueError("the reference set needs at least two stimuli to z-score a similarity profile")
    Z = []
    for m in q:
        if q[m].shape[1] != r[m].shape[1]:
            raise ValueError(f"{m!r}: queries have {q[m].shape[1]} features but the reference {r[m].shape[1]}; both "
                             "must come from the same model space")
        s = unit_rows(q[m]) @ unit_rows(r[m]).T
        Z.append((s - s.mean(1, keepdims=True)) / np.maximum(s.std(1, keepdims=True), 1e-12))
    return np.stack(Z).var(axis=0).mean(axis=1)


def neighbour_labels(table: pd.DataFrame, captions: Sequence[str], groups: Sequence[str] | None = None
                     ) -> pd.DataFrame:
    """:func:`nearest_neighbours`'s table with the stimulus captions (and groups) in place of row indices.

    >>> t = pd.DataFrame({"model": ["a"], "rank": [1], "index": [1], "cosine": [0.5], "shared": [True]})
    >>> neighbour_labels(t, ["x", "y"])["item"].tolist()
    ['1: y']
    """
    out = table.copy()
    out.insert(2, "item", [f"{j}: {captions[j]}" for j in out["index"]])
    if groups is not None:
        out.insert(3, "group", [groups[j] for j in out["index"]])
    return out.drop(columns="index")
