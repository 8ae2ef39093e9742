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
from typing import Literal

from . import ooc
from .cca import cca, pwcca, svcca
from .cka import linear_cka, rbf_cka
from .knn import cknna, jaccard_knn, mutual_knn
from .predictability import linear_predictability, paired_cosine
from .procrustes import procrustes, procrustes_distance
from .rsa import rsa

INVARIANCES = ("orthogonal", "isotropic_scaling", "invertible_linear", "translation", "feature_permutation")


Kind = Literal["similarity", "distance"]


@dataclass(frozen=True)
class MetricInfo:
    """One measure: ``kind`` (similarity or distance), value ``range``, declared ``invariances``, whether it is
    ``symmetric`` in X and Y, whether it needs ``equal_dims``, its ``cost``, the ``reference`` it follows, the
    smallest ``min_n``, and ``stream``: its streaming (out-of-core) form over row sources, or None.

    ``stream(src_x, src_y, *, batch_size=None, device=None, **kwargs)`` takes anything
    :func:`unireps.metrics.ooc.as_source` accepts (arrays, memmaps, shard files) and returns the same value as
    ``fn`` on all rows, in memory independent of n (see :mod:`unireps.metrics.ooc`).

    >>> from unireps.metrics import get_metric
    >>> info = get_metric("linear_cka")
    >>> info.kind, info.range, info.streams
    ('similarity', (0.0, 1.0), True)
    """

    name: str
    fn: Callable = field(repr=False)
    kind: Kind
    range: tuple[float, float]
    invariances: frozenset
    symmetric: bool
    equal_dims: bool
    cost: str
    reference: str
    min_n: int = 2
    default_kwargs: dict = field(default_factory=dict)
    stream: Callable | None = field(default=None, repr=False)

    def __call__(self, X, Y, **kwargs) -> float:
        if kwargs:
            self.check_kwargs(kwargs)
        return self.fn(X, Y, **kwargs)

    @property
    def higher_is_more_similar(self) -> bool:
        return self.kind == "similarity"

    @property
    def streams(self) -> bool:
        """Whether the measure has a streaming (out-of-core) form, :attr:`stream`."""
        return self.stream is not None

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
                "min_n": self.min_n, "streams": self.streams}


def _linear_cka_debiased(X, Y) -> float:
    """Linear CKA with the unbiased HSIC estimator (Song et al. 2012); see ``linear_cka``."""
    return linear_cka(X, Y, debiased=True)


# ------------------------------------------------------------------------------------------ streaming forms


def _stream_cka(default_debiased: bool) -> Callable:
    def stream(a, b, *, batch_size=None, device=None, debiased: bool = default_debiased) -> float:
        return ooc.streaming_linear_cka(a, b, debiased=debiased, batch_size=batch_size, device=device)

    return stream


def _stream_cca(method: str) -> Callable:
    def stream(a, b, *, batch_size=None, device=None, **kwargs) -> float:
        acc = ooc.streaming_cca(a, b, batch_size=batch_size, device=device)
        return acc.svcca(kwargs.get("keep", 0.99)) if method == "svcca" else getattr(acc, method)()

    return stream


def _stream_predictability(a, b, *, batch_size=None, device=None, **kwargs) -> float:
    return ooc.streaming_predictability(a, b, batch_size=batch_size, device=device, **kwargs)


def _stream_mutual_knn(a, b, *, batch_size=None, device=None, **kwargs) -> float:
    return float(ooc.mutual_knn_ooc(a, b, batch_size=batch_size, device=device, **kwargs))


def _stream_paired_cosine(a, b, *, batch_size=None, device=None) -> float:
    return ooc.streaming_paired_cosine(a, b, batch_size=batch_size, device=device)


_ALL_LINEAR = frozenset(INVARIANCES)
_OITP = frozenset({"orthogonal", "isotropic_scaling", "translation", "feature_permutation"})
_OIP = frozenset({"orthogonal", "isotropic_scaling", "feature_permutation"})

_REGISTRY: dict[str, MetricInfo] = {}


def register_metric(name: str, fn: Callable, *, kind: Kind, range: tuple[float, float], invariances,
                    symmetric: bool, equal_dims: bool = False, cost: str, reference: str, min_n: int = 2,
                    stream: Callable | None = None, overwrite: bool = False) -> MetricInfo:
    """Add a measure to the registry (every field by keyword; see :class:`MetricInfo`).

    >>> import numpy as np
    >>> from unireps.metrics.registry import get_metric, register_metric, unregister_metric
    >>> _ = register_metric("first_column_corr", lambda X, Y: float(np.corrcoef(X[:, 0], Y[:, 0])[0, 1]),
    ...                     kind="similarity", range=(-1.0, 1.0), invariances=(), symmetric=True,
    ...                     cost="O(n)", reference="Pearson correlation of the first features")
    >>> get_metric("first_column_corr").streams
    False
    >>> unregister_metric("first_column_corr")
    """
    if kind not in ("similarity", "distance"):
        raise ValueError(f"kind must be 'similarity' or 'distance'; got {kind!r}")
    bad = sorted(set(invariances) - set(INVARIANCES))
    if bad:
        raise ValueError(f"unknown invariance(s) {bad}; declared invariances are among {INVARIANCES}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"metric {name!r} is already registered (pass overwrite=True to replace it)")
    info = MetricInfo(name, fn, kind, tuple(range), frozenset(invariances), symmetric, equal_dims, cost, reference,
                      min_n=min_n, stream=stream)
    _REGISTRY[name] = info
    return info


def unregister_metric(name: str) -> None:
    """Remove a measure added with :func:`register_metric` (no error if it is not there)."""
    _REGISTRY.pop(name, None)


register_metric("linear_cka", linear_cka, kind="similarity", range=(0.0, 1.0), invariances=_OITP, symmetric=True,
                cost="O(n d1 d2) feature form when n > d, else O(n^2 (d1 + d2))",
                reference="Kornblith et al. 2019, ICML; biased HSIC (Gretton et al. 2005)", stream=_stream_cka(False))
register_metric("linear_cka_debiased", _linear_cka_debiased, kind="similarity", range=(-1.0, 1.0),
                invariances=_OITP, symmetric=True, cost="as linear_cka",
                reference="Kornblith et al. 2019 with the unbiased HSIC of Song et al. 2012", min_n=4,
                stream=_stream_cka(True))
register_metric("rbf_cka", rbf_cka, kind="similarity", range=(0.0, 1.0), invariances=_OITP, symmetric=True,
                cost="O(n^2 (d1 + d2)) time, O(n^2) memory",
                reference="Kornblith et al. 2019; sigma^2 = threshold^2 x median squared distance")
register_metric("rsa", rsa, kind="similarity", range=(-1.0, 1.0),
                invariances={"isotropic_scaling", "feature_permutation"}, symmetric=True,
                cost="O(n^2 (d1 + d2)) + O(m log m), m = n(n-1)/2",
                reference="Kriegeskorte et al. 2008; default correlation-distance RDMs compared by Spearman", min_n=3)
register_metric("mutual_knn", mutual_knn, kind="similarity", range=(0.0, 1.0), invariances=_OIP, symmetric=True,
                cost="O(n^2 (d1 + d2)) in row chunks, O(n k) memory", reference="Huh et al. 2024, ICML (PRH)",
                min_n=12, stream=_stream_mutual_knn)
register_metric("cknna", cknna, kind="similarity", range=(-1.0, 1.0), invariances=_OIP, symmetric=False,
                cost="O(n^2 (d1 + d2)) in row chunks, O(n k^2) memory", reference="Huh et al. 2024, ICML (PRH)",
                min_n=12)
register_metric("jaccard_knn", jaccard_knn, kind="similarity", range=(0.0, 1.0), invariances=_OIP, symmetric=True,
                cost="as mutual_knn", reference="Jaccard index of k-NN sets (e.g. Klabunde et al. 2023 survey)",
                min_n=12)
register_metric("cca", cca, kind="similarity", range=(0.0, 1.0), invariances=_ALL_LINEAR, symmetric=True,
                cost="O(n (d1^2 + d2^2)) SVDs", reference="Hotelling 1936; mean canonical correlation", min_n=3,
                stream=_stream_cca("cca"))
register_metric("svcca", svcca, kind="similarity", range=(0.0, 1.0), invariances=_OITP, symmetric=True,
                cost="O(n (d1^2 + d2^2)) SVDs", reference="Raghu et al. 2017, NeurIPS; keep = 0.99 of variance",
                min_n=3, stream=_stream_cca("svcca"))
register_metric("pwcca", pwcca, kind="similarity", range=(0.0, 1.0),
                invariances={"isotropic_scaling", "translation", "feature_permutation"}, symmetric=False,
                cost="O(n (d1^2 + d2^2)) SVDs", reference="Morcos et al. 2018, NeurIPS", min_n=3,
                stream=_stream_cca("pwcca"))
register_metric("procrustes", procrustes, kind="similarity", range=(0.0, 1.0), invariances=_OITP, symmetric=True,
                cost="O(n d1 d2 + min(d1, d2, n)^3)",
                reference="Williams et al. 2021 (shape metrics); Ding et al. 2021", stream=_stream_cca("procrustes"))
register_metric("procrustes_distance", procrustes_distance, kind="distance", range=(0.0, math.pi / 2),
                invariances=_OITP, symmetric=True, cost="as procrustes",
                reference="Williams et al. 2021, NeurIPS; angular shape metric")
register_metric("linear_predictability", linear_predictability, kind="similarity", range=(-math.inf, 1.0),
                invariances=_OITP, symmetric=False, cost="O(cv n d1 min(n, d1)) SVDs",
                reference="cross-validated ridge R^2 (encoding-model practice)", min_n=10,
                stream=_stream_predictability)
register_metric("paired_cosine", paired_cosine, kind="similarity", range=(-1.0, 1.0),
                invariances={"isotropic_scaling"}, symmetric=True, equal_dims=True, cost="O(n d)",
                reference="mean cosine of matched rows", min_n=1, stream=_stream_paired_cosine)


def list_metrics() -> list[MetricInfo]:
    """Metadata for each measure: kind, range, invariances, symmetry, equal-dims need, cost, reference, streams.

    >>> from unireps.metrics import list_metrics
    >>> streaming = [m.name for m in list_metrics() if m.streams]
    >>> streaming[0], len(streaming)
    ('linear_cka', 9)
    """
    return list(_REGISTRY.values())


def get_metric(name: str) -> MetricInfo:
    """The registry entry of a measure (callable as ``get_metric(name)(X, Y, **kwargs)``).

    >>> import numpy as np
    >>> from unireps.metrics import get_metric
    >>> X = np.random.default_rng(0).standard_normal((20, 5))
    >>> round(get_metric("linear_cka")(X, 2 * X), 6)
    1.0
    """
    if isinstance(name, MetricInfo):
        return name
    if name not in _REGISTRY:
        raise ValueError(f"unknown metric {name!r}; accepted: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]
