"""The federated experiment grid (strategies × α), its per-round table and a results paragraph for the report.

The question: how does heterogeneity (α) change how far clients' representations drift apart, does
alignment-aware aggregation recover accuracy where FedAvg loses it, and does representational divergence between
clients predict the accuracy lost by federating?  :func:`run_experiment` runs every (seed, α, strategy) on one
engine (Flower's simulation by default: the whole grid in one Simulation Runtime) and the baselines per seed and α;
:func:`seed_table` gives one row per (α, strategy, round, seed) plus the baseline rows; :func:`results_table`
their mean and SD over seeds; :func:`round_rows` the closing table (mean ± SD at chosen rounds);
:func:`results_paragraph` states what those numbers show, with the estimators, n and the spread over seeds;
:func:`report_section` returns table and paragraph for the report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..errors import MissingDependencyError
from .analysis import K_NN, analyse, baselines
from .loop import run_inprocess
from .partition import partition_summary
from .setting import STRATEGIES, FedConfig, fed_data

ENGINES = ("flower", "inprocess")  # the first is the default


def grid_configs(config: FedConfig, alphas: Sequence[float], strategies: Sequence[str],
                 seeds: Sequence[int]) -> list[FedConfig]:
    """The runs of a grid: one :class:`FedConfig` per (seed, α, strategy), other settings from ``config``.

    >>> tuple((c.seed, c.alpha, c.strategy) for c in grid_configs(FedConfig(), [0.1], ["fedavg", "aligned"], [0, 1]))
    ((0, 0.1, 'fedavg'), (0, 0.1, 'aligned'), (1, 0.1, 'fedavg'), (1, 0.1, 'aligned'))
    """
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not strategies:
        raise ValueError(f"strategies must be some of {', '.join(STRATEGIES)}; got {list(strategies)}")
    if not alphas:
        raise ValueError("give at least one alpha (Dirichlet concentration), e.g. alphas=(0.1, 10)")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers, at least one (e.g. seeds=(0, 1, 2)); got {seeds}")
    return [config.replace(alpha=float(a), strategy=s, seed=sd) for sd in seeds for a in alphas for s in strategies]


def run_experiment(config: FedConfig | None = None, *, alphas: Sequence[float] = (0.1, 10.0),
                   strategies: Sequence[str] = STRATEGIES, seeds: Sequence[int] | None = None,
                   engine: str = "flower", with_barrier: bool = True, progress=None,
                   flower_options: dict | None = None) -> dict[str, pd.DataFrame]:
    """Every (seed, α, strategy) of the grid from ``config`` (its other settings shared), analysed every round.

    ``seeds`` (default: ``config.seed`` only) each change the partition, the initialisation and the batch order.
    ``engine="flower"`` (default) runs the whole grid in one Flower Simulation Runtime
    (:func:`unireps.federated.flower.run_flower_grid`); ``engine="inprocess"`` runs the reference loop
    (:func:`run_inprocess`) that Flower is tested against, without Ray; ``flower_options`` are keyword arguments
    of :func:`~unireps.federated.flower.run_flower_grid` (e.g. ``{"num_cpus": 1}``: Ray on one core, one client
    actor).  ``progress(message)`` reports each step.

    Returns tables ``rounds`` (long summary, :func:`analyse`), ``per_client``, ``baselines`` (per seed and α) and
    ``partitions`` (label counts per client, seed and α); each has a ``seed`` column.

    >>> t = run_experiment(FedConfig(n_clients=2, rounds=1, local_epochs=1), alphas=[1.0], strategies=["fedavg"],
    ...                    seeds=[0, 1], engine="inprocess", with_barrier=False)
    >>> tuple(sorted(t)), tuple(sorted(t["rounds"].seed.unique().tolist()))
    (('baselines', 'partitions', 'per_client', 'rounds'), (0, 1))
    """
    config = config or FedConfig()
    if engine not in ENGINES:
        raise ValueError(f"unknown engine={engine!r}; accepted values: {', '.join(ENGINES)}")
    configs = grid_configs(config, alphas, strategies, [config.seed] if seeds is None else seeds)
    say = progress or (lambda message: None)
    if engine == "flower":
        try:
            from .flower import run_flower_grid
        except ImportError as e:
            raise MissingDependencyError(f"engine='flower' needs Flower's simulation engine ({e}); install it with "
                                         "pip install 'unireps[flower]', or run the reference loop with "
                                         "engine='inprocess' (CLI: --engine inprocess)") from e
        say(f"Flower simulation (Ray backend) of {len(configs)} runs...")
        trajectories = run_flower_grid(configs, **(flower_options or {}))
    else:
        trajectories = (run_inprocess(cfg) for cfg in configs)  # lazily, one run at a time
    rounds, per_client, base, parts = [], [], [], []
    for cfg, traj in zip(configs, trajectories):
        say(f"seed={cfg.seed} alpha={cfg.alpha:g} strategy={cfg.strategy} engine={engine}: analysing")
        data = fed_data(cfg)
        summary, pc = analyse(traj, data, with_barrier=with_barrier)
        rounds.append(summary)
        per_client.append(pc)
    for sd in dict.fromkeys(c.seed for c in configs):
        for alpha in dict.fromkeys(c.alpha for c in configs):
            cfg = config.replace(alpha=alpha, seed=sd)
            data = fed_data(cfg)
            parts.append(partition_summary(data.y_train.numpy(), list(data.parts)).assign(alpha=alpha, seed=sd))
            say(f"seed={sd} alpha={alpha:g}: baselines")
            base.append(baselines(cfg, data, with_barrier=with_barrier))
    return {"rounds": pd.concat(rounds, ignore_index=True), "per_client": pd.concat(per_client, ignore_index=True),
            "baselines": pd.concat(base, ignore_index=True), "partitions": pd.concat(parts, ignore_index=True)}


COLUMNS = {  # wide column -> (pair, measure, layer or None for the chosen layer)
    "global_acc": ("global", "accuracy", "output"),
    "client_acc": ("client", "accuracy", "output"),
    "cka_client_global": ("client-global", "cka", None),
    "cka_client_client": ("client-client", "cka", None),
    "mknn_client_global": ("client-global", "mutual_knn", None),
    "mknn_client_client": ("client-client", "mutual_knn", None),
    "error_barrier": ("client-client", "error_barrier", "output"),
}


KEYS = ["alpha", "strategy", "round"]
BASELINE_ORDER = {"central": 0, "isolated": 1, "untrained": 2}
STRATEGY_ORDER = {s: i for i, s in enumerate(STRATEGIES)}


def _wide(long: pd.DataFrame, keys: list[str], layer: str) -> pd.DataFrame:
    out = None
    for col, (pair, measure, lay) in COLUMNS.items():
        sel = long[(long.pair == pair) & (long.measure == measure) & (long.layer == (lay or layer))]
        part = sel[keys + ["mean"]].rename(columns={"mean": col})
        out = part if out is None else out.merge(part, on=keys, how="outer")
    return out


def seed_table(tables: dict[str, pd.DataFrame], layer: str = "relu2") -> pd.DataFrame:
    """One row per (alpha, strategy, round, seed), then per α and seed the baselines (strategy ``central``,
    ``isolated``, ``untrained``); columns as :data:`COLUMNS` (means over clients or client pairs at ``layer``).

    >>> t = run_experiment(FedConfig(n_clients=2, rounds=1, local_epochs=1), alphas=[1.0], strategies=["fedavg"],
    ...                    engine="inprocess", with_barrier=False)
    >>> tuple(map(tuple, seed_table(t)[["strategy", "round", "seed"]].values.tolist()))
    (('fedavg', 0, 0), ('fedavg', 1, 0), ('central', 1, 0), ('isolated', 1, 0), ('untrained', 0, 0))
    """
    keys = [*KEYS, "seed"]
    runs = _wide(tables["rounds"], keys, layer)
    base = tables["baselines"].drop(columns="strategy").rename(columns={"baseline": "strategy"})
    base = _wide(base, keys, layer)
    base = base.sort_values(["alpha", "seed", "strategy"],
                            key=lambda s: s.map(BASELINE_ORDER) if s.name == "strategy" else s)
    runs = runs.sort_values(["alpha", "strategy", "round", "seed"], kind="stable",
                            key=lambda s: s.map(STRATEGY_ORDER) if s.name == "strategy" else s)
    out = pd.concat([runs, base], ignore_index=True)
    out = out.sort_values("alpha", kind="stable").reset_index(drop=True)
    return out[[*keys, *COLUMNS]]


def results_table(tables: dict[str, pd.DataFrame], layer: str = "relu2") -> pd.DataFrame:
    """One row per (alpha, strategy, round), then per α the baselines (strategy ``central``, ``isolated``,
    ``untrained``): each column of :data:`COLUMNS` (global_acc, client_acc, cka_/mknn_ client_global and
    client_client at ``layer``, error_barrier) as its mean over the seeds, beside ``<column>_sd`` (the SD over
    seeds, ddof = 1; NaN with one seed) and ``n_seeds``.  Within a seed every value is already a mean over clients
    or client pairs (:func:`seed_table`).  Estimators and n are in :func:`results_paragraph` and the ``rounds``
    table.

    >>> t = run_experiment(FedConfig(n_clients=2, rounds=1, local_epochs=1), alphas=[1.0], strategies=["fedavg"],
    ...                    seeds=[0, 1], engine="inprocess", with_barrier=False)
    >>> r = results_table(t)
    >>> tuple(map(tuple, r[["strategy", "round", "n_seeds"]].values.tolist()))
    (('fedavg', 0, 2), ('fedavg', 1, 2), ('central', 1, 2), ('isolated', 1, 2), ('untrained', 0, 2))
    """
    per_seed = seed_table(tables, layer)
    groups = per_seed.groupby(KEYS, sort=False)
    out = groups[list(COLUMNS)].mean()
    sd = groups[list(COLUMNS)].std(ddof=1).add_suffix("_sd")
    out = out.join(sd).join(groups.seed.nunique().rename("n_seeds")).reset_index()
    cols = [*KEYS, "n_seeds"] + [c for col in COLUMNS for c in (col, f"{col}_sd")]
    return out[cols]


def round_rows(table: pd.DataFrame, rounds: Sequence[int] = (1, 2, 5, 10),
               columns: Sequence[str] = ("global_acc", "client_acc", "cka_client_client", "cka_client_global")
               ) -> pd.DataFrame:
    """The rows of :func:`results_table` at ``rounds`` (those a run has) and the baselines, each column written
    ``mean ± SD`` over seeds (the mean alone with one seed, blank where not measured): the closing table.

    >>> t = run_experiment(FedConfig(n_clients=2, rounds=2, local_epochs=1), alphas=[1.0], strategies=["fedavg"],
    ...                    seeds=[0, 1], engine="inprocess", with_barrier=False)
    >>> tuple(round_rows(results_table(t), rounds=(2,)).strategy)
    ('fedavg', 'central', 'isolated', 'untrained')
    """
    base = table.strategy.isin(list(BASELINE_ORDER))
    rows = table[base | table["round"].isin(list(rounds))]
    out = rows[[*KEYS, "n_seeds"]].copy()
    for col in columns:
        out[col] = [_pm(m, s, n) for m, s, n in zip(rows[col], rows[f"{col}_sd"], rows.n_seeds)]
    return out.reset_index(drop=True)


def _pm(mean: float, sd: float, n: int) -> str:
    if not np.isfinite(mean):
        return ""
    return f"{mean:.3f} ± {sd:.3f}" if n > 1 and np.isfinite(sd) else f"{mean:.3f}"


def _final(table: pd.DataFrame, alpha: float, strategy: str, col: str) -> str:
    """``mean ± SD`` over seeds of ``col`` at the last round of (alpha, strategy) ("nan" when absent)."""
    rows = table[(table.alpha == alpha) & (table.strategy == strategy)]
    rows = rows[rows[col].notna()].sort_values("round")
    if not len(rows):
        return "nan"
    last = rows.iloc[-1]
    return _pm(float(last[col]), float(last[f"{col}_sd"]), int(last.n_seeds))


def _final_mean(table: pd.DataFrame, alpha: float, strategy: str, col: str) -> float:
    rows = table[(table.alpha == alpha) & (table.strategy == strategy)]
    rows = rows[rows[col].notna()].sort_values("round")
    return float(rows[col].iloc[-1]) if len(rows) else float("nan")


def divergence_vs_accuracy(tables: dict[str, pd.DataFrame], layer: str = "relu2", *, measure: str = "cka",
                           at_round: int | None = None) -> dict:
    """Spearman correlation, over every (seed, α, strategy, round ≥ 1) — or only round ``at_round``, which removes
    the shared trend over rounds — between client divergence (1 − mean client-client ``measure``, ``cka`` or
    ``mknn``, at ``layer``) and the accuracy lost by federating (the same seed's central − global accuracy).

    >>> t = run_experiment(FedConfig(n_clients=2, rounds=2, local_epochs=1), alphas=[1.0], strategies=["fedavg"],
    ...                    seeds=[0, 1], engine="inprocess", with_barrier=False)
    >>> divergence_vs_accuracy(t)["n"]
    4
    """
    if measure not in ("cka", "mknn"):
        raise ValueError(f"measure must be 'cka' or 'mknn', got {measure!r}")
    col = f"{measure}_client_client"
    t = seed_table(tables, layer)
    central = t[t.strategy == "central"].set_index(["alpha", "seed"]).global_acc
    runs = t[~t.strategy.isin(list(BASELINE_ORDER)) & (t["round"] >= 1)].dropna(subset=[col, "global_acc"])
    if at_round is not None:
        runs = runs[runs["round"] == at_round]
    loss = central.reindex(pd.MultiIndex.from_frame(runs[["alpha", "seed"]])).to_numpy() - runs.global_acc.to_numpy()
    div = 1 - runs[col]
    if len(runs) < 3:
        return {"rho": float("nan"), "p": float("nan"), "n": len(runs)}
    res = spearmanr(div, loss)
    return {"rho": float(res.statistic), "p": float(res.pvalue), "n": len(runs)}


ENGINE_WORDS = {"flower-ray": "run on Flower's Simulation Runtime: clients are Flower ClientApps in Ray workers, "
                                "the server Flower's strategies", "inprocess": "run on the in-process reference loop"}


def _engine_phrase(tables: dict[str, pd.DataFrame]) -> str:
    engines = list(dict.fromkeys(tables["rounds"].engine))
    return "; ".join(ENGINE_WORDS.get(e, f"run on {e}") for e in engines)


def _seeds_phrase(tables: dict[str, pd.DataFrame]) -> str:
    seeds = sorted(int(s) for s in tables["rounds"].seed.unique())
    if len(seeds) == 1:
        return f"one seed, {seeds[0]}; no spread over runs"
    return (f"{len(seeds)} seeds ({', '.join(map(str, seeds))}), each drawing its own partition, initialisation and "
            "batch order; values are mean ± SD over seeds")


def results_paragraph(tables: dict[str, pd.DataFrame], config: FedConfig | None = None, layer: str = "relu2") -> str:
    """A paragraph for the report: what the measured grid shows, with the estimators, n and the spread over seeds
    (numbers from ``tables`` only; nothing hard-coded).

    >>> cfg = FedConfig(n_clients=2, rounds=1, local_epochs=1)
    >>> t = run_experiment(cfg, alphas=[0.1, 10.0], strategies=["fedavg"], seeds=[0, 1], engine="inprocess",
    ...                    with_barrier=False)
    >>> "2 seeds (0, 1)" in results_paragraph(t, cfg)
    True
    """
    config = config or FedConfig()
    t = results_table(tables, layer)
    alphas = sorted(t.alpha.unique())
    strategies = [s for s in STRATEGIES if s in set(t.strategy)]
    lo, hi = alphas[0], alphas[-1]
    n_probe = int(tables["rounds"].query("measure == 'cka'").n_eval.iloc[0])
    n_test = int(tables["rounds"].query("measure == 'accuracy'").n_eval.iloc[0])
    rounds = int(tables["rounds"]["round"].max())
    ref = "fedavg" if "fedavg" in strategies else strategies[0]
    acc = {(a, s): _final(t, a, s, "global_acc") for a in alphas for s in strategies + ["central"]}
    cc = {a: _final(t, a, ref, "cka_client_client") for a in alphas}
    iso_cc = {a: _final(t, a, "isolated", "cka_client_client") for a in alphas}
    iso_acc = {a: _final(t, a, "isolated", "client_acc") for a in alphas}
    unt_cc = _final(t, lo, "untrained", "cka_client_client")
    apart = _final_mean(t, lo, ref, "cka_client_client") < _final_mean(t, hi, ref, "cka_client_client")
    alpha_set = ", ".join(f"{a:g}" for a in alphas)
    parts = [
        f"Federated digits ({config.n_clients} clients, Dirichlet label skew α ∈ {{{alpha_set}}}, {rounds} rounds "
        f"of {config.local_epochs} local SGD epochs, {config.width}-unit MLP; {_seeds_phrase(tables)}; "
        f"{_engine_phrase(tables)}). "
        f"After round {rounds} the global model reaches "
        + "; ".join(f"α={a:g}: " + ", ".join(f"{s} {acc[(a, s)]}" for s in strategies) for a in alphas)
        + f" test accuracy (n = {n_test}), against "
        + ", ".join(f"{acc[(a, 'central')]} (α={a:g})" for a in alphas)
        + " for the same model trained centrally on the pooled data and a mean of "
        + ", ".join(f"{iso_acc[a]} (α={a:g})" for a in alphas) + " for clients trained alone.",
        ("Stronger heterogeneity leaves client representations further apart" if apart else
         "Heterogeneity does not separate client representations here") +
        f": the mean client↔client linear CKA of layer {layer} "
        f"(biased HSIC, probe n = {n_probe}, mean over client pairs) after the last round is {cc[lo]} at "
        f"α={lo:g} vs {cc[hi]} at α={hi:g} under {ref}, against {iso_cc[lo]} / {iso_cc[hi]} for "
        f"isolated clients and {unt_cc} between independently initialised untrained networks (mutual {K_NN}-NN "
        "in the tables).",
    ]
    if "aligned" in strategies and "fedavg" in strategies:
        diff = max(abs(_final_mean(t, a, "aligned", "global_acc") - _final_mean(t, a, "fedavg", "global_acc"))
                   for a in alphas)
        moved = tables["rounds"].query("strategy == 'aligned'").get("moved_units")
        moved_max = float(np.nanmax(moved)) if moved is not None and moved.notna().any() else 0.0
        init_note = ("clients start every round from the shared global model, so weight matching finds the "
                     "identity" if moved_max == 0 else f"weight matching moved up to {moved_max:.0%} of the units")
        parts.append(f"Alignment-aware aggregation (weight matching before averaging) changes the final mean "
                     f"accuracy by at most {diff:.3f}: {init_note}.")
    corr = divergence_vs_accuracy(tables, layer)
    parts.append(f"Across every (seed, α, strategy, round), client divergence (1 − CKA) and the accuracy lost to the "
                 f"central model have Spearman ρ = {corr['rho']:.2f} (n = {corr['n']} rounds, p = {corr['p']:.2g}); "
                 "both shrink as training proceeds, so this is mostly a shared trend over rounds, rounds of one run "
                 "are not independent (p is optimistic), and at the last round the comparison is between "
                 f"{len(alphas)} α values only.")
    return " ".join(parts)


def report_section(tables: dict[str, pd.DataFrame] | None = None, config: FedConfig | None = None, *,
                   alphas: Sequence[float] = (0.1, 10.0), seeds: Sequence[int] | None = None, engine: str = "flower",
                   layer: str = "relu2") -> tuple[pd.DataFrame, str]:
    """``(table, paragraph)`` for the report: :func:`results_table` and :func:`results_paragraph` of ``tables``
    (run with :func:`run_experiment` on ``config``, ``alphas``, ``seeds`` and ``engine`` when not given).

    >>> cfg = FedConfig(n_clients=2, rounds=1, local_epochs=1)
    >>> t = run_experiment(cfg, alphas=[0.1, 10.0], strategies=["fedavg"], engine="inprocess", with_barrier=False)
    >>> table, paragraph = report_section(t, cfg)
    >>> paragraph.startswith("Federated digits (2 clients")
    True
    """
    config = config or FedConfig()
    if tables is None:
        tables = run_experiment(config, alphas=alphas, seeds=seeds, engine=engine)
    return results_table(tables, layer), results_paragraph(tables, config, layer)
