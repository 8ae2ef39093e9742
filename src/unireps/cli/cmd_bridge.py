"""``unireps bridge``: frozen ImageNet towers and MiniLM joined three ways, scored on held-out captioned photos."""

from __future__ import annotations

from .common import add_json, add_out, emit, out_dir, positive

TOWER_NAMES = {"lite0": "efficientnet-lite0", "lite1": "efficientnet-lite1", "lite2": "efficientnet-lite2"}


def register(sub) -> None:
    p = sub.add_parser(
        "bridge", help="image-text bridges between real frozen towers (EfficientNet-Lite + MiniLM), held-out",
        description="Image features of EfficientNet-Lite0/1/2 (ImageNet weights; each with its untrained twin) and "
        "MiniLM caption features of the 92 captioned photographs, joined by linear maps fit on k paired anchors "
        "(Procrustes, ridge, relative representations), LiT-style contrastive heads, and blind matching by quadratic "
        "assignment with 0-10 seed pairs. Layers are chosen by training-split CKA; everything is scored on held-out "
        "photos over repeated stratified splits, beside the shuffled-pairing null and chance.")
    p.add_argument("--towers", nargs="+", default=list(TOWER_NAMES), choices=list(TOWER_NAMES),
                   help="image towers (default: lite0 lite1 lite2); each runs with its untrained twin")
    p.add_argument("--splits", type=int, default=10, help="random stratified train/test splits (default 10)")
    p.add_argument("--test-fraction", type=float, default=1 / 3, help="share of each category held out (default 1/3)")
    p.add_argument("--anchors", type=int, nargs="+", default=[5, 10, 20, 40, 0],
                   help="numbers of paired anchors for the linear bridges; 0 = the whole training split")
    p.add_argument("--seed-pairs", type=int, nargs="+", default=[0, 1, 2, 5, 10],
                   help="numbers of known pairs given to blind matching (default 0 1 2 5 10)")
    p.add_argument("--no-lit", action="store_true", help="skip the contrastive heads (the slowest part)")
    p.add_argument("--reference", default=None,
                   help="an image-text model scored zero-shot in its own space on the same test splits, e.g. "
                   "zoo:clip-s0 (the CLIP stand-in trained here on synthetic shapes)")
    p.add_argument("--seed", type=int, default=0)
    add_out(p)
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io import atomic_write_text, write_json
    from ..models.families.efficientnet_lite import PUBLISHED_TOP1, PUBLISHED_TOP1_SOURCE
    from ..transfer import bridge_study, stratified_splits, summarize_bridge
    from ..transfer.bridge_study import headline_tables, joint_space_retrieval, real_tower_features

    positive("--splits", args.splits)
    if not 0 < args.test_fraction < 1:
        raise ValueError(f"--test-fraction {args.test_fraction}: must be between 0 and 1")
    for k in args.anchors + args.seed_pairs:
        positive("--anchors/--seed-pairs", k, 0)
    out = out_dir(args.out)
    towers = [TOWER_NAMES[t] for t in dict.fromkeys(args.towers)]
    reps, text, cats = real_tower_features(towers)
    splits = stratified_splits(cats, args.splits, args.test_fraction, args.seed)
    study = bridge_study(reps, text, splits, n_anchors=args.anchors, lit=not args.no_lit,
                         seed_pairs=args.seed_pairs, seed=args.seed)
    if args.reference:
        import pandas as pd

        from ..analysis.reps import embedding
        from ..data import load_dataset

        ds = load_dataset("kriegeskorte92")
        ref = joint_space_retrieval(embedding(args.reference, ds, "image"), embedding(args.reference, ds, "text"),
                                    splits, args.reference)
        study.retrieval = pd.concat([study.retrieval, ref], ignore_index=True)
    summary = summarize_bridge(study)
    tables = headline_tables(summary, {t: PUBLISHED_TOP1[t] for t in towers})
    meta = {"n_items": len(text), "n_train": len(splits[0][0]), "n_test": len(splits[0][1]), "splits": args.splits,
            "seed": args.seed, "text_tower": "minilm (all-MiniLM-L6-v2)", "dataset": "kriegeskorte92 + captions.csv",
            "layer_choice": "max linear CKA to the captions over the training split",
            "published_top1": {t: PUBLISHED_TOP1[t] for t in towers}, "published_top1_source": PUBLISHED_TOP1_SOURCE}
    if out is not None:
        from .common import save_outputs

        save_outputs(out, {"bridge_layers": study.layers, "bridge_retrieval": study.retrieval,
                           "bridge_blind": study.blind}, record={"command": "bridge", **meta})
        write_json(out / "bridge.json", {"meta": meta, **{k: v.to_dict("records") for k, v in tables.items()}})
        atomic_write_text(out / "bridge.md", _markdown(tables, meta))
    if args.json:
        emit({"meta": meta, **{k: v.to_dict("records") for k, v in tables.items()}}, True)
        return 0
    print(f"92 captioned photographs; {args.splits} stratified splits of {meta['n_train']} train / {meta['n_test']} "
          "test; mean ± SD over splits; layer chosen on the training split.")
    for name, df in tables.items():
        print(f"\n{name}:")
        emit(None, False, df)
    print(f"\nImageNet top-1: as reported by the EfficientNet-Lite authors ({PUBLISHED_TOP1_SOURCE}).")
    return 0


def _markdown(tables, meta) -> str:
    from ..transfer.bridge_study import markdown_table

    head = (f"# unireps bridge\n\n{meta['n_items']} captioned photographs, {meta['splits']} stratified splits of "
            f"{meta['n_train']} train / {meta['n_test']} test (seed {meta['seed']}); mean ± SD over splits. Image "
            f"layer: {meta['layer_choice']}. ImageNet top-1 from {meta['published_top1_source']}.\n")
    parts = [head] + [f"## {name}\n\n{markdown_table(df)}\n" for name, df in tables.items()]
    return "\n".join(parts)
