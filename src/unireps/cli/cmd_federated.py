"""``unireps federated``: FedAvg / FedProx / aligned aggregation on Dirichlet-skewed digits clients, measured every
round (accuracy, client drift in CKA and mutual k-NN, loss barriers) beside the central / isolated / untrained
baselines; tidy tables, figures and a results paragraph."""

from __future__ import annotations

import sys
import time

from .common import add_json, add_out, check_out, emit, out_dir, positive, save_outputs

SHOWN_ROUNDS = (1, 2, 5, 10)  # rows of table_rounds (and the last round)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def register(sub) -> None:
    p = sub.add_parser("federated", help="federated learning (FedAvg, FedProx, aligned) and representational drift",
                       description="Clients hold Dirichlet(alpha) label-skewed partitions of the digits and train a "
                       "small MLP; the server aggregates by FedAvg, FedProx or weight-matching-aligned averaging. "
                       "Every round: global and client test accuracy, linear CKA and mutual k-NN client-global and "
                       "client-client per layer on a fixed probe set, error/loss barriers between clients; with "
                       "central, isolated and untrained baselines; every (seed, alpha, strategy) runs in one "
                       "Flower simulation (Ray backend) by default, the in-process reference loop with --engine "
                       "inprocess. Tables give the mean and SD over --seeds.")
    p.add_argument("--clients", type=int, default=5)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--alphas", type=float, nargs="+", default=[0.1, 10.0], help="Dirichlet concentrations")
    p.add_argument("--strategies", nargs="+", default=["fedavg", "fedprox", "aligned"],
                   choices=["fedavg", "fedprox", "aligned"])
    p.add_argument("--local-epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--mu", type=float, default=0.1, help="FedProx proximal weight")
    p.add_argument("--init", choices=["shared", "independent"], default="shared",
                   help="independent: each client starts round 1 from its own random init (FedMA's setting)")
    p.add_argument("--seeds", "--seed", type=int, nargs="+", default=[0, 1, 2],
                   help="seeds (each: partition, initialisation, batch order); tables give mean and SD over them")
    p.add_argument("--engine", choices=["flower", "inprocess"], default="flower",
                   help="flower (default): Flower's Simulation Runtime (Ray backend), the whole grid in one "
                   "simulation; inprocess: the reference loop Flower is tested against (no Ray)")
    p.add_argument("--layer", default="relu2", help="layer of the summary table's similarities (relu1, relu2, out)")
    p.add_argument("--no-barrier", action="store_true", help="skip the interpolation barriers (faster)")
    add_out(p, default="runs/federated")
    add_json(p)
    p.set_defaults(func=run_federated)


def run_federated(args) -> int:
    from ..federated import FedConfig
    from ..federated.experiment import results_paragraph, results_table, round_rows, run_experiment
    from ..viz import layer_curves

    positive("--clients", args.clients, 2)
    positive("--rounds", args.rounds)
    positive("--local-epochs", args.local_epochs)
    if any(a <= 0 for a in args.alphas):
        raise ValueError(f"--alphas {args.alphas}: Dirichlet concentrations must be > 0")
    if args.layer not in ("relu1", "relu2", "out"):
        raise ValueError(f"--layer {args.layer!r}: choose relu1, relu2 or out")
    check_out(args.out)
    cfg = FedConfig(n_clients=args.clients, rounds=args.rounds, local_epochs=args.local_epochs, lr=args.lr, mu=args.mu,
                    init=args.init, seed=args.seeds[0])
    t0 = time.perf_counter()
    tables = run_experiment(cfg, alphas=args.alphas, strategies=args.strategies, seeds=args.seeds, engine=args.engine,
                            with_barrier=not args.no_barrier, progress=None if args.json else _say)
    wall = time.perf_counter() - t0
    table = results_table(tables, args.layer)
    shown = sorted({r for r in SHOWN_ROUNDS if r <= args.rounds} | {args.rounds})
    closing = round_rows(table, shown)
    paragraph = results_paragraph(tables, cfg, args.layer)
    runs = table[table.strategy.isin(args.strategies)].assign(
        curve=lambda d: d.strategy + " α=" + d.alpha.map("{:g}".format))
    figs = {"accuracy": layer_curves(runs, "round", "global_acc", color="curve", title="Global test accuracy"),
            "drift": layer_curves(runs.dropna(subset=["cka_client_client"]), "round", "cka_client_client",
                                  color="curve", title=f"Client↔client linear CKA ({args.layer})")}
    out = out_dir(args.out)
    save_outputs(out, {**tables, "table": table, "table_rounds": closing}, figs,
                 {**cfg.to_record(), "seeds": args.seeds, "alphas": args.alphas, "strategies": args.strategies,
                  "engine": args.engine, "layer": args.layer, "barrier": not args.no_barrier,
                  "wall_seconds": round(wall, 1)})
    if out is not None:
        from ..io import atomic_write_text
        from ..transfer.bridge_study import markdown_table

        atomic_write_text(out / "paragraph.md", paragraph + "\n")
        atomic_write_text(out / "table_rounds.md", markdown_table(closing) + "\n")
    emit({"table": table.to_dict("records"), "paragraph": paragraph, "wall_seconds": wall}, args.json, closing)
    if not args.json:
        print("\n" + paragraph + f"\n\n({args.engine} engine, {wall:.0f} s wall)")
    return 0
