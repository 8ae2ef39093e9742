"""Representational-similarity measures. Every measure takes X (n, d1), Y (n, d2) — numpy arrays or torch
tensors whose rows are the same n stimuli — and returns a Python float; torch input stays on its device.

See ``list_metrics()`` for each measure's kind (similarity or distance), range, invariances and cost.
"""

from . import ooc
from ._validate import BootstrapShiftWarning, UninformativeWarning
from .cca import cca, pwcca, svcca
from .ceiling import RSABootstrap, bootstrap_scores, compare_matrix, noise_ceiling, pool_rdms, rsa_bootstrap
from .cka import linear_cka, rbf_cka
from .estimators import estimator_label, rsa_label
from .jackknife import JackknifeResult, jackknife_ci, jackknife_pairs
from .knn import cknna, jaccard_knn, mutual_knn
from .layers import layer_similarity
from .predictability import linear_predictability, paired_cosine
from .procrustes import procrustes, procrustes_distance
from .registry import INVARIANCES, MetricInfo, get_metric, list_metrics
from .rsa import compute_rdm, rsa, rsa_rdms
from .stats import (
    BootstrapResult,
    PermutationResult,
    bootstrap_ci,
    bootstrap_pairs,
    bootstrap_rdms,
    null_calibrated,
    permutation_test,
)
from .streaming import StreamingCCA, StreamingCKA, StreamingPredictability

__all__ = [
    "bootstrap_ci", "bootstrap_pairs", "bootstrap_rdms", "bootstrap_scores", "BootstrapResult",
    "BootstrapShiftWarning", "cca", "cknna", "compare_matrix", "compute_rdm", "estimator_label", "get_metric",
    "INVARIANCES", "jaccard_knn", "jackknife_ci", "jackknife_pairs", "JackknifeResult", "layer_similarity",
    "linear_cka", "linear_predictability", "list_metrics", "MetricInfo", "mutual_knn", "noise_ceiling",
    "null_calibrated", "ooc", "paired_cosine", "permutation_test", "PermutationResult", "pool_rdms", "procrustes",
    "procrustes_distance", "pwcca", "rbf_cka", "rsa", "rsa_bootstrap", "rsa_label", "rsa_rdms", "RSABootstrap",
    "StreamingCCA", "StreamingCKA", "StreamingPredictability", "svcca", "UninformativeWarning",
]
