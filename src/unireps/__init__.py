"""unireps: when, how and why do different neural models learn the same representations?

Layers, one job each: ``metrics`` (measures, know nothing of models), ``models`` (load and extract),
``data`` (datasets), ``zoo`` (small models trained here), ``analysis``, ``viz``, ``report``, ``app``, ``cli``.
"""

from ._version import __version__

__all__ = ["__version__", "audit"]


def audit(X, Y, metric: str = "linear_cka", **kwargs):
    """Reliability audit of one comparison (``unireps.analysis.audit.audit``): n, d, effective ranks, biased and
    debiased CKA, the permutation null, a bootstrap CI, split-half reliability, outlier dimensions, warnings.

    >>> import numpy as np, unireps
    >>> rng = np.random.default_rng(0)
    >>> a = unireps.audit(rng.normal(size=(60, 5)), rng.normal(size=(60, 5)), n_permutations=20, n_boot=20)
    >>> a.numbers["n"], a.numbers["d_x"]
    (60, 5)
    """
    from .analysis.audit import audit as _audit

    return _audit(X, Y, metric, **kwargs)
