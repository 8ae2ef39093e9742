"""Model merging on state_dicts: soups, task arithmetic, TIES, Fisher averaging, SLERP, permutation alignment
(Git Re-Basin) and linear mode connectivity.  See ``docs/applications.md``."""

from .arithmetic import (
    add_task_vectors,
    disjoint_merge,
    elect_sign,
    negate,
    task_arithmetic,
    task_vector,
    ties_merge,
    trim,
)
from .curve import CURVE_METHODS, digits_merge_curve, merge_at
from .fisher import diagonal_fisher, fisher_merge
from .lmc import barrier, barriers, interpolate, lmc_curve, recompute_bn_stats
from .permutation import (
    PermutationSpec,
    activation_matching,
    apply_permutation,
    check_spec,
    invert_permutation,
    mlp_spec,
    random_permutation,
    spec_from_module,
    transformer_encoder_spec,
    weight_matching,
)
from .slerp import slerp, slerp_tensor
from .soups import GreedySoupResult, greedy_soup, uniform_soup

__all__ = [
    "CURVE_METHODS", "GreedySoupResult", "digits_merge_curve", "merge_at",
    "PermutationSpec", "activation_matching", "add_task_vectors", "apply_permutation", "barrier",
    "barriers", "check_spec", "diagonal_fisher", "disjoint_merge", "elect_sign", "fisher_merge", "greedy_soup",
    "interpolate", "invert_permutation", "lmc_curve", "mlp_spec",
    "negate", "random_permutation", "recompute_bn_stats", "slerp", "slerp_tensor", "spec_from_module",
    "task_arithmetic", "task_vector", "ties_merge", "transformer_encoder_spec", "trim",
    "uniform_soup", "weight_matching",
]
