"""Stitching, merging and transfer on the embedded default (scikit-learn digits): every number of
docs/applications.md, deterministic with seeds, a few minutes on 2 CPU cores.

    .venv/bin/python scripts/applications_demo.py [--out runs/applications] [--quick]

Prints markdown tables; with --out also writes one CSV per table.  --quick shrinks everything (smoke run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from unireps.applications import (
    digits_cross_model_retrieval,
    digits_probe_transfer,
    distillation_cka,
    lmc_width_sweep,
    multitask_merge_table,
    stitching_penalties,
    summarise_merge_table,
    summarise_stitching,
)
from unireps.stitch import dual_encoder_retrieval, synthetic_dual_encoders


def show(title: str, df: pd.DataFrame, out: Path | None, name: str, index: bool = False) -> None:
    print(f"\n## {title}\n")
    print(markdown(df.reset_index() if index else df))
    if out is not None:
        df.to_csv(out / f"{name}.csv", index=index)


def markdown(df: pd.DataFrame) -> str:
    """A markdown table (floats to 3 decimals) without the optional tabulate dependency."""
    def cell(v) -> str:
        return f"{v:.3f}" if isinstance(v, float | np.floating) else str(v)

    lines = ["| " + " | ".join(str(c) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="folder for the CSV tables")
    ap.add_argument("--quick", action="store_true", help="tiny settings (smoke run)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    q = args.quick
    t0 = time.time()

    # 1. linear mode connectivity before / after alignment, per width (3 seed pairs)
    widths = (16, 64) if q else (16, 64, 256, 512)
    seeds = (0, 1) if q else (0, 1, 2)
    lmc = lmc_width_sweep(widths, seeds, epochs=5 if q else 30)
    show("LMC barriers, every (width, alignment, split): mean over seed pairs", lmc.groupby(
        ["width", "split", "alignment"], sort=False)[["loss_barrier", "error_barrier"]].agg(["mean", "min", "max"])
        .reset_index().set_axis(["width", "split", "alignment", "loss_barrier", "loss_min", "loss_max",
                                 "error_barrier", "error_min", "error_max"], axis=1), args.out, "lmc_barriers")
    show("Endpoint models (mean over models)", lmc[lmc.alignment == "naive"].groupby(["width", "split"])[
        ["loss_a", "loss_b", "error_a", "error_b"]].mean().reset_index(), args.out, "lmc_endpoints")
    print(f"\n[{time.time() - t0:.0f} s]")

    # 2. stitching penalties vs the random-bottom control
    st = pd.concat([stitching_penalties("mlp", (32, 64) if not q else (16,), epochs=5 if q else 30),
                    stitching_penalties("cnn", (16,) if not q else (4,), epochs=5 if q else 30, pairs="diagonal")],
                   ignore_index=True)
    show("Stitching penalty (B acc - stitched acc, test) vs random-bottom control",
         summarise_stitching(st), args.out, "stitching")
    show("Accuracy of the models being stitched", st.groupby(["arch", "width"])[["acc_a", "acc_b"]].first()
         .reset_index(), args.out, "stitching_models")
    print(f"\n[{time.time() - t0:.0f} s]")

    # 3. transfer of a probe through a learned map, retrieval, distillation
    anchors = (10, 20, 50, 100, 200, 500)
    pt = digits_probe_transfer(anchors, n_repeats=1 if q else 3, methods=("lstsq", "ridge", "procrustes", "relative"))
    show("Probe transfer A (MLP w64, seed 0) -> B (MLP w128, seed 1): accuracy vs anchors (mean of repeats)",
         pt.groupby(["method", "n_anchors"], sort=False)["accuracy"].mean().unstack().reset_index(), args.out,
         "probe_transfer")
    rt = digits_cross_model_retrieval(anchors, n_repeats=1 if q else 3)
    show("Cross-model retrieval, B queries -> A gallery (600 test digits)",
         rt.groupby(["method", "n_anchors"], sort=False)[["R@1", "R@5"]].mean().reset_index(), args.out, "retrieval")
    dc = distillation_cka(epochs=5 if q else 30)
    show("Distillation (T=4) and CKA with the teacher (test digits)", dc, args.out, "distillation")
    emb = synthetic_dual_encoders(n=1000, seed=0)
    de = dual_encoder_retrieval(emb["image_1"], emb["text_2"], np.arange(700), np.arange(700, 1000),
                                text_1=emb["text_1"], image_2=emb["image_2"])
    show("Dual-encoder stitching on SYNTHETIC embeddings (sanity check, not a trained model)", de, args.out,
         "dual_encoder_synthetic")
    print(f"\n[{time.time() - t0:.0f} s]")

    # 4. multi-task merging: normalised accuracy per method (3 seeds)
    mt = pd.concat([multitask_merge_table(seed=s, pretrain_epochs=5 if q else 30, finetune_epochs=2 if q else 20)
                    .assign(seed=s) for s in ((0,) if q else (0, 1, 2))], ignore_index=True)
    per_seed = [summarise_merge_table(g).assign(seed=s) for s, g in mt.groupby("seed")]
    wide = pd.concat(per_seed).groupby(level=0, sort=False).mean().drop(columns="seed")
    show("Multi-task merge: normalised accuracy (merged / fine-tuned), mean over seeds", wide.reset_index(),
         args.out, "merge_normalised")
    show("Multi-task merge: raw test accuracies and chosen settings", mt, args.out, "merge_raw")
    print(f"\n[total {time.time() - t0:.0f} s]")


if __name__ == "__main__":
    main()
