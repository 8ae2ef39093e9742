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
from ._checks import as_names, check_metric_options, check_representation, check_same_rows
from .reps import model_label, representations

DEFAULT_FACTORS = ("shape", "colour", "size", "position")


def factor_matrices(factors: pd.DataFrame, names=DEFAULT_FACTORS) -> dict[str, np.ndarray]:
    names = as_names(names, "factors")
    if not names:
        raise ValueError(f"no factors given; choose from {list(factors.columns)}")
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
    """One row per (layer, factor set, measure) with the similarity of the layer to the factor matrix.

    A measure that is undefined for a layer (e.g. a layer that is the same for every image) gets value NaN and
    the reason in ``note``."""
    if getattr(dataset, "factors", None) is None:
        raise ValueError("the dataset has no generative factors; use load_dataset('shapes', ...)")
    metrics = as_names(metrics)
    mats = factor_matrices(dataset.factors, factors)
    reps = representations(model, dataset, modality, layers=layers, cache_dir=cache_dir)
    for layer, X in reps.items():
        check_representation(X, f"layer {layer!r}")
    check_same_rows({f"layer {k!r}": v for k, v in reps.items()}, "layer", expected=len(dataset.factors),
                    source=f"the dataset {getattr(dataset, 'name', '')!r}")
    check_metric_options(metrics, None, len(dataset.factors))
    rows = []
    for layer, X in reps.items():
        for fname, F in mats.items():
            for metric in metrics:
                info = get_metric(metric)
                kw = {"rdm": "euclidean"} if metric == "rsa" and F.shape[1] < 3 else {}
                row = {"model": model_label(model), "layer": layer, "factor": fname, "metric": metric}
                try:
                    row["value"] = info(X, F, **kw)
                except ValueError as e:  # e.g. a constant layer: undefined, reported rather than dropped
                    row.update(value=np.nan, note=f"{layer!r} vs {fname!r}: {str(e).splitlines()[0]}")
                rows.append(row)
    return pd.DataFrame(rows)
