"""The Flower engine: the same clients and aggregation as :func:`run_inprocess`, run by Flower (``flwr``).

Clients are Flower ``ClientApp`` s; strategies are Flower's own ``FedAvg`` and ``FedProx`` (their aggregation,
node sampling and messaging), and :class:`AlignedFedAvg`, a Flower ``FedAvg`` whose ``aggregate_train`` is
:func:`aligned_average`.  :func:`run_flower` runs them in Flower's Simulation Runtime (Ray backend: each client in a
Ray actor, ``num_cpus`` per client) and returns the same :class:`Trajectory` as the in-process loop, recorded
server-side from the replies (client weights by their ``partition-id``) and the aggregates.

Deployment on real machines (the same objects): ``unireps.federated.flower_app`` exposes ``client_app`` and
``server_app``, which read the :class:`FedConfig` from Flower's ``run_config`` (keys as in
:meth:`FedConfig.to_record`, ``-`` or ``_``) and each client's partition from ``node_config["partition-id"]`` /
``["num-partitions"]``.  A Flower App's ``pyproject.toml`` names them::

    [tool.flwr.app.components]
    serverapp = "unireps.federated.flower_app:server_app"
    clientapp = "unireps.federated.flower_app:client_app"
    [tool.flwr.app.config]
    strategy = "fedavg"
    alpha = 0.1
    rounds = 10

then ``flower-superlink --insecure`` on the server, ``flower-supernode --insecure --superlink <host>:9092
--node-config "partition-id=0 num-partitions=5"`` on each client machine, and ``flwr run . <federation>``
(Flower's deployment guide); the simulation is ``flwr run .`` with a local-simulation federation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import warnings

from .aggregate import aligned_average, moved_units
from .loop import Trajectory
from .runio import save_trajectory
from .setting import FedConfig, client_seed, fed_data, local_train, make_model, start_state

try:
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg, FedProx
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("unireps.federated.flower needs Flower: pip install 'unireps[flower]' "
                      "(flwr[simulation] >= 1.21)") from e

PARTITION_KEY = "partition-id"
RUN_KEY = "unireps-run"  # index of the config in a grid run by one simulation
OUT_KEY = "out-dir"  # run_config key of a deployment: the folder the ServerApp saves the run's weights to


def _config(cfg: FedConfig | None, context: Context) -> FedConfig:
    return cfg if cfg is not None else FedConfig.from_record(context.run_config)


def _message_config(msg: Message, cfg: FedConfig | None, context: Context) -> FedConfig:
    """The run's config: sent by the server in the train message (a grid runs several configs in one
    simulation), else ``cfg``, else Flower's ``run_config``."""
    record = msg.content["config"]
    if RUN_KEY in record:
        return FedConfig.from_record(record)
    return _config(cfg, context)


def make_client_app(cfg: FedConfig | None = None) -> ClientApp:
    """A ClientApp whose ``train`` runs :func:`local_train` on partition ``node_config["partition-id"]``.

    The config is the one the server sends in the message (:func:`make_server_app` always does); without it,
    ``cfg``, else Flower's ``run_config``.  The reply carries the weights, ``num-examples`` (FedAvg's weight),
    ``partition-id`` and the run's index (for recording).
    """
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        conf = _message_config(msg, cfg, context)
        k = int(context.node_config[PARTITION_KEY])
        if "num-partitions" in context.node_config and int(context.node_config["num-partitions"]) != conf.n_clients:
            raise ValueError(f"node_config num-partitions={context.node_config['num-partitions']} but the run "
                             f"config has n_clients={conf.n_clients}; give both the same value")
        data = fed_data(conf)
        config = msg.content["config"]
        server_round = int(config["server-round"])
        mu = float(config.get("proximal-mu", 0.0))
        start = start_state(conf, msg.content["arrays"].to_torch_state_dict(), server_round, k)
        x, y = data.client(k)
        sd = local_train(start, x, y, conf, seed=client_seed(conf.seed, server_round, k), mu=mu)
        metrics = {"num-examples": len(x), PARTITION_KEY: k, RUN_KEY: int(config.get(RUN_KEY, 0))}
        reply = RecordDict({"arrays": ArrayRecord(sd), "metrics": MetricRecord(metrics)})
        return Message(content=reply, reply_to=msg)

    return app


class _Recorder:
    """Client weights and aggregates per round, filled by the strategies' ``aggregate_train``."""

    def __init__(self) -> None:
        self.clients: list[list[dict]] = []
        self.globals: list[dict] = []
        self.extras: list[dict] = []

    def record(self, replies: list[Message], aggregate: ArrayRecord | None, n_clients: int, extra: dict) -> None:
        failed = [m.error.reason for m in replies if m.has_error()]
        if failed or len(replies) != n_clients or aggregate is None:
            raise RuntimeError(f"a Flower round got {len(replies) - len(failed)} of {n_clients} client replies "
                               f"(errors: {failed[:3]}); every client must answer (see the log above)")
        by_id = {int(m.content["metrics"][PARTITION_KEY]): m.content["arrays"].to_torch_state_dict() for m in replies}
        self.clients.append([by_id[k] for k in range(n_clients)])
        self.globals.append(aggregate.to_torch_state_dict())
        self.extras.append(extra)


class _RecordingMixin:
    recorder: _Recorder
    n_clients: int

    def aggregate_train(self, server_round: int, replies):
        replies = list(replies)
        arrays, metrics = super().aggregate_train(server_round, replies)
        self.recorder.record(replies, arrays, self.n_clients, getattr(self, "_notes", {}))
        return arrays, metrics


class RecordingFedAvg(_RecordingMixin, FedAvg):
    """Flower's FedAvg, recording every round's client weights and aggregate."""


class RecordingFedProx(_RecordingMixin, FedProx):
    """Flower's FedProx (sends ``proximal-mu`` to the clients), recording every round."""


class AlignedFedAvg(_RecordingMixin, FedAvg):
    """Flower FedAvg whose aggregation permutation-aligns each client to the previous global model first
    (:func:`aligned_average`, weights ``num-examples``)."""

    cfg: FedConfig

    def configure_train(self, server_round, arrays, config, grid):
        self._global = arrays.to_torch_state_dict()
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round: int, replies):
        replies = list(replies)
        ok = [m for m in replies if not m.has_error()]
        if not ok:
            self.recorder.record(replies, None, self.n_clients, {})
        sds = [m.content["arrays"].to_torch_state_dict() for m in ok]
        weights = [float(m.content["metrics"]["num-examples"]) for m in ok]
        new, perms = aligned_average(self._global, sds, weights, make_model(self.cfg),
                                     seed=self.cfg.seed + server_round)
        arrays = ArrayRecord(new)
        self.recorder.record(replies, arrays, self.n_clients, {"moved_units": moved_units(perms)})
        return arrays, MetricRecord({"num-examples": float(sum(weights))})


def make_strategy(cfg: FedConfig, recorder: _Recorder | None = None):
    """The Flower strategy of ``cfg.strategy`` (all clients train every round; no federated evaluation)."""
    kw = dict(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=cfg.n_clients,
              min_available_nodes=cfg.n_clients)
    if cfg.strategy == "fedprox":
        strategy = RecordingFedProx(proximal_mu=float(cfg.mu), **kw)
    elif cfg.strategy == "aligned":
        strategy = AlignedFedAvg(**kw)
        strategy.cfg = cfg
    else:
        strategy = RecordingFedAvg(**kw)
    strategy.recorder = recorder if recorder is not None else _Recorder()
    strategy.n_clients = cfg.n_clients
    return strategy


def make_server_app(configs: FedConfig | list[FedConfig] | None = None,
                    recorders: list[_Recorder] | None = None) -> ServerApp:
    """A ServerApp that runs each config of ``configs`` in turn (``rounds`` rounds of its strategy from the initial
    model ``make_model(cfg)``), sending the config to the clients with every train message; run ``i`` is recorded
    in ``recorders[i]``.  Without ``configs`` (a deployment) the one config is read from Flower's ``run_config``.
    Every config of one app needs the same ``n_clients`` (the number of SuperNodes)."""
    app = ServerApp()
    fixed = [configs] if isinstance(configs, FedConfig) else configs

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        runs = fixed if fixed is not None else [FedConfig.from_record(context.run_config)]
        recs = recorders if recorders is not None else [_Recorder() for _ in runs]
        for i, conf in enumerate(runs):
            strategy = make_strategy(conf, recs[i])
            strategy.start(grid=grid, initial_arrays=ArrayRecord(make_model(conf).state_dict()),
                           num_rounds=conf.rounds, train_config=ConfigRecord({**conf.to_record(), RUN_KEY: i}))
        out = context.run_config.get(OUT_KEY, "")
        if fixed is None and out:  # a deployment: keep the run's weights for unireps.federated.load_trajectory
            rec = recs[0]
            save_trajectory(out, Trajectory(runs[0], [make_model(runs[0]).state_dict(), *rec.globals], rec.clients,
                                            engine="flower-deployment", extras=rec.extras))

    return app


def _check_grid(configs: list[FedConfig]) -> None:
    if not configs:
        raise ValueError("run_flower_grid needs at least one FedConfig")
    sizes = sorted({c.n_clients for c in configs})
    if len(sizes) > 1:
        raise ValueError(f"one Flower simulation has one set of SuperNodes, but the configs ask for n_clients "
                         f"{sizes}; run one grid per number of clients")


@contextlib.contextmanager
def _own_sigterm():
    """Ray's ``init`` replaces the process's SIGTERM handler with one that raises ``SystemExit`` wherever the main
    thread is, and ``ray.shutdown()`` leaves it there: a later SIGTERM (e.g. stopping `unireps demo` while the app
    warms up) then unwinds whatever runs with a traceback.  Shut Ray down if Flower left it running and put the
    previous handler back."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run_flower_grid(configs: list[FedConfig], *, num_cpus: int = 2, cpus_per_client: float = 1.0,
                    verbose: bool = False) -> list[Trajectory]:
    """Run every config of ``configs`` in ONE Flower Simulation Runtime (Ray backend: ``num_cpus`` for Ray,
    ``cpus_per_client`` per ClientApp actor), one after the other, and return their :class:`Trajectory` s
    (``engine="flower-ray"``).  Starting Ray and its actors costs about 30 s on a loaded 2-core machine, so a grid
    shares one start-up.  ``verbose``: Flower's log and the Ray workers' output on the console.

    Flower's aggregation sums float32 arrays in reply order, so the weights equal the in-process loop's up to
    float32 rounding (about 1e-7 relative per round), not bit for bit.
    """
    from flwr.simulation import run_simulation

    configs = list(configs)
    _check_grid(configs)
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # Ray 2.5x's FutureWarning about GPUs
    recorders = [_Recorder() for _ in configs]
    backend = {"client_resources": {"num_cpus": float(cpus_per_client), "num_gpus": 0.0},
               "init_args": {"num_cpus": int(num_cpus), "include_dashboard": False, "log_to_driver": bool(verbose)}}
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    if not verbose:
        flwr_logger.setLevel(logging.ERROR)  # Flower's deprecation notice for run_simulation and its round log
    try:
        with warnings.catch_warnings(), _own_sigterm():
            warnings.simplefilter("ignore", DeprecationWarning)
            run_simulation(server_app=make_server_app(configs, recorders), client_app=make_client_app(),
                           num_supernodes=configs[0].n_clients, backend_name="ray", backend_config=backend,
                           verbose_logging=verbose)
    finally:
        flwr_logger.setLevel(level)
    out = []
    for i, (cfg, rec) in enumerate(zip(configs, recorders)):
        if len(rec.clients) != cfg.rounds:
            raise RuntimeError(f"the Flower simulation completed {len(rec.clients)} of {cfg.rounds} rounds of run {i} "
                               f"({cfg.strategy}, alpha={cfg.alpha:g}, seed={cfg.seed}); rerun with verbose=True to "
                               "see Flower's log")
        out.append(Trajectory(cfg, [make_model(cfg).state_dict(), *rec.globals], rec.clients, engine="flower-ray",
                              extras=rec.extras))
    return out


def run_flower(cfg: FedConfig, **kwargs) -> Trajectory:
    """Run ``cfg`` in Flower's Simulation Runtime (:func:`run_flower_grid` with one config; keyword arguments
    ``num_cpus``, ``cpus_per_client``, ``verbose`` as there) and return its :class:`Trajectory`."""
    return run_flower_grid([cfg], **kwargs)[0]
