"""``unireps stitch``, ``unireps merge``, ``unireps transfer``: the applications of convergence on the digits
models trained here (see docs/applications.md), writing tidy tables and figures."""

from __future__ import annotations

from .common import add_json, add_out, check_out, emit, out_dir, positive, save_outputs


def register(sub) -> None:
    s = sub.add_parser("stitch", help="stitching penalties between two seeds, with the random-bottom control",
                       description="Fit stitching layers (task loss with both models frozen, and least squares) "
                       "between every pair of hidden layers of two digits models trained with different seeds; "
                       "report B's accuracy minus the stitched model's, and the random-bottom control.")
    s.add_argument("--arch", choices=("mlp", "cnn"), default="mlp")
    s.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    s.add_argument("--epochs", type=int, default=30)
    add_out(s, default="runs/stitch")
    add_json(s)
    s.set_defaults(func=run_stitch)

    m = sub.add_parser("merge", help="linear mode connectivity before/after alignment, and multi-task merging",
                       description="Loss and error barriers between two digits MLPs per width, naive and after "
                       "Git Re-Basin weight/activation matching (11+ points), and the normalised accuracy of "
                       "each merge method (soups, task arithmetic, TIES, Fisher, SLERP) on a multi-task setting.")
    m.add_argument("--widths", type=int, nargs="+", default=[16, 64, 256, 512])
    m.add_argument("--points", type=int, default=11, help="interpolation points (at least 11)")
    m.add_argument("--epochs", type=int, default=30)
    m.add_argument("--no-multitask", action="store_true")
    add_out(m, default="runs/merge")
    add_json(m)
    m.set_defaults(func=run_merge)

    t = sub.add_parser("transfer", help="probe transfer between two models through learned maps vs anchors",
                       description="A linear probe trained on model A's embedding applied to model B's through "
                       "least squares, ridge, scaled orthogonal Procrustes and relative representations, against "
                       "the number of anchors, with the no-map baseline; and cross-model retrieval.")
    t.add_argument("--anchors", type=int, nargs="+", default=[10, 20, 50, 100, 200, 500])
    t.add_argument("--repeats", type=int, default=3)
    add_out(t, default="runs/transfer")
    add_json(t)
    t.set_defaults(func=run_transfer)


def _check_widths_epochs(args) -> None:
    for w in args.widths:
        positive("--widths", w)
    positive("--epochs", args.epochs)  # 0 epochs would report untrained networks as if trained
    check_out(args.out)


def run_stitch(args) -> int:
    from ..applications import stitching_penalties, summarise_stitching
    from ..viz import bar_plot

    _check_widths_epochs(args)
    table = stitching_penalties(args.arch, widths=tuple(args.widths), epochs=args.epochs)
    summary = summarise_stitching(table)
    fig = bar_plot(summary.assign(cut=summary.cut_a + "→" + summary.cut_b + " " + summary.method
                                  + " w" + summary.width.astype(str)), "cut", "penalty_random_bottom",
                   title="Random-bottom control penalty per cut")
    save_outputs(out_dir(args.out), {"stitching": table, "stitching_summary": summary}, {"stitching": fig},
                 {"arch": args.arch, "widths": args.widths, "epochs": args.epochs})
    emit(summary.to_dict("records"), args.json, summary.round(4))
    return 0


def run_merge(args) -> int:
    from ..applications import lmc_width_sweep, multitask_merge_table, summarise_merge_table
    from ..viz import lmc_plot

    if args.points < 11:
        raise ValueError(f"--points {args.points}: use at least 11 interpolation points")
    _check_widths_epochs(args)
    lmc, curves = lmc_width_sweep(widths=tuple(args.widths), n_points=args.points, epochs=args.epochs,
                                  return_curves=True)
    tables = {"lmc": lmc, "lmc_curves": curves}
    w = max(args.widths)
    cv = curves[(curves.width == w) & (curves.seed_a == curves.seed_a.min())]
    if "split" in cv:
        cv = cv[cv.split == "test"]
    figs = {"lmc": lmc_plot(cv.assign(curve=cv.alignment + f" w={w}"), title=f"Interpolation, width {w}")}
    if not args.no_multitask:
        merge = multitask_merge_table()
        tables.update(merge=merge, merge_summary=summarise_merge_table(merge).reset_index())
    save_outputs(out_dir(args.out), tables, figs, {"widths": args.widths, "points": args.points, "epochs": args.epochs,
                                                   "multitask": not args.no_multitask})
    keys = ["width", "alignment", "split", "loss_barrier", "error_barrier"]
    shown = lmc.groupby([k for k in keys[:3] if k in lmc])[["loss_barrier", "error_barrier"]].mean().reset_index()
    emit(shown.to_dict("records"), args.json, shown.round(4))
    if not args.no_multitask and not args.json:
        print(tables["merge_summary"].round(3).to_string(index=False))
    return 0


def run_transfer(args) -> int:
    from ..applications import digits_cross_model_retrieval, digits_probe_transfer
    from ..viz import sweep_plot

    positive("--repeats", args.repeats)
    for a in args.anchors:
        positive("--anchors", a, 2)
    check_out(args.out)
    probe = digits_probe_transfer(n_anchors=tuple(args.anchors), n_repeats=args.repeats)
    retrieval = digits_cross_model_retrieval(n_anchors=tuple(args.anchors), n_repeats=args.repeats)
    mean = probe.groupby(["method", "n_anchors"]).accuracy.mean().reset_index()
    fig = sweep_plot(mean[mean.n_anchors > 0].rename(columns={"accuracy": "value"}), "n_anchors", color="method",
                     err=None, title="Probe transfer accuracy vs anchors")
    save_outputs(out_dir(args.out), {"probe_transfer": probe, "cross_model_retrieval": retrieval},
                 {"transfer": fig}, {"anchors": args.anchors, "repeats": args.repeats})
    emit(mean.to_dict("records"), args.json, mean.round(4))
    return 0
