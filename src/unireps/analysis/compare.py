"""``compare_models``: N×N similarity matrices between models, per measure, with bootstrap CIs, permutation
p-values and the baselines that make a number interpretable (untrained twins, raw input, shuffled pairing)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import (
    BootstrapResult,
    JackknifeResult,
    bootstrap_pairs,
    estimator_label,
    get_metric,
    jackknife_pairs,
    permutation_test,
)
from ._checks import as_array, as_names, check_metric_options, check_representation, check_same_rows
from .reps import embedding, is_array_like, model_label, raw_input, untrained_twin


@dataclass
class Comparison:
    """``table``: one row per (model_a, model_b, metric); ``matrices``: {metric: N×N DataFrame}."""

    table: pd.DataFrame
    matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def matrix(self, metric: str) -> pd.DataFrame:
        return self.matrices[metric]


def _named(models: Any) -> dict[str, Any]:
    """{label: model}.  In a list, arrays / tensors / dicts of arrays are labelled "model 0", "model 1", ...; two
    entries with the same label are refused (they would silently collapse into one)."""
    if isinstance(models, Mapping):
        return {str(k): v for k, v in models.items()}
    if isinstance(models, str) or is_array_like(models):
        raise TypeError("models must be a list of models (names, Encoders, arrays) or a dict {label: model}; got a "
                        "single one — compare_models needs at least two (or baselines=True)")
    out: dict[str, Any] = {}
    for i, m in enumerate(models):
        label = f"model {i}" if is_array_like(m) or isinstance(m, Mapping) else model_label(m)
        if label in out:
            raise ValueError(f"two models are both labelled {label!r}; pass a dict {{label: model}} to name them")
        out[label] = m
    return out


def _measure(info, X, Y, kw, a: str, b: str, what: str = ""):
    try:
        return info(X, Y, **kw)
    except ValueError as e:
        raise ValueError(f"{info.name}{what} between {a!r} (X) and {b!r} (Y) is undefined: {e}") from e


CI_METHODS = {"bootstrap": BootstrapResult.LABEL, "jackknife": JackknifeResult.LABEL}
CI_CHOICES = ("auto", *CI_METHODS)


JACKKNIFE_MEASURES = ("linear_cka",)  # ci="auto" gives these the jackknife whatever their shapes (see below)


def ci_method_for(*arrays, metric: str | None = None) -> str:
    """The interval method ``ci="auto"`` gives a pair: ``"jackknife"`` for linear CKA, and for the other measures
    where some representation has at least as many features as stimuli; else ``"bootstrap"``.  Decided from the
    measure and the shapes alone, before any value.

    Why linear CKA always: a bootstrap resample repeats stimuli, and repeats raise linear CKA wherever its estimate
    carries an upward small-sample bias, not only where the features outnumber the stimuli.  In a Monte Carlo
    (``benchmarks/ci_coverage.py``: 5 shared latent directions plus noise of sd 3, 60–100 draws per setting), the
    95% percentile bootstrap covered the estimator's mean at this n in 84–85% of draws at d/n = 0.05 and 9–53% from
    d/n = 0.1 up (n = 100 and 300), while the jackknife covered it in 92–99% everywhere; with less noise (sd 1)
    both covered it (95–98%).  For mutual k-NN (copies of a stimulus are not each other's neighbours) both
    covered it in 98–100% of draws at d/n = 0.1–2.

    >>> import numpy as np
    >>> ci_method_for(np.zeros((500, 64)), metric="linear_cka"), ci_method_for(np.zeros((500, 64)), metric="mutual_knn")
    ('jackknife', 'bootstrap')
    >>> ci_method_for(np.zeros((92, 1280)), np.zeros((92, 64)), metric="mutual_knn")
    'jackknife'
    """
    if metric is not None and get_metric(metric).name in JACKKNIFE_MEASURES:
        return "jackknife"
    return "jackknife" if any(np.shape(a)[1] >= np.shape(a)[0] for a in arrays) else "bootstrap"


def _intervals(reps: dict, pairs: list, metric: str, ci: str, n_boot: int, seed: int, kw: dict) -> dict:
    """{(a, b): (interval result, method)} for the pairs that get an interval (``n_boot=0``: only an explicit
    ``ci="jackknife"`` does); bootstrap pairs share their resamples, jackknife pairs their groups."""
    method = {p: ci if ci != "auto" else ci_method_for(reps[p[0]], reps[p[1]], metric=metric) for p in pairs}
    if ci == "auto" and not n_boot:
        return {}
    out = {}
    jack = [p for p in pairs if method[p] == "jackknife"]
    boot = [p for p in pairs if method[p] == "bootstrap"]
    if jack:
        out.update({p: (r, "jackknife") for p, r in jackknife_pairs(reps, jack, metric, seed=seed, **kw).items()})
    if boot and n_boot:
        out.update({p: (r, "bootstrap") for p, r in
                    bootstrap_pairs(reps, boot, metric, n_boot=n_boot, seed=seed, **kw).items()})
    return out


def compare_models(models: Any, dataset: Any, metrics=("linear_cka", "mutual_knn"), modality: str = "image",
                   n_boot: int = 200, n_permutations: int = 200, seed: int = 0, baselines: bool = True,
                   metric_kwargs: dict | None = None, cache_dir=None, ci: str = "auto") -> Comparison:
    """Compare every pair of ``models`` on ``dataset`` with each measure.

    models: list of names/Encoders/arrays or {label: model}. Baselines (``baselines=True``): each model's
    untrained twin where the registry has one, the raw input (pixels or bag of words), and for every pair
    the shuffled pairing (Y's rows permuted once: the value expected when stimuli do not correspond).
    Returns tidy rows with value, 95% CI over stimuli, permutation p-value and the shuffled value.

    ``ci``: ``"bootstrap"`` (percentile, ``n_boot`` resamples), ``"jackknife"``
    (:func:`unireps.metrics.jackknife_ci`: stimuli left out, not repeated), or ``"auto"`` (default): per measure
    and pair, :func:`ci_method_for` (the jackknife for linear CKA, whose bootstrap repeated stimuli shift above the
    value, and for the other measures where a representation has at least as many features as stimuli; else the
    bootstrap).  ``n_boot=0`` gives no intervals unless ``ci="jackknife"``.  The table's ``ci_method`` column names
    each row's method.
    """
    if ci not in CI_CHOICES:
        raise ValueError(f"ci must be one of {', '.join(map(repr, CI_CHOICES))}; got {ci!r}")
    named = _named(models)
    metrics = as_names(metrics)
    if len(named) < 2 and not baselines:
        raise ValueError("compare_models needs at least 2 models (or baselines=True)")
    if baselines and dataset is None:
        raise ValueError("baselines=True compares with the raw input of the dataset, but dataset is None; pass the "
                         "dataset the representations were computed on, or baselines=False")
    metric_kwargs = check_metric_options(metrics, metric_kwargs)
    reps: dict[str, np.ndarray] = {}
    roles: dict[str, str] = {}
    for label, m in named.items():
        reps[label] = as_array(embedding(m, dataset, modality, cache_dir=cache_dir), f"model {label!r}")
        check_representation(reps[label], f"model {label!r}")
        roles[label] = "model"
        if baselines:
            twin = untrained_twin(m)
            if twin is not None:
                reps[f"{label} (untrained)"] = embedding(twin, dataset, modality, cache_dir=cache_dir)
                roles[f"{label} (untrained)"] = "untrained twin"
    if baselines:
        label = "raw pixels" if modality == "image" else "bag of words"
        n_data = len(dataset)
        check_same_rows({f"model {k!r}": v for k, v in reps.items() if roles[k] == "model"}, "model", expected=n_data,
                        source=f"the dataset {getattr(dataset, 'name', '')!r} (its raw-input baseline)")
        reps[label] = raw_input(dataset, modality)
        roles[label] = "raw input"
    n = check_same_rows({repr(k): v for k, v in reps.items()}, "model")
    check_metric_options(metrics, metric_kwargs, n)
    labels = list(reps)
    skipped = []
    rng = np.random.default_rng(seed)
    rows = []
    matrices = {}
    for metric in metrics:
        info = get_metric(metric)
        kw = metric_kwargs.get(metric, {})
        estimator = estimator_label(metric, **kw)
        M = pd.DataFrame(np.nan, index=labels, columns=labels)
        pairs = [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]
                 if not (info.equal_dims and reps[a].shape[1] != reps[b].shape[1])]
        intervals = _intervals(reps, pairs, metric, ci, n_boot, seed, kw)
        for i, a in enumerate(labels):
            for j, b in enumerate(labels):
                if j < i and info.symmetric:
                    M.loc[a, b] = M.loc[b, a]
                    continue
                X, Y = reps[a], reps[b]
                if info.equal_dims and X.shape[1] != Y.shape[1]:
                    if j > i:
                        skipped.append(f"{metric}: {a!r} ({X.shape[1]} features) vs {b!r} ({Y.shape[1]})")
                    continue
                value = _measure(info, X, Y, kw, a, b)
                M.loc[a, b] = value
                if j <= i:
                    continue
                row = {"model_a": a, "model_b": b, "role_a": roles[a], "role_b": roles[b], "metric": metric,
                       "estimator": estimator, "kind": info.kind, "value": value, "n": X.shape[0]}
                if (a, b) in intervals:
                    r, method = intervals[a, b]
                    row.update(ci_low=r.low, ci_high=r.high, ci_method=CI_METHODS[method])
                if n_permutations:
                    pt = permutation_test(X, Y, metric, n_permutations=n_permutations, seed=seed, **kw)
                    row.update(p_value=pt.p_value, null_mean=pt.null_mean)
                row["shuffled"] = _measure(info, X, Y[rng.permutation(len(Y))], kw, a, b, " (shuffled pairing)")
                rows.append(row)
        matrices[metric] = M
    if skipped:
        warnings.warn("compare_models: these pairs have no value (NaN in the matrix, no row in the table) because "
                      "the measure needs equal widths: " + "; ".join(skipped[:5])
                      + ("; ..." if len(skipped) > 5 else ""), stacklevel=2)
    return Comparison(pd.DataFrame(rows), matrices, roles)
