"""Convergence sweeps: similarity between many models as a function of what differs between them (seed,
width, depth, training step, data size, objective, architecture).

``pairwise_table`` computes every pair once and attaches both models' attributes, so any sweep is a filter and
a group-by of one tidy table: e.g. similarity vs width between two seeds of the same width, or similarity vs
training step between two architectures at the same step.
"""

from __future__ import annotations

import itertools

import pandas as pd

from ..metrics import get_metric
from .reps import embedding


def pairwise_table(models: dict[str, dict], dataset, metrics=("linear_cka",), modality: str = "image",
                   cache_dir=None, metric_kwargs: dict | None = None) -> pd.DataFrame:
    """``models``: {model name or path: {attribute: value}} (e.g. {"zoo:cnn-w32-s0": {"width": 32, "seed": 0}}).

    Returns one row per unordered pair and measure, with attributes suffixed ``_a`` and ``_b``.
    """
    if len(models) < 2:
        raise ValueError("a sweep needs at least 2 models")
    metric_kwargs = metric_kwargs or {}
    reps = {name: embedding(name, dataset, modality, cache_dir=cache_dir) for name in models}
    rows = []
    for a, b in itertools.combinations(models, 2):
        base = {"model_a": a, "model_b": b}
        base.update({f"{k}_a": v for k, v in models[a].items()})
        base.update({f"{k}_b": v for k, v in models[b].items()})
        for metric in metrics:
            rows.append({**base, "metric": metric,
                         "value": get_metric(metric)(reps[a], reps[b], **metric_kwargs.get(metric, {}))})
    return pd.DataFrame(rows)


def sweep(table: pd.DataFrame, vary: str, same: tuple[str, ...] = (), differ: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows of ``table`` whose two models share ``vary`` and every attribute in ``same`` and differ in every
    attribute of ``differ``; returns mean, std and count of the value per (``vary``, metric)."""
    t = table
    for col in (vary, *same):
        t = t[t[f"{col}_a"] == t[f"{col}_b"]]
    for col in differ:
        t = t[t[f"{col}_a"] != t[f"{col}_b"]]
    t = t.assign(**{vary: t[f"{vary}_a"]})
    return (t.groupby([vary, "metric"])["value"].agg(["mean", "std", "count"]).reset_index()
            .rename(columns={"mean": "value"}))
