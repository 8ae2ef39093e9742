"""A federated run's weights on disk: :func:`save_trajectory` / :func:`load_trajectory` (safetensors + JSON).

A deployed Flower ServerApp (``unireps.federated.flower_app`` with ``out-dir`` in its run config) saves its run
here, so the run can be measured afterwards with :func:`unireps.federated.analyse` like a simulated one.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file
from safetensors.torch import save as st_save

from ..io import atomic_write_bytes, write_json
from .loop import Trajectory
from .setting import FedConfig

FILES = ("config.json", "global.safetensors", "clients.safetensors")


def save_trajectory(out: str | Path, traj: Trajectory) -> Path:
    """Write ``traj`` to folder ``out``: ``global.safetensors`` (keys ``round{r}.{name}``, r = 0 … rounds),
    ``clients.safetensors`` (``round{r}.client{k}.{name}``, r = 1 … rounds), ``config.json`` (the
    :class:`FedConfig`, ``engine`` and per-round ``extras``); each file written atomically.

    >>> import tempfile
    >>> from unireps.federated import FedConfig, run_inprocess
    >>> traj = run_inprocess(FedConfig(n_clients=2, rounds=1, local_epochs=1))
    >>> back = load_trajectory(save_trajectory(tempfile.mkdtemp(), traj))
    >>> back.rounds, back.engine
    (1, 'inprocess')
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    glob = {f"round{r}.{k}": v.contiguous() for r, sd in enumerate(traj.globals) for k, v in sd.items()}
    clients = {f"round{r}.client{c}.{k}": v.contiguous() for r, sds in enumerate(traj.clients, 1)
               for c, sd in enumerate(sds) for k, v in sd.items()}
    atomic_write_bytes(folder / "clients.safetensors", st_save(clients))
    atomic_write_bytes(folder / "global.safetensors", st_save(glob))
    write_json(folder / "config.json", {"config": traj.config.to_record(), "engine": traj.engine,
                                        "extras": traj.extras})
    return folder


def load_trajectory(out: str | Path) -> Trajectory:
    """The :class:`Trajectory` that :func:`save_trajectory` wrote to ``out`` (tensors through safetensors only)."""
    folder = Path(out)
    missing = [n for n in FILES if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: give the folder of a saved run (a deployed "
                                "ServerApp writes it to the run config's out-dir when the run finishes)")
    record = json.loads((folder / "config.json").read_text())
    cfg = FedConfig.from_record(record["config"])
    glob, clients = load_file(folder / "global.safetensors"), load_file(folder / "clients.safetensors")
    globals_ = [{k.split(".", 1)[1]: v for k, v in glob.items() if k.startswith(f"round{r}.")}
                for r in range(cfg.rounds + 1)]
    client_sds = [[{k.split(".", 2)[2]: v for k, v in clients.items() if k.startswith(f"round{r}.client{c}.")}
                   for c in range(cfg.n_clients)] for r in range(1, cfg.rounds + 1)]
    if any(not sd for sd in globals_) or any(not sd for sds in client_sds for sd in sds):
        raise ValueError(f"{folder}: the weight files do not hold {cfg.rounds} rounds of {cfg.n_clients} clients as "
                         "config.json says; save the run again")
    return Trajectory(cfg, globals_, client_sds, engine=str(record.get("engine", "saved")),
                      extras=list(record.get("extras", [])))
