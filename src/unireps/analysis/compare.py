"""``compare_models``: N×N similarity matrices between models, per measure, with bootstrap CIs, permutation
p-values and the baselines that make a number interpretable (untrained twins, raw input, shuffled pairing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import bootstrap_ci, get_metric, permutation_test
from .reps import embedding, model_label, raw_input, untrained_twin


@dataclass
class Comparison:
    """``table``: one row per (model_a, model_b, metric); ``matrices``: {metric: N×N DataFrame}."""

    table: pd.DataFrame
    matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def matrix(self, metric: str) -> pd.DataFrame:
        return self.matrices[metric]


def _named(models: Any) -> dict[str, Any]:
    if isinstance(models, dict):
        return dict(models)
    out = {}
    for m in models:
        out[model_label(m)] = m
    return out


def compare_models(models: Any, dataset: Any, metrics=("linear_cka", "mutual_knn"), modality: str = "image",
                   n_boot: int = 200, n_permutations: int = 200, seed: int = 0, baselines: bool = True,
                   metric_kwargs: dict | None = None, cache_dir=None) -> Comparison:
    """Compare every pair of ``models`` on ``dataset`` with each measure.

    models: list of names/Encoders/arrays or {label: model}. Baselines (``baselines=True``): each model's
    untrained twin where the registry has one, the raw input (pixels or bag of words), and for every pair
    the shuffled pairing (Y's rows permuted once: the value expected when stimuli do not correspond).
    Returns tidy rows with value, 95% bootstrap CI, permutation p-value and the shuffled value.
    """
    named = _named(models)
    if len(named) < 2 and not baselines:
        raise ValueError("compare_models needs at least 2 models (or baselines=True)")
    metric_kwargs = metric_kwargs or {}
    reps: dict[str, np.ndarray] = {}
    roles: dict[str, str] = {}
    for label, m in named.items():
        reps[label] = embedding(m, dataset, modality, cache_dir=cache_dir)
        roles[label] = "model"
        if baselines:
            twin = untrained_twin(m)
            if twin is not None:
                reps[f"{label} (untrained)"] = embedding(twin, dataset, modality, cache_dir=cache_dir)
                roles[f"{label} (untrained)"] = "untrained twin"
    if baselines:
        label = "raw pixels" if modality == "image" else "bag of words"
        reps[label] = raw_input(dataset, modality)
        roles[label] = "raw input"
    labels = list(reps)
    rng = np.random.default_rng(seed)
    rows = []
    matrices = {}
    for metric in metrics:
        info = get_metric(metric)
        kw = metric_kwargs.get(metric, {})
        M = pd.DataFrame(np.nan, index=labels, columns=labels)
        for i, a in enumerate(labels):
            for j, b in enumerate(labels):
                if j < i and info.symmetric:
                    M.loc[a, b] = M.loc[b, a]
                    continue
                X, Y = reps[a], reps[b]
                if info.equal_dims and X.shape[1] != Y.shape[1]:
                    continue
                value = info(X, Y, **kw)
                M.loc[a, b] = value
                if j <= i:
                    continue
                row = {"model_a": a, "model_b": b, "role_a": roles[a], "role_b": roles[b], "metric": metric,
                       "kind": info.kind, "value": value, "n": X.shape[0]}
                if n_boot:
                    ci = bootstrap_ci(X, Y, metric, n_boot=n_boot, seed=seed, **kw)
                    row.update(ci_low=ci.low, ci_high=ci.high)
                if n_permutations:
                    pt = permutation_test(X, Y, metric, n_permutations=n_permutations, seed=seed, **kw)
                    row.update(p_value=pt.p_value, null_mean=pt.null_mean)
                row["shuffled"] = info(X, Y[rng.permutation(len(Y))], **kw)
                rows.append(row)
        matrices[metric] = M
    return Comparison(pd.DataFrame(rows), matrices, roles)
