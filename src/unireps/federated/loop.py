"""The reference in-process federated loop and the centralised / isolated baselines.

The loop is the specification that the Flower run (:mod:`unireps.federated.flower`) is tested against: every round
all clients start from the current global model, run :func:`local_train` (seed :func:`client_seed`), and the
server aggregates (FedAvg / FedProx: :func:`weighted_average`; aligned: :func:`aligned_average`) with weights
n_k.  Deterministic: two calls with one config return identical weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .aggregate import aligned_average, moved_units, weighted_average
from .setting import FedConfig, FedData, client_seed, fed_data, local_train, make_model, start_state


@dataclass
class Trajectory:
    """Weights of a federated run: ``globals[r]`` after round r (``globals[0]`` the initial model) and
    ``clients[r - 1][k]`` client k's weights after its local update in round r; ``engine`` says what ran it.
    ``extras[r - 1]`` holds per-round notes (for the aligned strategy: the fraction of units permuted)."""

    config: FedConfig
    globals: list[dict]
    clients: list[list[dict]]
    engine: str = "inprocess"
    extras: list[dict] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        return len(self.clients)


def aggregate(cfg: FedConfig, global_sd: dict, client_sds: list[dict], weights: list[float],
              server_round: int) -> tuple[dict, dict]:
    """The server step of ``cfg.strategy``: (new global state_dict, notes)."""
    if cfg.strategy == "aligned":
        new, perms = aligned_average(global_sd, client_sds, weights, make_model(cfg), seed=cfg.seed + server_round)
        return new, {"moved_units": moved_units(perms)}
    return weighted_average(client_sds, weights), {}


def run_inprocess(cfg: FedConfig, data: FedData | None = None) -> Trajectory:
    """Run ``cfg.rounds`` rounds of ``cfg.strategy`` over all ``cfg.n_clients`` clients in this process.

    >>> traj = run_inprocess(FedConfig(n_clients=2, rounds=1, local_epochs=1))
    >>> len(traj.globals), len(traj.clients[0])
    (2, 2)
    """
    data = data if data is not None else fed_data(cfg)
    g = make_model(cfg).state_dict()
    traj = Trajectory(cfg, [g], [])
    for r in range(1, cfg.rounds + 1):
        updates = [local_train(start_state(cfg, g, r, k), *data.client(k), cfg, seed=client_seed(cfg.seed, r, k))
                   for k in range(cfg.n_clients)]
        g, notes = aggregate(cfg, g, updates, data.sizes, r)
        traj.globals.append(g)
        traj.clients.append(updates)
        traj.extras.append(notes)
    return traj


def central_baseline(cfg: FedConfig, data: FedData | None = None) -> dict:
    """One model trained on the pooled data of all clients for ``rounds × local_epochs`` epochs (same init, SGD,
    batch size and learning rate): the upper reference of federated accuracy."""
    data = data if data is not None else fed_data(cfg)
    return local_train(make_model(cfg).state_dict(), data.x_train, data.y_train, cfg, seed=client_seed(cfg.seed, 0, -1),
                       epochs=cfg.rounds * cfg.local_epochs, mu=0.0)


def isolated_baseline(cfg: FedConfig, data: FedData | None = None) -> list[dict]:
    """Each client trained alone on its own data for ``rounds × local_epochs`` epochs from the shared init (no
    communication; each from the weights it would start round 1 from): the lower reference, and the largest
    client drift."""
    data = data if data is not None else fed_data(cfg)
    init = make_model(cfg).state_dict()
    return [local_train(start_state(cfg, init, 1, k), *data.client(k), cfg, seed=client_seed(cfg.seed, 0, k),
                        epochs=cfg.rounds * cfg.local_epochs, mu=0.0) for k in range(cfg.n_clients)]
