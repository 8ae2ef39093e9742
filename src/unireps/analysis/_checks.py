"""Input checks shared by the analyses: a researcher's own arrays get a ValueError / TypeError that names the model
(and layer) at fault and the fix, before any measure runs — never a bare "X has 60 rows but Y has 50" from deep
inside a measure, or a silent NaN."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..metrics import get_metric

KNN_METRICS = ("mutual_knn", "jaccard_knn", "cknna")


def as_names(value, what: str = "metrics") -> tuple[str, ...]:
    """A single name as a 1-tuple (so that ``metrics="linear_cka"`` is not read letter by letter)."""
    if isinstance(value, str):
        return (value,)
    if value is None:
        return ()
    if not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a name or a list of names, got {type(value).__name__}")
    return tuple(value)


def as_array(X, name: str) -> np.ndarray:
    """numpy view of an array-like (torch tensors: detached, on the CPU, low-precision floats as float32)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(X, torch.Tensor):
        t = X.detach()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        return t.cpu().numpy()
    a = np.asarray(X)
    if a.dtype == object:
        raise TypeError(f"{name} could not be read as a numeric array; pass a numpy array or torch tensor of shape "
                        "(n_stimuli, n_features)")
    return a


def check_representation(X: np.ndarray, name: str) -> None:
    """2-D, at least one feature, numeric and finite: otherwise a ValueError naming ``name``."""
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {X.dtype}; pass real-valued features of shape (n_stimuli, n_features)")
    if X.ndim != 2:
        hint = ("; it holds one value per stimulus? use X.reshape(-1, 1)" if X.ndim == 1 else
                "; pool or flatten the extra axes first, e.g. X.mean(axis=1) or X.reshape(len(X), -1)")
        raise ValueError(f"{name} has shape {X.shape}; expected (n_stimuli, n_features){hint}")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {X.shape})")
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite values; drop those stimuli from every "
                         "representation (or impute them) before comparing")


def check_same_rows(reps: Mapping[str, np.ndarray], what: str = "representation", expected: int | None = None,
                    source: str | None = None) -> int:
    """All representations hold the same number of stimuli (rows), and ``expected`` when given.  ``reps`` is keyed
    by display names (e.g. "model 'a'" or "layer 'fc1' of model A")."""
    counts = {k: int(v.shape[0]) for k, v in reps.items()}
    if expected is not None:
        wrong = {k: n for k, n in counts.items() if n != expected}
        if wrong:
            k, n = next(iter(wrong.items()))
            raise ValueError(f"{k} has {n} rows but {source or 'the dataset'} has {expected} stimuli; "
                             "the rows must be the dataset's stimuli in the dataset's order (extract the "
                             "representation on that dataset, or pass the matching dataset)")
        return expected
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{k}: {n}" for k, n in counts.items())
        raise ValueError(f"the {what}s hold different numbers of stimuli (rows) — {shown}; every {what} must hold "
                         "the same stimuli in the same order (subset them to the common stimuli first)")
    return next(iter(counts.values()), 0)


def check_metric_options(metrics: Iterable[str], metric_kwargs: Mapping | None, n: int | None = None) -> dict:
    """Known measures, known options (TypeError naming the accepted ones), and k < n - 1 for k-NN measures."""
    metric_kwargs = dict(metric_kwargs or {})
    metrics = list(metrics)
    infos = {m: get_metric(m) for m in metrics}  # unknown measure: ValueError listing the accepted ones
    for m, kw in metric_kwargs.items():
        if not isinstance(kw, Mapping):
            raise TypeError(f"metric_kwargs[{m!r}] must be a dict of options, e.g. {{'mutual_knn': {{'k': 5}}}}")
        if m in infos:
            infos[m].check_kwargs(kw)
    if n is not None:
        for m in metrics:
            if m in KNN_METRICS:
                k = metric_kwargs.get(m, {}).get("k", 10)
                if isinstance(k, int | np.integer) and k > n - 2:
                    raise ValueError(f"{m} uses k={k} neighbours but there are only n={n} stimuli (it needs k <= "
                                     f"n - 2); pass a smaller k, e.g. metric_kwargs={{{m!r}: {{'k': "
                                     f"{max(1, min(10, n // 4))}}}}}")
    return metric_kwargs
