"""The federated setting: configuration, data (digits, Dirichlet partitions), model, and one client's local update.

Data: scikit-learn's 1,797 8x8 handwritten digits (offline, shipped with scikit-learn; Alpaydin & Kaynak 1998),
split once by :func:`unireps.zoo.digits.digits_split` into train (1,000) / val (197) / test (600), standardised by
the train split.  The train split is divided between the clients by :func:`dirichlet_partition`; the test split is
the held-out evaluation set of every accuracy; the val split is the fixed probe set of the representation analysis
(never trained on).  Model: the digits MLP ``fc1, relu1, fc2, relu2, out`` (64 -> width -> width -> 10, no
BatchNorm).

Local update (the same function runs in the in-process loop and inside Flower's ClientApp): ``local_epochs`` of
plain SGD (learning rate ``lr``, batches of ``batch_size`` in an order drawn from a generator seeded by
:func:`client_seed`) on cross-entropy, plus the FedProx proximal term (μ/2)·‖w − w_global‖² when μ > 0 (Li et al.,
MLSys 2020).  One thread, deterministic algorithms: a client's update is a function of (global weights, its data,
config, round, client id).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..runtime import deterministic
from ..zoo.digits import digits_mlp, digits_split
from .partition import dirichlet_partition

STRATEGIES = ("fedavg", "fedprox", "aligned")
INITS = ("shared", "independent")


@dataclass(frozen=True)
class FedConfig:
    """One federated run.  ``strategy``: ``fedavg``, ``fedprox`` (proximal term ``mu``) or ``aligned``
    (FedAvg after permutation-aligning each client to the global model, see :func:`aligned_average`).
    ``init``: ``shared`` (every client starts round 1 from the global model, the usual FedAvg) or ``independent``
    (in round 1 client k starts from its own random init, seed ``seed + 1 + k``: FedMA's one-shot setting, where
    units of different clients are not in correspondence).

    >>> FedConfig(alpha=0.1, rounds=3).strategy
    'fedavg'
    """

    strategy: str = "fedavg"
    n_clients: int = 5
    alpha: float = 0.5
    rounds: int = 10
    local_epochs: int = 2
    lr: float = 0.1
    batch_size: int = 32
    mu: float = 0.1
    width: int = 64
    depth: int = 2
    seed: int = 0
    split_seed: int = 0
    min_client_size: int = 10
    init: str = "shared"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy={self.strategy!r}; accepted values: {', '.join(STRATEGIES)}")
        for name in ("n_clients", "rounds", "local_epochs", "batch_size", "width", "depth"):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or v < (2 if name == "n_clients" else 1):
                raise ValueError(f"FedConfig.{name} must be an integer >= {2 if name == 'n_clients' else 1}, "
                                 f"got {v!r}")
        if self.init not in INITS:
            raise ValueError(f"unknown init={self.init!r}; accepted values: {', '.join(INITS)}")
        if not (np.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"FedConfig.alpha must be a positive Dirichlet concentration, got {self.alpha!r}")
        if not (np.isfinite(self.lr) and self.lr > 0) or not (np.isfinite(self.mu) and self.mu >= 0):
            raise ValueError(f"FedConfig needs lr > 0 and mu >= 0, got lr={self.lr!r}, mu={self.mu!r}")

    @property
    def proximal_mu(self) -> float:
        """μ used by the clients: ``mu`` for FedProx, 0 otherwise."""
        return float(self.mu) if self.strategy == "fedprox" else 0.0

    def replace(self, **changes) -> FedConfig:
        return dataclasses.replace(self, **changes)

    def to_record(self) -> dict:
        """Flat dict of ints/floats/strs (a Flower ``run_config`` / ``ConfigRecord``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record) -> FedConfig:
        """Inverse of :meth:`to_record`; keys may use ``-`` for ``_`` (Flower's pyproject style)."""
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        kw = {}
        for k, v in dict(record).items():
            key = str(k).replace("-", "_")
            if key in fields:
                default = getattr(cls, key)
                kw[key] = type(default)(v)
        return cls(**kw)


@dataclass(frozen=True)
class FedData:
    """Tensors of one setting: ``x_train, y_train`` (all clients), ``parts`` (index arrays into them), the
    ``x_test, y_test`` evaluation split and the ``x_probe, y_probe`` probe set."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    parts: tuple[np.ndarray, ...]
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_probe: torch.Tensor
    y_probe: torch.Tensor

    def client(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Client k's training data ``(x, y)``."""
        if not 0 <= k < len(self.parts):
            raise ValueError(f"client id {k} out of range: this setting has {len(self.parts)} clients (0..)")
        idx = torch.tensor(self.parts[k])  # a copy: the cached partitions are read-only
        return self.x_train[idx], self.y_train[idx]

    @property
    def sizes(self) -> list[int]:
        return [len(p) for p in self.parts]


def fed_data(cfg: FedConfig) -> FedData:
    """The digits split of ``cfg.split_seed`` and its Dirichlet(``cfg.alpha``) partition over ``cfg.n_clients``
    clients (partition seed ``cfg.seed``).

    >>> d = fed_data(FedConfig(n_clients=3, alpha=0.1))
    >>> len(d.parts), sum(d.sizes), tuple(d.x_probe.shape)
    (3, 1000, (197, 64))
    """
    return _fed_data(cfg.split_seed, cfg.n_clients, float(cfg.alpha), cfg.seed, cfg.min_client_size)


@functools.lru_cache(maxsize=16)
def _fed_data(split_seed: int, n_clients: int, alpha: float, seed: int, min_size: int) -> FedData:
    # cached: a Flower ClientApp asks for its partition every round (FedData is frozen; its tensors are only read)
    split = digits_split(split_seed)
    parts = dirichlet_partition(split.y_train.numpy(), n_clients, alpha, seed=seed, min_size=min_size)
    for p in parts:
        p.setflags(write=False)
    return FedData(split.x_train, split.y_train, tuple(parts), split.x_test, split.y_test, split.x_val, split.y_val)


def make_model(cfg: FedConfig, seed: int | None = None) -> nn.Sequential:
    """The digits MLP of ``cfg`` (weights drawn from ``seed``, default ``cfg.seed``)."""
    return digits_mlp(width=cfg.width, depth=cfg.depth, seed=cfg.seed if seed is None else seed)


def start_state(cfg: FedConfig, global_sd: dict, server_round: int, client: int) -> dict:
    """The weights client ``client`` starts ``server_round`` from: the global model, except in round 1 with
    ``cfg.init == "independent"`` (its own init, seed ``cfg.seed + 1 + client``)."""
    if cfg.init == "independent" and server_round == 1:
        return make_model(cfg, seed=cfg.seed + 1 + client).state_dict()
    return global_sd


def client_seed(seed: int, server_round: int, client: int) -> int:
    """The batch-order seed of ``client`` in ``server_round`` (a fixed function of the three integers)."""
    return int(seed) * 1_000_003 + int(server_round) * 1_009 + int(client)


def local_train(state_dict: dict, x: torch.Tensor, y: torch.Tensor, cfg: FedConfig, *, seed: int,
                epochs: int | None = None, mu: float | None = None) -> dict:
    """One client's update from ``state_dict``: SGD on cross-entropy (+ (μ/2)‖w − w_start‖² if μ > 0).

    Returns the new state_dict (float32 tensors, detached).  ``epochs`` defaults to ``cfg.local_epochs`` and
    ``mu`` to ``cfg.proximal_mu``.

    >>> cfg = FedConfig(n_clients=2)
    >>> d = fed_data(cfg)
    >>> sd = local_train(make_model(cfg).state_dict(), *d.client(0), cfg, seed=0, epochs=1)
    >>> sorted(sd)[:2]
    ['fc1.bias', 'fc1.weight']
    """
    epochs = cfg.local_epochs if epochs is None else epochs
    mu = cfg.proximal_mu if mu is None else float(mu)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"local_train needs a non-empty client dataset with one label per row; got {len(x)} rows "
                         f"and {len(y)} labels")
    model = make_model(cfg)
    model.load_state_dict(state_dict)
    anchor = [p.detach().clone() for p in model.parameters()] if mu > 0 else None
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(int(seed))
    model.train()
    with deterministic():
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for s in range(0, len(x), cfg.batch_size):
                idx = order[s:s + cfg.batch_size]
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x[idx]), y[idx])
                if anchor is not None:
                    loss = loss + 0.5 * mu * sum(((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor))
                loss.backward()
                opt.step()
    model.eval()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def accuracy(cfg: FedConfig, state_dict: dict, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of the model ``state_dict`` on ``(x, y)``."""
    model = make_model(cfg)
    model.load_state_dict(state_dict)
    model.eval()
    return float((model(x).argmax(1) == y).double().mean())
