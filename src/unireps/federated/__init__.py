"""Federated learning seen through representational convergence (issue 19).

Clients hold Dirichlet(α) label-skewed partitions of the digits; they train the digits MLP locally; the server
aggregates by FedAvg, FedProx or permutation-aligned averaging.  Every round is measured: global and client
accuracy, linear CKA and mutual k-NN client↔global and client↔client per layer, loss barriers between clients,
beside the centralised, isolated and untrained baselines.  :func:`run_inprocess` is the reference loop; the Flower
engine (``unireps.federated.flower``, needs ``flwr[simulation]``) runs the same clients and aggregation.
"""

from .aggregate import aligned_average, moved_units, weighted_average
from .analysis import analyse, baselines, features, layer_names
from .loop import Trajectory, aggregate, central_baseline, isolated_baseline, run_inprocess
from .partition import dirichlet_partition, partition_summary
from .runio import load_trajectory, save_trajectory
from .setting import INITS, STRATEGIES, FedConfig, FedData, accuracy, client_seed, fed_data, local_train, make_model

__all__ = [
    "INITS", "STRATEGIES", "FedConfig", "FedData", "Trajectory", "accuracy", "aggregate", "aligned_average",
    "analyse", "baselines", "central_baseline", "client_seed", "dirichlet_partition", "fed_data", "features",
    "isolated_baseline", "layer_names", "load_trajectory", "local_train", "make_model", "moved_units",
    "partition_summary", "run_inprocess", "save_trajectory", "weighted_average",
]
