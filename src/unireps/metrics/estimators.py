"""``estimator_label``: one line that says which estimator a table's number comes from, with its options.

Tables and figures carry it beside the metric name, so that a reader sees, for instance, that linear CKA is the
biased HSIC form (Gretton et al. 2005; Kornblith et al. 2019), which is far from 0 for unrelated representations
when d is large against n, unlike the unbiased form of Song et al. (2012).
"""

from __future__ import annotations

import inspect

from .registry import get_metric

_COMPARE_NAMES = {"spearman": "Spearman", "pearson": "Pearson", "kendall_tau_a": "Kendall tau-a",
                  "kendall_tau_b": "Kendall tau-b", "rho_a": "Spearman rho-a", "cosine": "cosine"}


def _options(metric: str, kwargs: dict) -> dict:
    """The measure's keyword defaults (from its signature and registry), overridden by ``kwargs``."""
    info = get_metric(metric)
    params = {k: p.default for k, p in inspect.signature(info.fn).parameters.items()
              if k not in ("X", "Y") and p.default is not inspect.Parameter.empty}
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise TypeError(f"{metric} got unknown option(s) {unknown}; accepted: {sorted(params)}")
    return {**params, **info.default_kwargs, **kwargs}


def estimator_label(metric: str, **kwargs) -> str:
    """The estimator behind ``metric`` with these options, e.g. ``"linear_cka (HSIC, unbiased=False)"``.

    CKA measures name the HSIC estimator (``unbiased=False``: the biased form of Gretton et al. 2005 used by
    Kornblith et al. 2019; ``unbiased=True``: Song et al. 2012); RSA names the RDM and the comparison
    (``"rsa: correlation RDM, Spearman"``); other measures list their options (e.g. ``k`` of mutual k-NN).

    >>> estimator_label("linear_cka"), estimator_label("linear_cka", debiased=True)
    ('linear_cka (HSIC, unbiased=False)', 'linear_cka (HSIC, unbiased=True)')
    >>> estimator_label("rsa"), estimator_label("mutual_knn", k=5)
    ('rsa: correlation RDM, Spearman', 'mutual_knn (k=5)')
    """
    opts = _options(metric, kwargs)
    if metric == "linear_cka":
        return f"linear_cka (HSIC, unbiased={bool(opts['debiased'])})"
    if metric == "linear_cka_debiased":
        return "linear_cka (HSIC, unbiased=True)"
    if metric == "rbf_cka":
        width = f"sigma={opts['sigma']}" if opts["sigma"] is not None else \
            f"sigma^2={opts['threshold']}^2 x median squared distance"
        return f"rbf_cka (HSIC, unbiased={bool(opts['debiased'])}, {width})"
    if metric == "rsa":
        return f"rsa: {opts['rdm']} RDM, {_COMPARE_NAMES.get(opts['compare'], opts['compare'])}"
    if not opts:
        return metric
    return f"{metric} ({', '.join(f'{k}={v}' for k, v in opts.items())})"


def rsa_label(rdm: str = "correlation", compare: str = "spearman") -> str:
    """The RSA estimator label for RDMs compared directly (``estimator_label("rsa", ...)``).

    >>> rsa_label("euclidean", "pearson")
    'rsa: euclidean RDM, Pearson'
    """
    return estimator_label("rsa", rdm=rdm, compare=compare)


__all__ = ["estimator_label", "rsa_label"]
