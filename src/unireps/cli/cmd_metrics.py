"""``unireps metrics``: list the measures, or compare two saved representations (.npy / .pt / .safetensors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import bootstrap_ci, get_metric, list_metrics, permutation_test
from .common import add_json, emit


def register(sub) -> None:
    p = sub.add_parser("metrics", help="list the similarity measures, or compare two representations",
                       description="Without files: list every measure with its conventions. With two files "
                       "(.npy, or .safetensors with one tensor), compare them.")
    p.add_argument("x", nargs="?", help="representation X: an (n, d1) array file")
    p.add_argument("y", nargs="?", help="representation Y: an (n, d2) array file over the same n stimuli")
    p.add_argument("--metric", action="append", help="measure name (repeatable; default: all that apply)")
    p.add_argument("--permutations", type=int, default=0, help="permutation-test p-value with this many permutations")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap CI over stimuli with this many resamples")
    p.add_argument("--seed", type=int, default=0)
    add_json(p)
    p.set_defaults(func=run)


def load_array(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if p.suffix == ".safetensors":
        from safetensors.numpy import load_file

        tensors = load_file(str(p))
        if len(tensors) != 1:
            raise ValueError(f"{p} holds {len(tensors)} tensors ({sorted(tensors)}); save one per file")
        return next(iter(tensors.values()))
    raise ValueError(f"unsupported file type {p.suffix!r} for {p}; use .npy or .safetensors")


def run(args) -> int:
    if args.x is None:
        infos = [m.as_dict() for m in list_metrics()]
        table = pd.DataFrame(infos)[["name", "kind", "range", "invariances", "symmetric", "equal_dims", "reference"]]
        emit(infos, args.json, table)
        return 0
    if args.y is None:
        raise ValueError("give two representation files (X and Y), or none to list the measures")
    X, Y = load_array(args.x), load_array(args.y)
    names = args.metric or [m.name for m in list_metrics() if not m.equal_dims or X.shape[1] == Y.shape[1]]
    rows = []
    for name in names:
        info = get_metric(name)
        row = {"metric": name, "kind": info.kind, "value": info(X, Y)}
        if args.bootstrap:
            ci = bootstrap_ci(X, Y, name, n_boot=args.bootstrap, seed=args.seed)
            row.update(ci_low=ci.low, ci_high=ci.high)
        if args.permutations:
            row["p_value"] = permutation_test(X, Y, name, n_permutations=args.permutations, seed=args.seed).p_value
        rows.append(row)
    emit(rows, args.json, pd.DataFrame(rows))
    return 0
