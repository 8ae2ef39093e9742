"""Per-round measurements of a federated run: accuracy, representational drift, loss barriers, with baselines.

For every round r of a :class:`Trajectory` (``pair`` column):

* ``global`` — accuracy of the aggregated model on the held-out test split (round 0: the initial model);
* ``client`` — accuracy on the test split of each client's model after its local update (mean, sd, min over the
  K clients; a client sees only its own labels, so this is its drift in function);
* ``client-global`` — linear CKA (biased HSIC, Kornblith et al. 2019) and mutual k-NN (k = 10, cosine, self
  excluded; Huh et al. 2024; chance ≈ k / (n − 1)) between each client model and the round's aggregate, per layer,
  on the fixed probe set (the val split, n = 197 digits never trained on);
* ``client-client`` — the same between every pair of client models (K(K − 1)/2 pairs), and the loss and error
  barriers of linear interpolation between them (:func:`unireps.merge.lmc_curve`, 11 points) on the pair's pooled
  training data (where both endpoints are fit; on the class-balanced test split both endpoints are poor and the
  barrier is ~0 by construction).

Layers: the post-ReLU activations ``relu1`` … ``relu{depth}`` and the logits ``out``.  ``mean``/``sd``/``min``
summarise the clients or pairs (``n`` of them); the sd is their spread, not a sampling error.  Baselines
(:func:`baselines`) use the same columns: ``central`` (one model on pooled data), ``isolated`` (clients trained
alone), ``untrained`` (K independently initialised untrained networks: the floor a similarity must clear).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import torch

from ..merge import barriers, lmc_curve
from ..metrics import linear_cka, mutual_knn
from ..runtime import deterministic
from .loop import Trajectory, central_baseline, isolated_baseline
from .setting import FedConfig, FedData, accuracy, fed_data, make_model

K_NN = 10
BARRIER_POINTS = 11


def layer_names(cfg: FedConfig) -> list[str]:
    """The analysed layers of the model of ``cfg``: ``relu1`` … ``relu{depth}``, ``out``."""
    return [f"relu{i}" for i in range(1, cfg.depth + 1)] + ["out"]


@torch.no_grad()
def features(cfg: FedConfig, state_dict: dict, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Activations of :func:`layer_names` (float64, (n, width)) of the model ``state_dict`` on ``x``.

    >>> cfg = FedConfig()
    >>> f = features(cfg, make_model(cfg).state_dict(), fed_data(cfg).x_probe)
    >>> list(f), tuple(f["out"].shape)
    (['relu1', 'relu2', 'out'], (197, 10))
    """
    model = make_model(cfg)
    model.load_state_dict(state_dict)
    model.eval()
    wanted, out, h = set(layer_names(cfg)), {}, x
    for name, module in model.named_children():
        h = module(h)
        if name in wanted:
            out[name] = h.double()
    return out


def mutual_knn_nonzero(a: torch.Tensor, b: torch.Tensor, k: int = K_NN) -> tuple[float, int]:
    """Mutual k-NN over the probe rows that are non-zero in both representations (cosine neighbours are undefined
    for an all-zero ReLU row); returns (value, rows used)."""
    keep = (a.abs().sum(1) > 0) & (b.abs().sum(1) > 0)
    n = int(keep.sum())
    if n < k + 2:
        raise ValueError(f"only {n} probe rows are non-zero in both representations; mutual k-NN with k={k} needs "
                         f"at least {k + 2} (the layer is dead: lower the learning rate)")
    return mutual_knn(a[keep], b[keep], k=k), n


def _similarities(fa: dict, fb: dict) -> list[dict]:
    rows = []
    for layer in fa:
        m, n_used = mutual_knn_nonzero(fa[layer], fb[layer])
        rows.append({"layer": layer, "measure": "cka", "value": linear_cka(fa[layer], fb[layer])})
        rows.append({"layer": layer, "measure": "mutual_knn", "value": m, "n_probe_used": n_used})
    return rows


def _summary(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "min": float(v.min()),
            "n": len(v)}


def _pair_rows(cfg: FedConfig, data: FedData, models: list[dict], feats: list[dict], with_barrier: bool) -> list[dict]:
    raw: dict[tuple[str, str], list[float]] = {}
    for i, j in itertools.combinations(range(len(models)), 2):
        for r in _similarities(feats[i], feats[j]):
            raw.setdefault((r["measure"], r["layer"]), []).append(r["value"])
        if with_barrier:
            (xi, yi), (xj, yj) = data.client(i), data.client(j)
            curve = lmc_curve(make_model(cfg), models[i], models[j], torch.cat([xi, xj]), torch.cat([yi, yj]),
                              n_points=BARRIER_POINTS)
            for key, value in barriers(curve).items():
                raw.setdefault((key, "output"), []).append(value)
    return [{"pair": "client-client", "measure": m, "layer": layer, **_summary(v)} for (m, layer), v in raw.items()]


def _client_rows(cfg: FedConfig, data: FedData, clients: list[dict], global_sd: dict | None,
                 with_barrier: bool) -> tuple[list[dict], list[dict]]:
    """Summary rows and per-client rows for one set of client models (and their aggregate, if any)."""
    feats = [features(cfg, sd, data.x_probe) for sd in clients]
    accs = [accuracy(cfg, sd, data.x_test, data.y_test) for sd in clients]
    rows = [{"pair": "client", "measure": "accuracy", "layer": "output", **_summary(accs)}]
    per_client = [{"client": k, "n_train": len(data.parts[k]), "measure": "accuracy", "layer": "output", "value": a}
                  for k, a in enumerate(accs)]
    if global_sd is not None:
        fg = features(cfg, global_sd, data.x_probe)
        raw: dict[tuple[str, str], list[float]] = {}
        for k, f in enumerate(feats):
            for r in _similarities(f, fg):
                raw.setdefault((r["measure"], r["layer"]), []).append(r["value"])
                per_client.append({"client": k, "n_train": len(data.parts[k]), "measure": f"{r['measure']}_to_global",
                                   "layer": r["layer"], "value": r["value"]})
        rows += [{"pair": "client-global", "measure": m, "layer": layer, **_summary(v)}
                 for (m, layer), v in raw.items()]
    rows += _pair_rows(cfg, data, clients, feats, with_barrier)
    return rows, per_client


def _key(cfg: FedConfig, engine: str) -> dict:
    return {"engine": engine, "strategy": cfg.strategy, "alpha": cfg.alpha, "init": cfg.init, "seed": cfg.seed,
            "n_clients": cfg.n_clients}


def analyse(traj: Trajectory, data: FedData | None = None, *, with_barrier: bool = True
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-round summary table, per-client table) of a trajectory; columns described in the module docstring.

    Summary columns: engine, strategy, alpha, init, seed, n_clients, round, pair, measure, layer, mean, sd, min, n,
    n_eval (test rows for accuracies and barriers, probe rows for similarities), plus ``moved_units`` (aligned).

    >>> from unireps.federated import FedConfig, run_inprocess
    >>> summary, per_client = analyse(run_inprocess(FedConfig(n_clients=2, rounds=1, local_epochs=1)),
    ...                               with_barrier=False)
    >>> sorted(summary.pair.unique())
    ['client', 'client-client', 'client-global', 'global']
    """
    with deterministic():
        return _analyse(traj, data, with_barrier)


def _analyse(traj: Trajectory, data: FedData | None, with_barrier: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg = traj.config
    data = data if data is not None else fed_data(cfg)
    key = _key(cfg, traj.engine)
    rows, per_client = [], []
    for r, g in enumerate(traj.globals):
        rows.append({**key, "round": r, "pair": "global", "measure": "accuracy", "layer": "output",
                     **_summary([accuracy(cfg, g, data.x_test, data.y_test)])})
        if r == 0:
            continue
        s, pc = _client_rows(cfg, data, traj.clients[r - 1], g, with_barrier)
        extra = traj.extras[r - 1] if len(traj.extras) >= r else {}
        rows += [{**key, "round": r, **row, **extra} for row in s]
        per_client += [{**key, "round": r, **row} for row in pc]
    return _with_n_eval(pd.DataFrame(rows), data), pd.DataFrame(per_client)


def _with_n_eval(table: pd.DataFrame, data: FedData) -> pd.DataFrame:
    table["n_eval"] = np.select([table.measure.eq("accuracy"), table.measure.str.endswith("barrier")],
                                [len(data.y_test), -1], len(data.y_probe))  # -1: the pair's pooled training rows
    if "n_probe_used" in table:
        table = table.drop(columns="n_probe_used")
    return table


def baselines(cfg: FedConfig, data: FedData | None = None, *, with_barrier: bool = True) -> pd.DataFrame:
    """Baseline rows (column ``baseline``: central, isolated, untrained) in the summary table's columns.

    ``central``: accuracy of one model trained on the pooled data (rounds × local_epochs epochs).  ``isolated``:
    clients trained alone — their accuracies and client-client similarities and barriers.  ``untrained``: K
    independently initialised untrained networks — client-client similarities (the floor of any drift measure)
    and their accuracy (chance ≈ 0.1).

    >>> b = baselines(FedConfig(n_clients=2, rounds=1, local_epochs=1), with_barrier=False)
    >>> sorted(b.baseline.unique())
    ['central', 'isolated', 'untrained']
    """
    with deterministic():
        return _baselines(cfg, data, with_barrier)


def _baselines(cfg: FedConfig, data: FedData | None, with_barrier: bool) -> pd.DataFrame:
    data = data if data is not None else fed_data(cfg)
    key = {**_key(cfg, "inprocess"), "strategy": "baseline", "round": cfg.rounds}
    rows = [{**key, "baseline": "central", "pair": "global", "measure": "accuracy", "layer": "output",
             **_summary([accuracy(cfg, central_baseline(cfg, data), data.x_test, data.y_test)])}]
    iso, _ = _client_rows(cfg, data, isolated_baseline(cfg, data), None, with_barrier)
    rows += [{**key, "baseline": "isolated", **r} for r in iso]
    untrained = [make_model(cfg, seed=cfg.seed + 1 + k).state_dict() for k in range(cfg.n_clients)]
    unt, _ = _client_rows(cfg, data, untrained, None, with_barrier=False)
    rows += [{**key, "round": 0, "baseline": "untrained", **r} for r in unt]
    return _with_n_eval(pd.DataFrame(rows), data)
