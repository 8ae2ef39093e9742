"""unireps.federated: partitions, local updates, aggregation, the in-process loop and its measurements."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from unireps.federated import (
    FedConfig,
    aligned_average,
    analyse,
    baselines,
    dirichlet_partition,
    fed_data,
    local_train,
    make_model,
    partition_summary,
    run_inprocess,
    weighted_average,
)
from unireps.merge import apply_permutation, random_permutation, spec_from_module

TINY = dict(n_clients=3, rounds=2, local_epochs=1)


# ------------------------------------------------------------------------------------------------ partitions

@pytest.mark.parametrize("alpha", [0.05, 0.1, 1.0, 100.0])
def test_dirichlet_partition_is_a_seeded_partition_with_nonempty_clients(alpha):
    y = np.repeat(np.arange(10), 100)
    parts = dirichlet_partition(y, 5, alpha, seed=3, min_size=10)
    allidx = np.concatenate(parts)
    assert sorted(allidx.tolist()) == list(range(len(y)))  # disjoint and covering
    assert min(len(p) for p in parts) >= 10
    again = dirichlet_partition(y, 5, alpha, seed=3, min_size=10)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = dirichlet_partition(y, 5, alpha, seed=4, min_size=10)
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other))


def test_small_alpha_gives_label_skew():
    y = np.repeat(np.arange(10), 100)
    skewed = partition_summary(y, dirichlet_partition(y, 5, 0.1, seed=0))
    iid = partition_summary(y, dirichlet_partition(y, 5, 100.0, seed=0))
    assert skewed.top_class_share.mean() > 0.4 > 0.15 > iid.top_class_share.mean()
    assert iid.n_classes_held.min() == 10
    share = iid.filter(regex=r"^class_\d").to_numpy() / 100
    assert np.abs(share - 0.2).max() < 0.1  # near-IID: each client ~1/5 of every class


@pytest.mark.parametrize("kw, match", [(dict(n_clients=1), "n_clients"), (dict(alpha=0.0), "alpha"),
                                       (dict(alpha=float("nan")), "alpha"), (dict(n_clients=200), "min_size")])
def test_dirichlet_partition_rejects_bad_input(kw, match):
    args = dict(n_clients=5, alpha=1.0) | kw
    with pytest.raises(ValueError, match=match):
        dirichlet_partition(np.repeat(np.arange(10), 100), **args)


def test_fed_config_validates_and_round_trips():
    with pytest.raises(ValueError, match="strategy"):
        FedConfig(strategy="fedsgd")
    with pytest.raises(ValueError, match="init"):
        FedConfig(init="random")
    with pytest.raises(ValueError, match="rounds"):
        FedConfig(rounds=0)
    cfg = FedConfig(strategy="fedprox", alpha=0.1, mu=0.5)
    assert FedConfig.from_record({k.replace("_", "-"): v for k, v in cfg.to_record().items()}) == cfg
    assert cfg.proximal_mu == 0.5 and cfg.replace(strategy="fedavg").proximal_mu == 0.0


# ------------------------------------------------------------------------------------------------ clients

def test_local_train_fits_the_client_and_is_deterministic():
    cfg = FedConfig(n_clients=2, alpha=0.5)
    data = fed_data(cfg)
    x, y = data.client(0)
    init = make_model(cfg).state_dict()
    a = local_train(init, x, y, cfg, seed=1, epochs=3)
    b = local_train(init, x, y, cfg, seed=1, epochs=3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    loss = {}
    for name, sd in (("init", init), ("trained", a)):
        m = make_model(cfg)
        m.load_state_dict(sd)
        with torch.no_grad():
            loss[name] = float(torch.nn.functional.cross_entropy(m(x), y))
    assert loss["trained"] < 0.5 * loss["init"]


def test_proximal_term_keeps_clients_near_the_global_model():
    cfg = FedConfig(n_clients=2, alpha=0.1, local_epochs=3)
    data = fed_data(cfg)
    init = make_model(cfg).state_dict()

    def dist(mu):
        sd = local_train(init, *data.client(0), cfg, seed=0, mu=mu)
        return sum(float(((sd[k] - init[k]) ** 2).sum()) for k in sd) ** 0.5

    assert dist(10.0) < 0.5 * dist(0.0)


# ------------------------------------------------------------------------------------------------ aggregation

def test_weighted_average_matches_the_formula_and_checks_input():
    a, b = {"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([3.0, 6.0])}
    torch.testing.assert_close(weighted_average([a, b], [1, 3])["w"], torch.tensor([2.5, 5.0]))
    with pytest.raises(ValueError, match="weight"):
        weighted_average([a, b], [1])
    with pytest.raises(ValueError, match="weights"):
        weighted_average([a, b], [0, 0])
    with pytest.raises(ValueError, match="keys"):
        weighted_average([a, {"v": torch.ones(2)}], [1, 1])


def test_aligned_average_undoes_a_permutation_that_fedavg_cannot():
    cfg = FedConfig()
    model = make_model(cfg)
    sd = model.state_dict()
    spec = spec_from_module(model)
    permuted = apply_permutation(spec, random_permutation(spec, sd, seed=1), sd)
    x = fed_data(cfg).x_probe
    ref = model(x)
    aligned, perms = aligned_average(sd, [sd, permuted], [1, 1], model)
    naive = weighted_average([sd, permuted], [1, 1])
    for name, agg in (("aligned", aligned), ("naive", naive)):
        m = make_model(cfg)
        m.load_state_dict(agg)
        err = float((m(x) - ref).abs().max().detach())
        assert (err < 1e-5) if name == "aligned" else (err > 1e-2), (name, err)
    assert any((p != np.arange(len(p))).any() for p in perms[1].values())


# ------------------------------------------------------------------------------------------------ loop + analysis

def test_inprocess_loop_is_deterministic_and_strategies_differ():
    runs = {s: run_inprocess(FedConfig(strategy=s, alpha=0.1, **TINY)) for s in ("fedavg", "fedprox")}
    again = run_inprocess(FedConfig(strategy="fedavg", alpha=0.1, **TINY))
    g, h = runs["fedavg"].globals[-1], again.globals[-1]
    assert all(torch.equal(g[k], h[k]) for k in g)
    assert not torch.equal(g["fc1.weight"], runs["fedprox"].globals[-1]["fc1.weight"])
    assert len(runs["fedavg"].globals) == 3 and len(runs["fedavg"].clients) == 2


def test_fedavg_global_is_the_size_weighted_mean_of_its_clients():
    cfg = FedConfig(alpha=0.1, **TINY)
    traj = run_inprocess(cfg)
    sizes = fed_data(cfg).sizes
    manual = sum(n * c["out.weight"].double() for n, c in zip(sizes, traj.clients[-1])) / sum(sizes)
    torch.testing.assert_close(traj.globals[-1]["out.weight"], manual.float())


def test_aligned_strategy_with_independent_inits_permutes_units():
    traj = run_inprocess(FedConfig(strategy="aligned", init="independent", alpha=0.5, **TINY))
    assert traj.extras[0]["moved_units"] > 0.5  # independently initialised clients: units not in correspondence


def test_analyse_tables_have_every_measure_in_range():
    cfg = FedConfig(alpha=0.1, **TINY)
    summary, per_client = analyse(run_inprocess(cfg))
    assert set(summary["round"]) == {0, 1, 2}
    got = set(zip(summary.pair, summary.measure))
    assert {("global", "accuracy"), ("client", "accuracy"), ("client-global", "cka"), ("client-global", "mutual_knn"),
            ("client-client", "cka"), ("client-client", "mutual_knn"), ("client-client", "loss_barrier"),
            ("client-client", "error_barrier")} <= got
    sims = summary[summary.measure.isin(["cka", "mutual_knn", "accuracy"])]
    assert sims["mean"].between(0, 1 + 1e-9).all()
    assert set(summary.layer) == {"relu1", "relu2", "out", "output"}
    pairs = summary[(summary.pair == "client-client") & (summary.measure == "cka")]
    assert (pairs.n == 3).all()  # 3 clients: 3 pairs
    assert summary[summary.measure.str.endswith("barrier")]["mean"].ge(-1e-9).all()
    assert len(per_client[(per_client.measure == "accuracy")]) == cfg.n_clients * cfg.rounds


def test_baselines_order_central_above_isolated_at_strong_skew():
    b = baselines(FedConfig(alpha=0.1, n_clients=3, rounds=3, local_epochs=2), with_barrier=False)
    acc = b[b.measure == "accuracy"].set_index("baseline")["mean"]
    assert acc["central"] > 0.85 > acc["isolated"]
    assert acc["untrained"] < 0.3
    unt = b[(b.baseline == "untrained") & (b.measure == "cka")]
    assert unt["mean"].between(0, 1).all() and (unt.n == 3).all()


# ------------------------------------------------------------------------------------------------ experiment + CLI

def test_results_table_and_paragraph_come_from_the_measured_tables():
    from unireps.federated.experiment import (
        divergence_vs_accuracy,
        report_section,
        results_paragraph,
        results_table,
        run_experiment,
    )

    cfg = FedConfig(n_clients=3, rounds=2, local_epochs=1)
    tables = run_experiment(cfg, alphas=[0.1, 10.0], strategies=["fedavg", "aligned"], engine="inprocess",
                            with_barrier=False)
    table = results_table(tables)
    assert set(table.strategy) == {"fedavg", "aligned", "central", "isolated", "untrained"}
    fed = table[(table.strategy == "fedavg") & (table["round"] == 2)].set_index("alpha")
    assert fed.loc[10.0, "cka_client_client"] > fed.loc[0.1, "cka_client_client"]  # more skew, more drift
    text = results_paragraph(tables, cfg)
    assert f"{fed.loc[0.1, 'global_acc']:.3f}" in text and f"{fed.loc[10.0, 'cka_client_client']:.3f}" in text
    assert "n = 600" in text and "probe n = 197" in text
    t2, p2 = report_section(tables, cfg)
    assert p2 == text and t2.equals(table)
    corr = divergence_vs_accuracy(tables)
    assert corr["n"] == 2 * 2 * 2 and -1 <= corr["rho"] <= 1
    last = divergence_vs_accuracy(tables, measure="mknn", at_round=2)
    assert last["n"] == 2 * 2 and -1 <= last["rho"] <= 1
    with pytest.raises(ValueError, match="engine"):
        run_experiment(cfg, engine="grpc")


SEEDED = dict(n_clients=3, rounds=2, local_epochs=1)


@pytest.fixture(scope="module")
def two_seeds():
    from unireps.federated.experiment import run_experiment

    return run_experiment(FedConfig(**SEEDED), alphas=[0.1, 10.0], strategies=["fedavg", "fedprox"], seeds=[0, 1],
                          engine="inprocess", with_barrier=False)


def test_results_table_is_the_mean_and_sd_over_seeds_of_the_measured_rows(two_seeds):
    from unireps.federated.experiment import results_table

    table = results_table(two_seeds).set_index(["alpha", "strategy", "round"])
    assert (table.n_seeds == 2).all()
    long = two_seeds["rounds"]
    for (alpha, strategy, rnd, pair, col) in [(0.1, "fedavg", 2, "global", "global_acc"),
                                               (10.0, "fedprox", 1, "client-client", "cka_client_client")]:
        measure, layer = ("accuracy", "output") if pair == "global" else ("cka", "relu2")
        per_seed = long[(long.alpha == alpha) & (long.strategy == strategy) & (long["round"] == rnd)
                        & (long.pair == pair) & (long.measure == measure) & (long.layer == layer)]
        values = per_seed.sort_values("seed")["mean"].to_numpy()
        assert len(values) == 2 and values[0] != values[1]  # the seeds differ (partition, init, batch order)
        assert table.loc[(alpha, strategy, rnd), col] == pytest.approx(values.mean(), abs=1e-12)
        assert table.loc[(alpha, strategy, rnd), f"{col}_sd"] == pytest.approx(values.std(ddof=1), abs=1e-12)
    base = two_seeds["baselines"]
    central = base[(base.baseline == "central") & (base.alpha == 0.1)].sort_values("seed")["mean"].to_numpy()
    assert table.loc[(0.1, "central", 2), "global_acc"] == pytest.approx(central.mean(), abs=1e-12)
    assert table.loc[(0.1, "central", 2), "global_acc_sd"] == pytest.approx(central.std(ddof=1), abs=1e-12)


def test_a_seed_of_the_grid_equals_that_seed_run_alone(two_seeds):
    from unireps.federated.experiment import results_table, run_experiment, seed_table

    alone = run_experiment(FedConfig(**SEEDED, seed=1), alphas=[0.1, 10.0], strategies=["fedavg", "fedprox"],
                           engine="inprocess", with_barrier=False)
    both = seed_table(two_seeds)
    one = seed_table(alone)
    pd_cols = ["global_acc", "cka_client_client", "mknn_client_global"]
    np.testing.assert_allclose(both[both.seed == 1][pd_cols].to_numpy(), one[pd_cols].to_numpy(), rtol=0, atol=0)
    single = results_table(alone)
    assert (single.n_seeds == 1).all() and single.global_acc_sd.isna().all()  # no spread from one seed


def test_round_rows_write_mean_plus_minus_sd_and_the_paragraph_reports_the_spread(two_seeds):
    from unireps.federated.experiment import results_paragraph, results_table, round_rows

    table = results_table(two_seeds)
    rows = round_rows(table, rounds=(2,))
    assert set(rows.strategy) == {"fedavg", "fedprox", "central", "isolated", "untrained"}
    assert set(rows[~rows.strategy.isin(["central", "isolated", "untrained"])]["round"]) == {2}
    src = table[(table.alpha == 0.1) & (table.strategy == "fedavg") & (table["round"] == 2)].iloc[0]
    got = rows[(rows.alpha == 0.1) & (rows.strategy == "fedavg")].iloc[0]
    assert got.global_acc == f"{src.global_acc:.3f} ± {src.global_acc_sd:.3f}"
    text = results_paragraph(two_seeds, FedConfig(**SEEDED))
    assert "2 seeds (0, 1)" in text and "mean ± SD over seeds" in text
    assert f"fedavg {src.global_acc:.3f} ± {src.global_acc_sd:.3f}" in text


@pytest.mark.parametrize("seeds", [[], [0, 0]])
def test_grid_configs_rejects_empty_or_repeated_seeds(seeds):
    from unireps.federated.experiment import grid_configs

    with pytest.raises(ValueError, match="seeds"):
        grid_configs(FedConfig(), [0.1], ["fedavg"], seeds)


def test_flower_engine_without_flwr_names_the_fix(monkeypatch):
    import sys

    from unireps.errors import MissingDependencyError, UnirepsError
    from unireps.federated.experiment import run_experiment

    monkeypatch.setitem(sys.modules, "unireps.federated.flower", None)  # as if flwr were not installed
    with pytest.raises(MissingDependencyError, match=r"unireps\[flower\].*inprocess") as err:
        run_experiment(FedConfig(n_clients=2, rounds=1, local_epochs=1), alphas=[1.0], strategies=["fedavg"])
    assert isinstance(err.value, UnirepsError) and isinstance(err.value, ImportError)


def test_cli_federated_writes_tables_and_paragraph(tmp_path, capsys):
    from unireps.cli.main import main

    out = tmp_path / "fed"
    rc = main(["federated", "--clients", "2", "--rounds", "1", "--local-epochs", "1", "--alphas", "1", "--strategies",
               "fedavg", "--seeds", "0", "1", "--engine", "inprocess", "--no-barrier", "--out", str(out)])
    assert rc == 0
    for name in ("table.csv", "rounds.parquet", "baselines.csv", "partitions.csv", "paragraph.md", "accuracy.html",
                 "table_rounds.md"):
        assert (out / name).exists(), name
    assert "central" in capsys.readouterr().out
    assert "±" in (out / "table_rounds.md").read_text()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seeds"] == [0, 1] and prov["engine"] == "inprocess" and prov["wall_seconds"] > 0
    assert main(["federated", "--alphas", "0", "--out", str(tmp_path / "x")]) == 2


def test_cli_federated_defaults_to_flower_and_three_seeds():
    from unireps.cli.main import build_parser

    args = build_parser().parse_args(["federated"])
    assert args.engine == "flower" and args.seeds == [0, 1, 2]
    assert build_parser().parse_args(["federated", "--seed", "3"]).seeds == [3]  # the old spelling still works


# ------------------------------------------------------------------------------------------------ Flower

@pytest.mark.slow
def test_flower_simulation_equals_the_inprocess_loop():
    pytest.importorskip("flwr")
    from unireps.federated.flower import run_flower_grid

    # one simulation runs every config in turn (the server sends each run's config with its messages)
    configs = [FedConfig(strategy=s, n_clients=3, rounds=2, local_epochs=1, alpha=0.1, seed=seed, init=init)
               for s, seed, init in [("fedavg", 0, "shared"), ("fedprox", 0, "shared"), ("aligned", 0, "shared"),
                                     ("fedavg", 1, "independent"), ("aligned", 1, "independent")]]
    runs = run_flower_grid(configs)
    assert len(runs) == len(configs)
    for cfg, flower in zip(configs, runs):
        ref = run_inprocess(cfg)
        assert flower.config == cfg and flower.engine == "flower-ray" and len(flower.globals) == len(ref.globals) == 3
        for r in range(1, 3):
            for k in ref.globals[r]:  # Flower sums float32 in reply order: equal up to rounding
                torch.testing.assert_close(flower.globals[r][k], ref.globals[r][k], rtol=1e-5, atol=1e-6)
            for c in range(cfg.n_clients):
                torch.testing.assert_close(flower.clients[r - 1][c]["out.weight"], ref.clients[r - 1][c]["out.weight"],
                                           rtol=1e-5, atol=1e-6)
        assert [e.get("moved_units") for e in flower.extras] == [e.get("moved_units") for e in ref.extras]
    # the runs really differ (a grid that replayed one config would pass the checks above for that config only)
    assert not torch.equal(runs[0].globals[-1]["fc1.weight"], runs[3].globals[-1]["fc1.weight"])
    with pytest.raises(ValueError, match="n_clients"):
        run_flower_grid([FedConfig(n_clients=2), FedConfig(n_clients=3)])
    with pytest.raises(ValueError, match="at least one"):
        run_flower_grid([])


def test_a_saved_run_loads_back_as_its_trajectory(tmp_path):
    from unireps.federated import load_trajectory, save_trajectory

    cfg = FedConfig(strategy="aligned", n_clients=2, rounds=2, local_epochs=1, alpha=0.1, init="independent")
    traj = run_inprocess(cfg)
    back = load_trajectory(save_trajectory(tmp_path / "run", traj))
    assert back.config == cfg and back.engine == "inprocess" and back.extras == traj.extras
    for r in range(3):
        for k in traj.globals[r]:
            assert torch.equal(back.globals[r][k], traj.globals[r][k]), (r, k)
    for r in range(2):
        for c in range(2):
            assert all(torch.equal(back.clients[r][c][k], traj.clients[r][c][k]) for k in traj.clients[r][c])
    written = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert written == ["clients.safetensors", "config.json", "global.safetensors"]  # atomic: no temp files left
    with pytest.raises(FileNotFoundError, match="global.safetensors"):
        load_trajectory(tmp_path / "missing")


def test_a_flower_client_imports_neither_the_analysis_nor_scipy_nor_pandas():
    """Ray's client actors import ``unireps.federated.flower`` to unpickle the ClientApp: the analysis (scipy,
    pandas, the metrics) stays out of that import, and the package's analysis names still load on first use."""
    pytest.importorskip("flwr")
    import subprocess
    import sys

    code = ("import sys, unireps.federated.flower as f; "
            "heavy = [m for m in ('unireps.federated.analysis', 'unireps.merge', 'unireps.metrics', 'scipy.stats', "
            "'pandas') if m in sys.modules]; "
            "import unireps.federated as fed; lazy = fed.analyse.__module__; "
            "print(heavy, lazy, 'analyse' in dir(fed))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "unireps.federated.analysis", "True"]
    import unireps.federated as fed

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        fed.nonexistent  # noqa: B018
