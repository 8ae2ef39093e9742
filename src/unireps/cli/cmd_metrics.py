"""``unireps metrics``: list the measures, or compare two saved representations (.npy / .pt / .safetensors)."""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .common import add_json, emit

if TYPE_CHECKING:
    import numpy as np


def register(sub) -> None:
    p = sub.add_parser("metrics", help="list the similarity measures, or compare two representations",
                       description="Without files: list every measure with its conventions. With two files "
                       "(.npy; .npz, .safetensors, .pt or .pth holding one array), compare them.")
    p.add_argument("x", nargs="?", help="representation X: an (n, d1) array file")
    p.add_argument("y", nargs="?", help="representation Y: an (n, d2) array file over the same n stimuli")
    p.add_argument("--metric", action="append", help="measure name (repeatable; default: all that apply)")
    p.add_argument("--permutations", type=count, default=0,
                   help="permutation-test p-value with this many permutations")
    p.add_argument("--bootstrap", type=count, default=0, help="bootstrap CI over stimuli with this many resamples")
    p.add_argument("--jackknife", action="store_true",
                   help="95%% CI by the jackknife over stimuli (each left out in turn, none repeated): for more "
                   "features than stimuli, where the bootstrap of linear CKA is shifted above the value")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=None, help="neighbours for the k-NN measures (default: 10)")
    p.add_argument("--strict", action="store_true",
                   help="fail on the first measure that refuses the data (default: report the others)")
    p.add_argument("--max-minutes", type=float, default=60.0,
                   help="refuse --permutations / --bootstrap runs estimated to take longer (default: 60)")
    add_json(p)
    p.set_defaults(func=run)


SUFFIXES = (".npy", ".npz", ".pt", ".pth", ".safetensors")


def _one(tensors: dict, p: Path) -> np.ndarray:
    if len(tensors) != 1:
        raise ValueError(f"{p} holds {len(tensors)} arrays ({sorted(tensors)}); save one per file")
    return next(iter(tensors.values()))


def load_array(path: str) -> np.ndarray:
    """The array saved in ``path``: .npy, .npz / .safetensors with one array, or .pt / .pth with one tensor."""
    import numpy as np

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


def count(text: str) -> int:
    """A whole number of resamples; "1e4" is accepted."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not value.is_integer() or value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(value)


def _options(info, args) -> dict:
    """The measure's own options given on the command line (only --k for now)."""
    params = inspect.signature(info.fn).parameters
    return {"k": args.k} if args.k is not None and "k" in params else {}


def _check_budget(name: str, seconds_each: float, args, n_stimuli: int = 0) -> None:
    """Refuse resampling runs estimated (from one timed evaluation) to exceed --max-minutes, before starting."""
    from ..metrics.jackknife import MAX_GROUPS

    jack = min(n_stimuli, MAX_GROUPS) if args.jackknife else 0
    for flag, n in (("--permutations", args.permutations), ("--bootstrap", args.bootstrap), ("--jackknife", jack)):
        if not n:
            continue
        minutes = n * seconds_each / 60.0
        if minutes > args.max_minutes:
            raise ValueError(f"{flag} {n} for {name}: estimated {minutes:,.0f} minutes ({seconds_each * 1e3:.2g} ms "
                             f"per evaluation measured here), over --max-minutes {args.max_minutes:g}. A p-value "
                             "from N permutations cannot go below 1/(N+1): 999-9999 permutations and 1000-10000 "
                             "bootstrap resamples are the usual choice")
        if minutes > 0.1:
            print(f"{name}: {flag} {n}: estimated {minutes:.1f} minutes", file=sys.stderr)


def _progress(name: str, what: str, seconds: float):
    """A one-line stderr progress display for runs estimated to take more than a few seconds (else None)."""
    if seconds < 5:
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{name}: {what} {done:,}/{total:,} ({100 * done // total}%)", end=end, file=sys.stderr, flush=True)

    return show


def _evaluate(info, X, Y, args) -> dict:
    """One measure's row: value, optional CI and p-value, and a note when the value is uninformative."""
    from ..metrics import BootstrapShiftWarning, UninformativeWarning, bootstrap_ci, jackknife_ci, permutation_test

    opts = _options(info, args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UninformativeWarning)
        warnings.simplefilter("always", BootstrapShiftWarning)
        start = time.perf_counter()
        row = {"metric": info.name, "kind": info.kind, "value": info(X, Y, **opts)}
        each = time.perf_counter() - start
        _check_budget(info.name, each, args, len(X))
        if args.bootstrap:
            ci = bootstrap_ci(X, Y, info.name, n_boot=args.bootstrap, seed=args.seed,
                              progress=_progress(info.name, "bootstrap", each * args.bootstrap), **opts)
            row.update(ci_low=ci.low, ci_high=ci.high, ci_method=ci.LABEL)
        if args.jackknife:
            ci = jackknife_ci(X, Y, info.name, seed=args.seed, **opts)
            row.update(ci_low=ci.low, ci_high=ci.high, ci_method=ci.LABEL)
        if args.permutations:
            row["p_value"] = permutation_test(
                X, Y, info.name, n_permutations=args.permutations, seed=args.seed,
                progress=_progress(info.name, "permutations", each * args.permutations), **opts).p_value
    noted = (UninformativeWarning, BootstrapShiftWarning)
    notes = list(dict.fromkeys(_hint(str(w.message)) for w in caught if issubclass(w.category, noted)))
    if notes:
        row["note"] = " ".join(notes)
    return row


def _hint(message: str) -> str:
    """Library hints name keyword arguments and functions; on the command line they are flags (--k, --jackknife)."""
    return message.replace("choose k <=", "choose --k <=").replace("Use jackknife_ci", "Use --jackknife")


def run(args) -> int:
    import pandas as pd

    from ..metrics import get_metric, list_metrics

    if args.x is None:
        infos = [m.as_dict() for m in list_metrics()]
        table = pd.DataFrame(infos)[["name", "kind", "range", "invariances", "symmetric", "equal_dims", "reference"]]
        emit(infos, args.json, table)
        return 0
    if args.y is None:
        raise ValueError("give two representation files (X and Y), or none to list the measures")
    if args.bootstrap and args.jackknife:
        raise ValueError("give --bootstrap N or --jackknife, not both: each gives the one 95% CI of a row")
    X, Y = load_array(args.x), load_array(args.y)
    check_2d(X, "X", args.x)
    check_2d(Y, "Y", args.y)
    names = (list(dict.fromkeys(args.metric)) if args.metric else
             [m.name for m in list_metrics() if not m.equal_dims or X.shape[1] == Y.shape[1]])
    rows, refused = [], []
    for name in names:
        info = get_metric(name)
        try:
            rows.append(_evaluate(info, X, Y, args))
        except (ValueError, TypeError) as e:
            reason = _hint(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
            if args.strict or len(names) == 1:
                raise type(e)(reason) from e
            refused.append({"metric": name, "kind": info.kind, "value": None, "refused": reason})
    if not rows:
        raise ValueError("every measure refused the data: " + "; ".join(f"{r['metric']}: {r['refused']}"
                                                                       for r in refused))
    for r in refused:
        print(f"{r['metric']} refused: {r['refused']}", file=sys.stderr)
    for r in rows:
        if "note" in r and not args.json:
            print(f"note ({r['metric']}): {r['note']}", file=sys.stderr)
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "note"} for r in rows])
    emit(rows + refused, args.json, table)
    return 0
