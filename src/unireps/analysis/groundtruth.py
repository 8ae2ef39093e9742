"""Ground truth: how close does each representation come to the generative factors of the data?

On ``shapes`` every image has known factors (shape, colour, size, position, ...).  Each factor becomes a
one-hot matrix (numeric factors are standardised); "all factors" concatenates them.  A representation is
compared with these matrices by the chosen measures: the similarity to the latent structure that generated
the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics import get_metric
from .reps import model_label, representations

DEFAULT_FACTORS = ("shape", "colour", "size", "position")


def factor_matrices(factors: pd.DataFrame, names=DEFAULT_FACTORS) -> dict[str, np.ndarray]:
    mats = {}
    for name in names:
        if name not in factors:
            raise ValueError(f"factor {name!r} not in the dataset's factors {list(factors.columns)}")
        col = factors[name]
        if col.dtype.kind in "biuf" and col.nunique() > 12:
            v = col.to_numpy(float)
            mats[name] = ((v - v.mean()) / (v.std() or 1.0))[:, None]
        else:
            mats[name] = pd.get_dummies(col.astype(str)).to_numpy(float)
    mats["all factors"] = np.hstack(list(mats.values()))
    return mats


def factor_alignment(model, dataset, metrics=("linear_cka", "rsa"), layers=None, factors=DEFAULT_FACTORS,
                     modality: str = "image", cache_dir=None) -> pd.DataFrame:
    """One row per (layer, factor set, measure) with the similarity of the layer to the factor matrix."""
    if getattr(dataset, "factors", None) is None:
        raise ValueError("the dataset has no generative factors; use load_dataset('shapes', ...)")
    mats = factor_matrices(dataset.factors, factors)
    reps = representations(model, dataset, modality, layers=layers, cache_dir=cache_dir)
    rows = []
    for layer, X in reps.items():
        for fname, F in mats.items():
            for metric in metrics:
                info = get_metric(metric)
                kw = {"rdm": "euclidean"} if metric == "rsa" and F.shape[1] < 3 else {}
                rows.append({"model": model_label(model), "layer": layer, "factor": fname, "metric": metric,
                             "value": info(X, F, **kw)})
    return pd.DataFrame(rows)
