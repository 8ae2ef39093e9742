"""Convergence sweeps: similarity between many models as a function of what differs between them (seed,
width, depth, training step, data size, objective, architecture).

``pairwise_table`` computes every pair once and attaches both models' attributes, so any sweep is a filter and
a group-by of one tidy table: e.g. similarity vs width between two seeds of the same width, or similarity vs
training step between two architectures at the same step.
"""

from __future__ import annotations

import itertools

import pandas as pd

from ..metrics import estimator_label, get_metric
from ._checks import as_array, as_names, check_metric_options, check_representation, check_same_rows
from .reps import embedding


def pairwise_table(models: dict[str, dict], dataset, metrics=("linear_cka",), modality: str = "image",
                   cache_dir=None, metric_kwargs: dict | None = None) -> pd.DataFrame:
    """``models``: {model name or path: {attribute: value}} (e.g. {"zoo:cnn-w32-s0": {"width": 32, "seed": 0}}).

    Returns one row per unordered pair and measure, with attributes suffixed ``_a`` and ``_b``.
    """
    if len(models) < 2:
        raise ValueError("a sweep needs at least 2 models")
    bad = [k for k, v in models.items() if not isinstance(v, dict)]
    if bad:
        raise TypeError(f"models must map each model name to a dict of its attributes, e.g. {{'zoo:cnn-w32-s0': "
                        f"{{'width': 32, 'seed': 0}}}}; {bad[0]!r} maps to a {type(models[bad[0]]).__name__}")
    metrics = as_names(metrics)
    metric_kwargs = check_metric_options(metrics, metric_kwargs)
    reps = {}
    for name in models:
        reps[name] = as_array(embedding(name, dataset, modality, cache_dir=cache_dir), f"model {name!r}")
        check_representation(reps[name], f"model {name!r}")
    n = check_same_rows({repr(k): v for k, v in reps.items()}, "model")
    check_metric_options(metrics, metric_kwargs, n)
    rows = []
    for a, b in itertools.combinations(models, 2):
        base = {"model_a": a, "model_b": b}
        base.update({f"{k}_a": v for k, v in models[a].items()})
        base.update({f"{k}_b": v for k, v in models[b].items()})
        for metric in metrics:
            try:
                value = get_metric(metric)(reps[a], reps[b], **metric_kwargs.get(metric, {}))
            except ValueError as e:
                raise ValueError(f"{metric} between {a!r} (X) and {b!r} (Y) is undefined: {e}") from e
            estimator = estimator_label(metric, **metric_kwargs.get(metric, {}))
            rows.append({**base, "metric": metric, "estimator": estimator, "value": value, "n": n})
    return pd.DataFrame(rows)


def sweep(table: pd.DataFrame, vary: str, same: tuple[str, ...] = (), differ: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows of ``table`` whose two models share ``vary`` and every attribute in ``same`` and differ in every
    attribute of ``differ``; returns mean, std and count of the value per (``vary``, metric)."""
    same, differ = as_names(same, "same"), as_names(differ, "differ")
    missing = [c for c in (vary, *same, *differ) if f"{c}_a" not in table or f"{c}_b" not in table]
    if missing:
        attrs = sorted({c[:-2] for c in table.columns if c.endswith("_a") and c != "model_a"})
        raise ValueError(f"attribute(s) {missing} are not in the table; its attributes are {attrs} (give each model "
                         "these attributes in pairwise_table)")
    t = table
    for col in (vary, *same):
        t = t[t[f"{col}_a"] == t[f"{col}_b"]]
    for col in differ:
        t = t[t[f"{col}_a"] != t[f"{col}_b"]]
    t = t.assign(**{vary: t[f"{vary}_a"]})
    return (t.groupby([vary, "metric"])["value"].agg(["mean", "std", "count"]).reset_index()
            .rename(columns={"mean": "value"}))
