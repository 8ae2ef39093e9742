"""Federated learning seen through representational convergence (issue 19).

Clients hold Dirichlet(α) label-skewed partitions of the digits; they train the digits MLP locally; the server
aggregates by FedAvg, FedProx or permutation-aligned averaging.  Every round is measured: global and client
accuracy, linear CKA and mutual k-NN client↔global and client↔client per layer, loss barriers between clients,
beside the centralised, isolated and untrained baselines.  :func:`run_inprocess` is the reference loop; the Flower
engine (``unireps.federated.flower``, needs ``flwr[simulation]``) runs the same clients and aggregation.

The analysis names (``analyse``, ``baselines``, ``features``, ``layer_names``) load their module on first use
(PEP 562): a Flower client actor, which imports this package to unpickle its ClientApp, then loads what a client
needs (the setting, torch) and not the analysis's scipy and pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .aggregate import aligned_average, moved_units, weighted_average
from .loop import Trajectory, aggregate, central_baseline, isolated_baseline, run_inprocess
from .partition import dirichlet_partition, partition_summary
from .runio import load_trajectory, save_trajectory
from .setting import INITS, STRATEGIES, FedConfig, FedData, accuracy, client_seed, fed_data, local_train, make_model

if TYPE_CHECKING:  # for type checkers and the API docs
    from .analysis import analyse, baselines, features, layer_names

_LAZY = ("analyse", "baselines", "features", "layer_names")  # from .analysis, on first use


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".analysis", __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "INITS", "STRATEGIES", "FedConfig", "FedData", "Trajectory", "accuracy", "aggregate", "aligned_average",
    "analyse", "baselines", "central_baseline", "client_seed", "dirichlet_partition", "fed_data", "features",
    "isolated_baseline", "layer_names", "load_trajectory", "local_train", "make_model", "moved_units",
    "partition_summary", "run_inprocess", "save_trajectory", "weighted_average",
]
