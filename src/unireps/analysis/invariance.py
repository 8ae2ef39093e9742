"""The invariances of the similarity measures, measured: each measure between X and a transformed copy of X."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..metrics import get_metric
from ._checks import as_names

INVARIANCE_METRICS = ("linear_cka", "rsa", "cca", "procrustes", "mutual_knn")


def invariance_table(metrics: Sequence[str] | str = INVARIANCE_METRICS, n: int = 100, d: int = 20, seed: int = 0
                     ) -> pd.DataFrame:
    """One row per transformation Y = f(X) of a random X (n × d, anisotropic spectrum 2 … 0.2): rotation, isotropic
    scaling, translation, an invertible linear map, a nonlinear map, and an unrelated Y; one column per measure
    (each as registered in ``unireps.metrics``).  A measure invariant to f scores Y like X itself (Kornblith et al.
    2019, Table 1: CKA is invariant to orthogonal transforms and isotropic scaling, not to invertible linear ones;
    CCA is invariant to invertible linear maps).

    >>> t = invariance_table(["linear_cka"], n=30, d=5)
    >>> round(float(t.set_index("Y").loc["rotation  X Q", "linear_cka"]), 6)
    1.0
    """
    metrics = as_names(metrics)
    for m in metrics:
        get_metric(m)
    if n < 3 or d < 1:
        raise ValueError(f"invariance_table needs n >= 3 stimuli and d >= 1 features, got n={n}, d={d}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) @ np.diag(np.linspace(2.0, 0.2, d))
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = rng.standard_normal((d, d)) + 0.5 * np.eye(d)
    cases = {"rotation  X Q": X @ Q, "scaling  3 X": 3 * X, "translation  X + b": X + rng.standard_normal(d),
             "invertible linear  X A": X @ A, "nonlinear  tanh(X A)": np.tanh(X @ A),
             "unrelated  Y": rng.standard_normal((n, d))}
    rows = []
    for label, Y in cases.items():
        row = {"Y": label}
        for m in metrics:
            row[m] = round(float(get_metric(m)(X, Y)), 3)
        rows.append(row)
    return pd.DataFrame(rows)
