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
                       "(.npy; .npz, .safetensors, .pt or .pth holding one array), compare them.")
    p.add_argument("x", nargs="?", help="representation X: an (n, d1) array file")
    p.add_argument("y", nargs="?", help="representation Y: an (n, d2) array file over the same n stimuli")
    p.add_argument("--metric", action="append", help="measure name (repeatable; default: all that apply)")
    p.add_argument("--permutations", type=int, default=0, help="permutation-test p-value with this many permutations")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap CI over stimuli with this many resamples")
    p.add_argument("--seed", type=int, default=0)
    add_json(p)
    p.set_defaults(func=run)


SUFFIXES = (".npy", ".npz", ".pt", ".pth", ".safetensors")


def _one(tensors: dict, p: Path) -> np.ndarray:
    if len(tensors) != 1:
        raise ValueError(f"{p} holds {len(tensors)} arrays ({sorted(tensors)}); save one per file")
    return next(iter(tensors.values()))


def load_array(path: str) -> np.ndarray:
    """The array saved in ``path``: .npy, .npz / .safetensors with one array, or .pt / .pth with one tensor."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    if p.is_dir():
        raise ValueError(f"{p} is a folder; give an array file ({', '.join(SUFFIXES)})")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"unsupported file type {p.suffix!r} for {p}; use {', '.join(SUFFIXES)}")
    try:
        if suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                return _one({k: z[k] for k in z.files}, p)
        if suffix == ".safetensors":
            from safetensors.numpy import load_file

            return _one(load_file(str(p)), p)
        import torch

        obj = torch.load(p, map_location="cpu", weights_only=True)
    except ValueError as e:
        if "pickle" in str(e).lower() and suffix in (".npy", ".npz"):
            raise ValueError(f"{p} is not a numeric .npy array (it holds Python objects, or is not a .npy file "
                             "at all); save it with np.save(path, np.asarray(X, dtype=float))") from e
        raise ValueError(f"cannot read {p} as {suffix}: {e}") from e
    except Exception as e:  # a damaged or mislabelled file (numpy, safetensors and torch raise many kinds): name it
        raise ValueError(f"cannot read {p} as a {suffix} file ({type(e).__name__}: "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else 'unreadable'})") from e
    if isinstance(obj, dict):
        obj = _one(obj, p)
    if hasattr(obj, "detach"):
        return obj.detach().cpu().float().numpy() if obj.dtype.is_floating_point else obj.detach().cpu().numpy()
    raise ValueError(f"{p} holds a {type(obj).__name__}, not a tensor; save one tensor with torch.save(X, path)")


def check_2d(A: np.ndarray, label: str, path: str) -> None:
    if A.ndim != 2:
        fix = (f"for one feature per stimulus save {label}.reshape(-1, 1)" if A.ndim == 1 else
               f"pool or flatten the extra axes first, e.g. {label}.mean(axis=1) or {label}.reshape(len({label}), -1)")
        raise ValueError(f"{label} ({path}) has shape {A.shape}; expected a 2-D (n_stimuli, n_features) array: {fix}")


def run(args) -> int:
    if args.x is None:
        infos = [m.as_dict() for m in list_metrics()]
        table = pd.DataFrame(infos)[["name", "kind", "range", "invariances", "symmetric", "equal_dims", "reference"]]
        emit(infos, args.json, table)
        return 0
    if args.y is None:
        raise ValueError("give two representation files (X and Y), or none to list the measures")
    X, Y = load_array(args.x), load_array(args.y)
    check_2d(X, "X", args.x)
    check_2d(Y, "Y", args.y)
    names = (list(dict.fromkeys(args.metric)) if args.metric else
             [m.name for m in list_metrics() if not m.equal_dims or X.shape[1] == Y.shape[1]])
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
