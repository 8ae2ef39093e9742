"""The metric registry: what each measure is, so that code, tests and docs can rely on it.

Invariances are declared for transforming ONE representation (X or Y, the other fixed):
``orthogonal`` (Y Q), ``isotropic_scaling`` (c Y), ``invertible_linear`` (Y A), ``translation`` (Y + b),
``feature_permutation`` (columns of Y shuffled).  The property tests check every declared invariance.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .cca import cca, pwcca, svcca
from .cka import linear_cka, rbf_cka
from .knn import cknna, jaccard_knn, mutual_knn
from .predictability import linear_predictability, paired_cosine
from .procrustes import procrustes, procrustes_distance
from .rsa import rsa

INVARIANCES = ("orthogonal", "isotropic_scaling", "invertible_linear", "translation", "feature_permutation")


@dataclass(frozen=True)
class MetricInfo:
    name: str
    fn: Callable = field(repr=False)
    kind: str  # "similarity" or "distance"
    range: tuple[float, float]
    invariances: frozenset
    symmetric: bool
    equal_dims: bool
    cost: str
    reference: str
    min_n: int = 2
    default_kwargs: dict = field(default_factory=dict)

    def __call__(self, X, Y, **kwargs) -> float:
        if kwargs:
            self.check_kwargs(kwargs)
        return self.fn(X, Y, **kwargs)

    @property
    def higher_is_more_similar(self) -> bool:
        return self.kind == "similarity"

    def check_kwargs(self, kwargs: dict) -> None:
        """Raise TypeError naming the accepted options when a keyword is not a parameter of the measure."""
        params = [p for p in inspect.signature(self.fn).parameters if p not in ("X", "Y")]
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise TypeError(f"{self.name} got unknown option(s) {unknown}; accepted: {params}")

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "range": list(self.range),
                "invariances": sorted(self.invariances), "symmetric": self.symmetric,
                "equal_dims": self.equal_dims, "cost": self.cost, "reference": self.reference,
                "min_n": self.min_n}


def _linear_cka_debiased(X, Y) -> float:
    """Linear CKA with the unbiased HSIC estimator (Song et al. 2012); see ``linear_cka``."""
    return linear_cka(X, Y, debiased=True)


_ALL_LINEAR = frozenset(INVARIANCES)
_OITP = frozenset({"orthogonal", "isotropic_scaling", "translation", "feature_permutation"})
_OIP = frozenset({"orthogonal", "isotropic_scaling", "feature_permutation"})

_REGISTRY: dict[str, MetricInfo] = {}


def _register(info: MetricInfo) -> None:
    _REGISTRY[info.name] = info


for _info in [
    MetricInfo("linear_cka", linear_cka, "similarity", (0.0, 1.0), _OITP, True, False,
               "O(n d1 d2) feature form when n > d, else O(n^2 (d1 + d2))",
               "Kornblith et al. 2019, ICML; biased HSIC (Gretton et al. 2005)"),
    MetricInfo("linear_cka_debiased", _linear_cka_debiased, "similarity",
               (-1.0, 1.0), _OITP, True, False, "as linear_cka",
               "Kornblith et al. 2019 with the unbiased HSIC of Song et al. 2012", min_n=4),
    MetricInfo("rbf_cka", rbf_cka, "similarity", (0.0, 1.0), _OITP, True, False,
               "O(n^2 (d1 + d2)) time, O(n^2) memory",
               "Kornblith et al. 2019; sigma^2 = threshold^2 x median squared distance"),
    MetricInfo("rsa", rsa, "similarity", (-1.0, 1.0),
               frozenset({"isotropic_scaling", "feature_permutation"}), True, False,
               "O(n^2 (d1 + d2)) + O(m log m), m = n(n-1)/2",
               "Kriegeskorte et al. 2008; default correlation-distance RDMs compared by Spearman", min_n=3),
    MetricInfo("mutual_knn", mutual_knn, "similarity", (0.0, 1.0), _OIP, True, False,
               "O(n^2 (d1 + d2)) in row chunks, O(n k) memory", "Huh et al. 2024, ICML (PRH)", min_n=12),
    MetricInfo("cknna", cknna, "similarity", (-1.0, 1.0), _OIP, False, False,
               "O(n^2 (d1 + d2)) in row chunks, O(n k^2) memory", "Huh et al. 2024, ICML (PRH)", min_n=12),
    MetricInfo("jaccard_knn", jaccard_knn, "similarity", (0.0, 1.0), _OIP, True, False,
               "as mutual_knn", "Jaccard index of k-NN sets (e.g. Klabunde et al. 2023 survey)", min_n=12),
    MetricInfo("cca", cca, "similarity", (0.0, 1.0), _ALL_LINEAR, True, False,
               "O(n (d1^2 + d2^2)) SVDs", "Hotelling 1936; mean canonical correlation", min_n=3),
    MetricInfo("svcca", svcca, "similarity", (0.0, 1.0), _OITP, True, False,
               "O(n (d1^2 + d2^2)) SVDs", "Raghu et al. 2017, NeurIPS; keep = 0.99 of variance", min_n=3),
    MetricInfo("pwcca", pwcca, "similarity", (0.0, 1.0),
               frozenset({"isotropic_scaling", "translation", "feature_permutation"}), False, False,
               "O(n (d1^2 + d2^2)) SVDs", "Morcos et al. 2018, NeurIPS", min_n=3),
    MetricInfo("procrustes", procrustes, "similarity", (0.0, 1.0), _OITP, True, False,
               "O(n d1 d2 + min(d1, d2, n)^3)", "Williams et al. 2021 (shape metrics); Ding et al. 2021"),
    MetricInfo("procrustes_distance", procrustes_distance, "distance", (0.0, math.pi / 2), _OITP, True,
               False, "as procrustes", "Williams et al. 2021, NeurIPS; angular shape metric"),
    MetricInfo("linear_predictability", linear_predictability, "similarity", (-math.inf, 1.0), _OITP,
               False, False, "O(cv n d1 min(n, d1)) SVDs", "cross-validated ridge R^2 (encoding-model practice)",
               min_n=10),
    MetricInfo("paired_cosine", paired_cosine, "similarity", (-1.0, 1.0), frozenset({"isotropic_scaling"}), True, True,
               "O(n d)", "mean cosine of matched rows", min_n=1),
]:
    _register(_info)


def list_metrics() -> list[MetricInfo]:
    """Metadata for each measure: kind, range, invariances, symmetry, equal-dims need, cost, reference."""
    return list(_REGISTRY.values())


def get_metric(name: str) -> MetricInfo:
    """The registry entry of a measure (callable as ``get_metric(name)(X, Y, **kwargs)``)."""
    if isinstance(name, MetricInfo):
        return name
    if name not in _REGISTRY:
        raise ValueError(f"unknown metric {name!r}; accepted: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]
