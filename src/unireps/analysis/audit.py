"""``audit(X, Y)``: a reliability report for one comparison of two representations of the same n stimuli.

Reported (``Audit.table``: one row per quantity, with its value and what it means):

* n, d_x, d_y and the effective rank of each side (participation ratio (sum l)^2 / sum l^2 of the covariance
  eigenvalues l; Gao et al. 2017)
* biased linear CKA (Kornblith et al. 2019) and its debiased form (unbiased HSIC, Song et al. 2012): on unrelated
  data with d >> n the biased estimator is far above 0 (n = 50, d = 2000: about 0.98), the debiased one near 0
* the chosen measure's permutation null (mean, 95th percentile, p; rows of Y permuted) and a percentile bootstrap
  CI over stimuli (``unireps.metrics.stats``)
* split-half reliability of each representation: linear CKA between two random halves of its features (the same
  stimuli), mean over ``n_splits`` splits; low values mean the geometry rests on few features
* the share of variance in the largest feature and in the top principal component of each side (outlier
  dimensions, Davari et al. 2023, "Reliability of CKA as a similarity measure in deep learning") and the measure's
  sensitivity to them: its value after dropping each side's highest-variance features (1% of d, at least 1)
* plain-language warnings: d >> n, too few stimuli, one dimension dominates, the biased-debiased gap, a high
  chance level, a value indistinguishable from chance, unreliable halves
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Audit:
    """Result of ``audit``: ``table`` (quantity, value, note), ``warnings`` (plain language), and the raw numbers."""

    table: pd.DataFrame
    warnings: list[str]
    numbers: dict = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"{r.quantity}: {r.value}" + (f"  ({r.note})" if r.note else "") for r in self.table.itertuples()]
        lines += ["", "Warnings:" if self.warnings else "No warnings."] + [f"- {w}" for w in self.warnings]
        return "\n".join(lines)


def effective_rank(X) -> float:
    """Participation ratio (sum l)^2 / sum l^2 of the covariance eigenvalues l of X (n, d); between 1 and min(n-1, d).

    >>> import numpy as np
    >>> round(effective_rank(np.random.default_rng(0).normal(size=(2000, 4))), 1)
    4.0
    """
    x = np.asarray(X, dtype=float)
    x = x - x.mean(0)
    s = np.linalg.svd(x, compute_uv=False) ** 2
    return float(s.sum() ** 2 / (s ** 2).sum()) if s.sum() > 0 else 0.0


def _variance_shares(X) -> tuple[float, float]:
    x = np.asarray(X, dtype=float)
    x = x - x.mean(0)
    var = x.var(0)
    s = np.linalg.svd(x, compute_uv=False) ** 2
    return float(var.max() / var.sum()), float(s[0] / s.sum())


def _split_half(X, n_splits: int, rng) -> float:
    from ..metrics import linear_cka

    x = np.asarray(X, dtype=float)
    d = x.shape[1]
    if d < 4:
        return float("nan")
    vals = []
    for _ in range(n_splits):
        p = rng.permutation(d)
        vals.append(linear_cka(x[:, p[: d // 2]], x[:, p[d // 2:]]))
    return float(np.mean(vals))


def _drop_top(X, share: float = 0.01) -> np.ndarray:
    x = np.asarray(X, dtype=float)
    k = max(1, int(share * x.shape[1]))
    if x.shape[1] - k < 1:
        return x
    keep = np.argsort(x.var(0))[: x.shape[1] - k]
    return x[:, np.sort(keep)]


def audit(X, Y, metric: str = "linear_cka", n_permutations: int = 1000, n_boot: int = 1000, n_splits: int = 10,
          seed: int = 0, **metric_kwargs) -> Audit:
    """Reliability audit of ``metric(X, Y)``; see the module docstring for every quantity and warning.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(50, 2000)), rng.normal(size=(50, 2000))  # unrelated, d >> n
    >>> a = audit(X, Y, n_permutations=50, n_boot=50)
    >>> round(a.numbers["linear_cka_biased"], 2), abs(a.numbers["linear_cka_debiased"]) < 0.05
    (0.98, True)
    >>> any("debiased" in w for w in a.warnings)
    True
    """
    import warnings as _w

    from ..metrics import bootstrap_ci, get_metric, linear_cka, permutation_test
    from ..metrics._validate import UninformativeWarning, check_pair

    info = get_metric(metric)
    info.check_kwargs(metric_kwargs)
    x, y = check_pair(X, Y, min_rows=max(info.min_n, 4))
    x, y = x.double().cpu().numpy(), y.double().cpu().numpy()
    n, dx, dy = x.shape[0], x.shape[1], y.shape[1]
    rng = np.random.default_rng(seed)
    with _w.catch_warnings():
        _w.simplefilter("ignore", UninformativeWarning)  # the audit states the chance level itself
        biased, debiased = linear_cka(x, y), linear_cka(x, y, debiased=True)
        perm = permutation_test(x, y, metric, n_permutations=n_permutations, seed=seed, **metric_kwargs) \
            if n_permutations else None
        boot = bootstrap_ci(x, y, metric, n_boot=n_boot, seed=seed, **metric_kwargs) if n_boot else None
        value = perm.value if perm else info.fn(x, y, **metric_kwargs)
        try:
            dropped = info.fn(_drop_top(x), _drop_top(y), **metric_kwargs)
        except ValueError:
            dropped = float("nan")
        z = lambda a: (a - a.mean(0)) / np.where(a.std(0) > 0, a.std(0), 1.0)  # noqa: E731
        try:
            standardised = info.fn(z(x), z(y), **metric_kwargs)
        except ValueError:
            standardised = float("nan")
        sh_x, sh_y = _split_half(x, n_splits, rng), _split_half(y, n_splits, rng)
    top_feat_x, top_pc_x = _variance_shares(x)
    top_feat_y, top_pc_y = _variance_shares(y)
    nums = {"n": n, "d_x": dx, "d_y": dy, "effective_rank_x": effective_rank(x), "effective_rank_y": effective_rank(y),
            "metric": metric, "value": value, "linear_cka_biased": biased, "linear_cka_debiased": debiased,
            "null_mean": perm.null_mean if perm else np.nan,
            "null_p95": float(np.quantile(perm.null, 0.95)) if perm else np.nan,
            "p_value": perm.p_value if perm else np.nan, "n_permutations": n_permutations,
            "ci_low": boot.low if boot else np.nan, "ci_high": boot.high if boot else np.nan, "n_boot": n_boot,
            "split_half_x": sh_x, "split_half_y": sh_y, "top_feature_share_x": top_feat_x,
            "top_feature_share_y": top_feat_y, "top_pc_share_x": top_pc_x, "top_pc_share_y": top_pc_y,
            "value_without_top_features": dropped, "value_standardised_features": standardised}
    notes = {"effective_rank_x": "participation ratio of covariance eigenvalues",
             "linear_cka_biased": "biased HSIC (Kornblith et al. 2019): inflated when d >> n",
             "linear_cka_debiased": "unbiased HSIC (Song et al. 2012): ~0 for unrelated data",
             "null_mean": f"{metric} with Y's rows permuted (chance level)", "p_value": "add-one permutation p",
             "ci_low": "percentile bootstrap over stimuli", "split_half_x": "linear CKA between random halves of "
             "X's features", "top_pc_share_x": "variance share of the top principal component",
             "top_feature_share_x": "variance share of the largest single feature (outlier dimension)",
             "value_without_top_features": "the measure after dropping each side's top-variance 1% of features",
             "value_standardised_features": "the measure after z-scoring every feature"}
    table = pd.DataFrame([{"quantity": k, "value": v, "note": notes.get(k, "")} for k, v in nums.items()])
    return Audit(table, _warnings(nums, metric), nums)


def _warnings(s: dict, metric: str) -> list[str]:
    out = []
    n, d = s["n"], max(s["d_x"], s["d_y"])
    if d > n:
        out.append(f"d ≫ n: {d} features for {n} stimuli. Biased linear CKA is inflated here "
                   f"({s['linear_cka_biased']:.3f} vs debiased {s['linear_cka_debiased']:.3f}); report the debiased "
                   "estimator (linear_cka(X, Y, debiased=True)) or reduce dimensions first.")
    elif s["linear_cka_biased"] - s["linear_cka_debiased"] > 0.1:
        out.append(f"biased and debiased linear CKA differ by {s['linear_cka_biased'] - s['linear_cka_debiased']:.3f};"
                   " the biased estimator's finite-sample bias matters here, report the debiased one.")
    if n < 50:
        out.append(f"only {n} stimuli: intervals are wide and the chance level high; use more stimuli if you can.")
    if np.isfinite(s["null_mean"]) and s["null_mean"] > 0.3:
        out.append(f"the chance level (permutation null mean) of {metric} is {s['null_mean']:.3f}: read the value "
                   "against it, not against 0.")
    if np.isfinite(s["p_value"]) and s["p_value"] >= 0.05:
        out.append(f"the value is not distinguishable from chance (p = {s['p_value']:.3g}).")
    for side in ("x", "y"):
        if max(s[f"top_feature_share_{side}"], s[f"top_pc_share_{side}"]) > 0.5:
            out.append(f"one dimension dominates {side.upper()}: the top feature holds "
                       f"{100 * s[f'top_feature_share_{side}']:.0f}% and the top principal component "
                       f"{100 * s[f'top_pc_share_{side}']:.0f}% of its variance (outlier dimensions, Davari et al. "
                       "2023); variance-weighted measures such as CKA then mostly compare that dimension.")
        if np.isfinite(s[f"split_half_{side}"]) and s[f"split_half_{side}"] < 0.5:
            out.append(f"{side.upper()}'s geometry is unstable across its features (split-half CKA "
                       f"{s[f'split_half_{side}']:.2f}).")
    if np.isfinite(s["value_without_top_features"]) and abs(s["value_without_top_features"] - s["value"]) > 0.1:
        out.append(f"{metric} moves from {s['value']:.3f} to {s['value_without_top_features']:.3f} when the "
                   "top-variance 1% of features is dropped: the result hinges on a few dimensions.")
    return out
