"""``compare_models``: N×N similarity matrices between models, per measure, with bootstrap CIs, permutation
p-values and the baselines that make a number interpretable (untrained twins, raw input, shuffled pairing)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import bootstrap_pairs, estimator_label, get_metric, jackknife_pairs, permutation_test
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


CI_METHODS = {"bootstrap": "percentile bootstrap over stimuli", "jackknife": "jackknife over stimuli, t interval"}


def compare_models(models: Any, dataset: Any, metrics=("linear_cka", "mutual_knn"), modality: str = "image",
                   n_boot: int = 200, n_permutations: int = 200, seed: int = 0, baselines: bool = True,
                   metric_kwargs: dict | None = None, cache_dir=None, ci: str = "bootstrap") -> Comparison:
    """Compare every pair of ``models`` on ``dataset`` with each measure.

    models: list of names/Encoders/arrays or {label: model}. Baselines (``baselines=True``): each model's
    untrained twin where the registry has one, the raw input (pixels or bag of words), and for every pair
    the shuffled pairing (Y's rows permuted once: the value expected when stimuli do not correspond).
    Returns tidy rows with value, 95% CI over stimuli, permutation p-value and the shuffled value.

    ``ci``: ``"bootstrap"`` (percentile, ``n_boot`` resamples; ``n_boot=0``: no CI) or ``"jackknife"``
    (:func:`unireps.metrics.jackknife_ci`: stimuli left out, not repeated; choose it when the features outnumber
    the stimuli, where repeated stimuli shift the bootstrap of linear CKA above the value and
    ``BootstrapShiftWarning`` says so).  The table's ``ci_method`` column names the one used.
    """
    if ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {', '.join(map(repr, CI_METHODS))}; got {ci!r}")
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
        boots = {}
        with_ci = ci == "jackknife" or bool(n_boot)
        if with_ci:  # every pair resamples the same stimuli (one seed): shared work done once per representation
            pairs = [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]
                     if not (info.equal_dims and reps[a].shape[1] != reps[b].shape[1])]
            boots = (jackknife_pairs(reps, pairs, metric, seed=seed, **kw) if ci == "jackknife"
                     else bootstrap_pairs(reps, pairs, metric, n_boot=n_boot, seed=seed, **kw))
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
                if with_ci:
                    row.update(ci_low=boots[a, b].low, ci_high=boots[a, b].high, ci_method=CI_METHODS[ci])
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
