"""Shared CLI helpers: output folders, JSON printing, tables."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_CELL = 100  # characters of a note shown in a terminal table (the CSV/Parquet files keep the full text)
SHORTENED = ("note", "notes", "reason")


def add_out(p, default: str | None = None) -> None:
    p.add_argument("--out", default=default, help="run folder for tables (CSV/Parquet), figures and provenance JSON"
                   + (f" (default: {default})" if default else ""))


def add_json(p) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def json_safe(obj):
    """``obj`` with only JSON types: NaN/inf and missing values become null, numpy scalars and arrays Python ones."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    try:
        import pandas as pd  # (only objects of no type above reach this)

        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


def _short(v):
    return v if not isinstance(v, str) or len(v) <= MAX_CELL else v[:MAX_CELL - 1] + "…"


def emit(obj, as_json: bool, table: pd.DataFrame | None = None) -> None:
    """JSON on stdout (strictly valid: NaN is written as null), or a table for people (long notes cut short)."""
    import pandas as pd

    if as_json:
        json.dump(json_safe(obj), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    elif table is not None:
        shown = table.copy()
        for col in shown.columns:
            if col in SHORTENED:
                shown[col] = shown[col].map(_short)
        with pd.option_context("display.max_rows", 500, "display.width", 160, "display.max_columns", 20):
            print(shown.to_string(index=False))
    else:
        print(obj)


def check_out(path: str | None, option: str = "--out") -> None:
    """Refuse an output folder that is an existing file (before any long computation)."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{option} {path} is an existing file, not a folder; give a folder path (it is created)")


def out_dir(path: str | None) -> Path | None:
    if path is None:
        return None
    check_out(path)
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the output folder --out {path}: {e.strerror or e}; give a writable folder "
                         "path") from e
    return p


def positive(option: str, value, minimum: int = 1) -> None:
    """Raise a clear error when an integer option is below ``minimum``."""
    if value is not None and value < minimum:
        raise ValueError(f"{option} {value}: must be an integer >= {minimum}")


def check_n_boot(value: int) -> None:
    """``--n-boot``: 0 (no confidence intervals) or at least 2 resamples."""
    positive("--n-boot", value, 0)
    if value == 1:
        raise ValueError("--n-boot 1: use 0 (no confidence intervals) or at least 2 resamples")


def check_distinct(models: list[str], command: str) -> None:
    """The same model given twice would silently collapse into one row/column: refuse it."""
    seen = set()
    for m in models:
        if m in seen:
            raise ValueError(f"model {m!r} is given twice; {command} needs distinct models (give each model once)")
        seen.add(m)


def add_dataset(p, default: str = "shapes", n: int | None = 500) -> None:
    p.add_argument("--dataset", default=default, help=f"dataset name (default: {default}); see `unireps datasets`")
    p.add_argument("--n", type=int, default=None,
                   help=f"number of items: the first N of a fixed dataset, or N generated shapes (default: {n}; "
                   "--dataset folder: all its images)")
    p.set_defaults(default_n=n)
    p.add_argument("--data-seed", type=int, default=0, help="dataset seed where the dataset takes one")
    p.add_argument("--path", help="folder of images with captions (for --dataset folder)")


def dataset_from_args(args):
    from ..data import load_dataset

    if args.n is not None and args.n < 1:
        raise ValueError(f"--n {args.n}: the number of items must be a positive integer (e.g. --n 500)")
    if args.dataset == "folder":
        if not args.path:
            raise ValueError("--dataset folder needs --path DIR (a folder of images with captions)")
        ds = load_dataset("folder", path=args.path)
        n = args.n  # a folder is used whole unless --n is given
    elif args.path:
        raise ValueError(f"--path is only read with --dataset folder (got --dataset {args.dataset}); add "
                         "--dataset folder to use your own images, or drop --path")
    else:
        n = args.n if args.n is not None else getattr(args, "default_n", 500)
        if args.dataset == "shapes":
            return load_dataset("shapes", n=n or 500, seed=args.data_seed)
        ds = load_dataset(args.dataset)
    return ds.subset(range(n)) if n and n < len(ds) else ds


def add_engine(p) -> None:
    g = p.add_argument_group("engine", "where the models run (see docs/scale.md)")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default) or ray: Ray Data batch inference with a pool of actors (one per GPU)")
    g.add_argument("--ray-address", default=None,
                   help="Ray cluster to join (e.g. auto); default: a local Ray instance is started")
    g.add_argument("--num-actors", type=int, default=None, help="Ray actors (default: one per GPU, else CPUs - 1)")
    g.add_argument("--batch-size", type=int, default=None,
                   help="inputs per forward pass (default: the model's own for local, 64 for ray)")
    g.add_argument("--write", choices=("actors", "driver"), default="actors",
                   help="ray engine: actors write shards to the shared cache (default) or send rows to the driver")
    g.add_argument("--cache-dir", default=None, help="activation cache (default: $UNIREPS_CACHE or ~/.cache/unireps)")


def check_engine(args) -> None:
    positive("--batch-size", args.batch_size)
    positive("--num-actors", args.num_actors)


def engine_kwargs(args) -> dict:
    """The extraction keywords of the engine (``extract`` or ``extract_ray``) from the CLI options; joins
    ``--ray-address`` when given."""
    check_engine(args)
    if args.engine != "ray":
        return {"batch_size": args.batch_size} if args.batch_size else {}
    if args.ray_address:
        import ray

        if not ray.is_initialized():
            ray.init(address=args.ray_address, include_dashboard=False, log_to_driver=False)
    kw = {"batch_size": args.batch_size or 64, "write": args.write, "num_actors": args.num_actors}
    if getattr(args, "allow_download", False):
        kw["model_kwargs"] = {"allow_download": True}
    return kw


def add_models(p, nargs="+") -> None:
    p.add_argument("models", nargs=nargs, metavar="MODEL",
                   help="registry name (see `unireps models`), zoo:<name>, hf:<id>, or a local folder")
    p.add_argument("--allow-download", action="store_true", help="let hub models download (off by default)")


def load_models(args) -> dict:
    from ..models import load_model

    return {m: load_model(m, allow_download=getattr(args, "allow_download", False)) for m in args.models}


def save_outputs(out, tables: dict, figures: dict | None = None, record: dict | None = None, png: bool = False):
    """Tables as CSV and Parquet, figures as offline HTML (and PNG when asked), a provenance JSON."""
    from ..io import write_json, write_table
    from ..provenance import provenance

    if out is None:
        return []
    written = []
    for name, df in tables.items():
        written += [write_table(df, out / f"{name}.csv"), write_table(df, out / f"{name}.parquet")]
    for name, fig in (figures or {}).items():
        from ..viz import save

        save(fig, html_path=out / f"{name}.html", png_path=out / f"{name}.png" if png else None)
        written.append(out / f"{name}.html")
    written.append(write_json(out / "provenance.json", provenance(**(record or {}))))
    return written
