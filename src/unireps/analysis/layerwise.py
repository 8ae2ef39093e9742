"""``layerwise``: where do two models agree?  The layer × layer similarity map, each layer's best match,
and the layer-identification test of Kornblith et al. 2019 (how often a layer's most similar layer in another
seed's model is its counterpart), with CCA and SVCCA as comparison rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..literals import Engine, Modality, Pooling
from ..metrics import estimator_label, get_metric, layer_similarity
from ._checks import as_names, check_metric_options, check_representation, check_same_rows
from .reps import model_label, representations


@dataclass
class Layerwise:
    maps: dict[str, pd.DataFrame]  # metric -> (layers of A) × (layers of B)
    best_match: pd.DataFrame  # one row per (metric, layer of A)
    identification: pd.DataFrame  # one row per metric: rate, number of layers
    model_a: str
    model_b: str


def identification_rate(M: np.ndarray, kind: str = "similarity") -> float:
    """Fraction of layers i of A whose most similar layer of B is layer i (needs a square map).

    ``kind="distance"`` for a distance map (e.g. ``procrustes_distance``): the most similar layer is the nearest."""
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"the layer-identification test needs models with equally many layers, got {M.shape}")
    if kind not in ("similarity", "distance"):
        raise ValueError(f"unknown kind={kind!r}; accepted values: 'similarity', 'distance'")
    if not np.isfinite(M).any(axis=1).all():
        raise ValueError("some layer of A has no finite value in the map; the identification test is undefined")
    best = np.nanargmin(M, axis=1) if kind == "distance" else np.nanargmax(M, axis=1)
    return float(np.mean(best == np.arange(M.shape[0])))


def _identification(M: np.ndarray, names_a: list, names_b: list, distance: bool) -> tuple[float, int, str]:
    """(rate, layers used, note): the identification test over the layers where the measure is defined in both
    models (a constant layer, e.g. a CLS token before the first block, has an all-NaN row / column)."""
    if len(names_a) != len(names_b):
        return np.nan, 0, (f"the models have different numbers of layers ({len(names_a)} vs {len(names_b)}); "
                           "the layer-identification test needs equal counts")
    keep = np.arange(len(names_a))
    while True:  # drop layers undefined on either side until every kept row and column has a finite value
        sub = M[np.ix_(keep, keep)]
        ok = np.isfinite(sub).any(axis=1) & np.isfinite(sub).any(axis=0)
        if ok.all() or not ok.any():
            break
        keep = keep[ok]
    if len(keep) < 2 or not ok.all():
        return np.nan, 0, "fewer than 2 layers where the measure is defined in both models"
    left = [i for i in range(len(names_a)) if i not in set(keep.tolist())]
    rate = identification_rate(M[np.ix_(keep, keep)], "distance" if distance else "similarity")
    if not left:
        return rate, len(keep), ""
    return rate, len(keep), (f"identification over {len(keep)} of {len(names_a)} layers; left out (measure "
                             f"undefined): {', '.join(f'{names_a[i]!r}/{names_b[i]!r}' for i in left)}")


def _cellwise(la: dict, lb: dict, metric: str, kw: dict):
    from ..metrics import get_metric

    info = get_metric(metric)
    M = np.full((len(la), len(lb)), np.nan)
    first, count = "", 0
    for i, (na, a) in enumerate(la.items()):
        for j, (nb, b) in enumerate(lb.items()):
            try:
                M[i, j] = info(a, b, **kw)
            except ValueError as e:
                count += 1
                if not first:
                    msg = str(e).splitlines()[0]
                    first = f"{na} vs {nb}: {msg[:117] + '...' if len(msg) > 120 else msg}"
    return M, {f"{count} undefined cell{'s' * (count > 1)}, e.g. {first}"} if count else set()


def layerwise(model_a, model_b, dataset, metric: str = "linear_cka", modality: Modality = "image", layers="all",
              pooling: Pooling | None = None, comparison_metrics=("cca", "svcca"), cache_dir=None,
              metric_kwargs: dict | None = None, engine: Engine = "local", engine_kwargs: dict | None = None
              ) -> Layerwise:
    """Layer × layer maps for ``metric`` and each of ``comparison_metrics`` (a measure that is undefined for
    some layer, e.g. CCA with more features than stimuli, is reported with NaN and a note, not dropped).

    ``engine_kwargs`` go to the extraction (e.g. ``batch_size``).  ``engine="ray"``: extraction with
    ``unireps.models.ray_engine.extract_ray`` (e.g. ``num_actors``) and every map as Ray tasks (``all_pairs_ray``);
    the same maps as the local engine.
    """
    rk = dict(engine=engine, engine_kwargs=engine_kwargs)
    comparison_metrics = as_names(comparison_metrics, "comparison_metrics")
    all_metrics = (metric, *[c for c in comparison_metrics if c != metric])
    metric_kwargs = check_metric_options(all_metrics, metric_kwargs)
    la = representations(model_a, dataset, modality, layers=layers, pooling=pooling, cache_dir=cache_dir, **rk)
    lb = representations(model_b, dataset, modality, layers=layers, pooling=pooling, cache_dir=cache_dir, **rk)
    if engine == "local":  # (the Ray engine keeps the arrays memory-mapped: not read here)
        for side, reps in (("A", la), ("B", lb)):
            for name, X in reps.items():
                check_representation(np.asarray(X), f"layer {name!r} of model {side}")
    check_same_rows({**{f"A: {k!r}": v for k, v in la.items()}, **{f"B: {k!r}": v for k, v in lb.items()}}, "layer")
    n = len(next(iter(la.values())))
    if hasattr(dataset, "images") and len(dataset) != n:
        raise ValueError(f"the layers hold {n} stimuli (rows) but the dataset has {len(dataset)}; pass the dataset "
                         "the representations were computed on (or dataset=None for precomputed arrays)")
    check_metric_options(all_metrics, metric_kwargs, n)
    if engine == "ray":
        from .allpairs import all_pairs_ray as similarity
    else:
        similarity = layer_similarity
    maps, best, ident = {}, [], []
    for m in all_metrics:
        note = ""
        distance = get_metric(m).kind == "distance"
        kw = metric_kwargs.get(m, {})
        try:
            M = similarity(list(la.values()), list(lb.values()), m, **kw)
        except ValueError:  # some layer is degenerate for this measure: cell by cell, NaN where undefined
            M, notes = _cellwise(la, lb, m, kw)
            note = "; ".join(sorted(notes))
        maps[m] = pd.DataFrame(M, index=list(la), columns=list(lb))
        for i, name in enumerate(la):
            row = M[i]
            j = -1 if not np.isfinite(row).any() else int(np.nanargmin(row) if distance else np.nanargmax(row))
            best.append({"metric": m, "layer_a": name, "best_layer_b": list(lb)[j] if j >= 0 else None,
                         "value": float(row[j]) if j >= 0 else np.nan, "is_counterpart": j == i})
        rate, used, why = _identification(M, list(la), list(lb), distance)
        note = "; ".join(x for x in (why, note) if x)
        ident.append({"metric": m, "estimator": estimator_label(m, **kw), "identification_rate": rate,
                      "n_layers": len(la), "n_layers_used": used, "n": n, "note": note})
    return Layerwise(maps, pd.DataFrame(best), pd.DataFrame(ident), model_label(model_a), model_label(model_b))


def identification_ci(layers_a, layers_b, metric: str = "linear_cka", n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0, **metric_kwargs) -> dict:
    """Layer-identification rate with a percentile bootstrap CI over stimuli.

    ``layers_a`` / ``layers_b``: lists or dicts (in order) of (n, d) arrays of two models with equally many layers,
    rows = the same stimuli.  Each draw resamples the stimuli with replacement (the same rows in every layer;
    copies kept as separate rows, the ordinary bootstrap) and recomputes the layer map and the rate.  With L
    layers the rate moves in steps of 1/L, so the interval is coarse; it says how much the rate depends on the
    particular stimuli, not on the choice of models.  Returns rate, ci_low, ci_high, level, n_layers, n_boot
    (draws used), n_stimuli, metric.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base = [rng.normal(size=(60, 6)) for _ in range(3)]
    >>> a = [b + 0.1 * rng.normal(size=b.shape) for b in base]
    >>> r = identification_ci(base, a, n_boot=30)
    >>> r["rate"], r["ci_low"], r["ci_high"]
    (1.0, 1.0, 1.0)
    """
    if not metric_kwargs:
        res = identification_cis(layers_a, layers_b, (metric,), n_boot=n_boot, level=level, seed=seed)[metric]
        if isinstance(res, ValueError):
            raise res
        return res
    return _identification_cis(layers_a, layers_b, (metric,), n_boot, level, seed, metric_kwargs, "raise")[metric]


def identification_cis(layers_a, layers_b, metrics=("linear_cka",), n_boot: int = 1000, level: float = 0.95,
                       seed: int = 0) -> dict:
    """``identification_ci`` for several measures (default options) on the same bootstrap draws, sharing the work
    per draw (each resampled layer built, validated and centred once; its SVD basis once for cca and svcca:
    ``unireps.metrics.layers.layer_similarities``).

    Returns {metric: the dict of ``identification_ci(layers_a, layers_b, metric, n_boot, level, seed)``}, equal
    to it (the same draws); a measure that is undefined on these layers maps to the ValueError
    ``identification_ci`` would raise.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base = [rng.normal(size=(60, 6)) for _ in range(3)]
    >>> a = [b + 0.1 * rng.normal(size=b.shape) for b in base]
    >>> cca = identification_cis(base, a, ("linear_cka", "cca"), n_boot=30)["cca"]
    >>> cca["rate"], cca["ci_low"], cca["n_boot"]
    (1.0, 1.0, 30)
    """
    return _identification_cis(layers_a, layers_b, tuple(metrics), n_boot, level, seed, {}, "keep")


def _identification_cis(layers_a, layers_b, metrics: tuple, n_boot, level, seed, metric_kwargs: dict,
                        errors: str) -> dict:
    from ..metrics.layers import layer_similarities
    from ..metrics.stats import _check_count

    la = list(layers_a.values()) if isinstance(layers_a, dict) else list(layers_a)
    lb = list(layers_b.values()) if isinstance(layers_b, dict) else list(layers_b)
    n_boot = _check_count("n_boot", n_boot, 2)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    if len(la) != len(lb) or len(la) < 2:
        raise ValueError(f"the identification test needs two models with equally many layers (>= 2), got "
                         f"{len(la)} and {len(lb)}")
    kinds = {m: "distance" if get_metric(m).kind == "distance" else "similarity" for m in metrics}
    la, lb = [np.asarray(x) for x in la], [np.asarray(x) for x in lb]
    n = la[0].shape[0]

    def maps(xa, xb) -> dict:
        if metric_kwargs:  # options: one measure, through layer_similarity
            try:
                return {m: layer_similarity(xa, xb, m, **metric_kwargs) for m in metrics}
            except ValueError as e:
                return {m: e for m in metrics}
        return layer_similarities(xa, xb, metrics, errors="keep")

    out, live = {}, {}
    for m, M in maps(la, lb).items():
        try:
            if isinstance(M, ValueError):
                raise M
            live[m] = (identification_rate(M, kinds[m]), [])
        except ValueError as e:
            if errors == "raise":
                raise
            out[m] = e
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if not live:
            continue
        for m, M in maps([x[idx] for x in la], [y[idx] for y in lb]).items():
            if m not in live or isinstance(M, ValueError):  # a degenerate resample for this measure
                continue
            try:
                live[m][1].append(identification_rate(M, kinds[m]))
            except ValueError:
                continue
    alpha = (1.0 - level) / 2.0
    for m, (rate, draws) in live.items():
        if len(draws) < 0.9 * n_boot:
            out[m] = ValueError(f"{n_boot - len(draws)} of {n_boot} bootstrap resamples were degenerate for {m}; "
                                "use more stimuli")
            if errors == "raise":
                raise out[m]
            continue
        low, high = np.quantile(draws, [alpha, 1.0 - alpha])
        out[m] = {"metric": m, "rate": rate, "ci_low": float(low), "ci_high": float(high), "level": level,
                  "n_layers": len(la), "n_boot": len(draws), "n_stimuli": n}
    return {m: out[m] for m in metrics}
