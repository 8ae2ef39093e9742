"""Representational-similarity measures. Every measure takes X (n, d1), Y (n, d2) — numpy arrays or torch
tensors whose rows are the same n stimuli — and returns a Python float; torch input stays on its device.

See ``list_metrics()`` for each measure's kind (similarity or distance), range, invariances and cost.
"""

from . import ooc
from ._validate import UninformativeWarning
from .cca import cca, pwcca, svcca
from .ceiling import RSABootstrap, bootstrap_scores, compare_matrix, noise_ceiling, pool_rdms, rsa_bootstrap
from .cka import linear_cka, rbf_cka
from .estimators import estimator_label, rsa_label
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
    "INVARIANCES", "BootstrapResult", "MetricInfo", "PermutationResult", "RSABootstrap", "StreamingCCA",
    "StreamingCKA", "StreamingPredictability", "UninformativeWarning", "bootstrap_ci", "bootstrap_pairs",
    "bootstrap_scores",
    "compare_matrix", "estimator_label", "noise_ceiling", "pool_rdms", "rsa_bootstrap", "rsa_label",
    "bootstrap_rdms", "cca", "ooc",
    "cknna", "compute_rdm", "get_metric", "jaccard_knn", "layer_similarity", "linear_cka",
    "linear_predictability", "list_metrics", "mutual_knn", "null_calibrated", "paired_cosine",
    "permutation_test", "procrustes", "procrustes_distance", "pwcca", "rbf_cka", "rsa", "rsa_rdms", "svcca",
]
