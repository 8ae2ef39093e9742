"""Shared CLI helpers: output folders, JSON printing, tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def add_out(p, default: str | None = None) -> None:
    p.add_argument("--out", default=default, help="run folder for tables (CSV/Parquet), figures and provenance JSON"
                   + (f" (default: {default})" if default else ""))


def add_json(p) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def emit(obj, as_json: bool, table: pd.DataFrame | None = None) -> None:
    if as_json:
        json.dump(obj, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif table is not None:
        with pd.option_context("display.max_rows", 500, "display.width", 160, "display.max_columns", 20):
            print(table.to_string(index=False))
    else:
        print(obj)


def out_dir(path: str | None) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def add_dataset(p, default: str = "shapes", n: int | None = 500) -> None:
    p.add_argument("--dataset", default=default, help=f"dataset name (default: {default}); see `unireps datasets`")
    p.add_argument("--n", type=int, default=n, help="number of items where the dataset takes one")
    p.add_argument("--data-seed", type=int, default=0, help="dataset seed where the dataset takes one")
    p.add_argument("--path", help="folder of images with captions (for --dataset folder)")


def dataset_from_args(args):
    from ..data import load_dataset

    if args.dataset == "folder":
        if not args.path:
            raise ValueError("--dataset folder needs --path DIR (a folder of images with captions)")
        return load_dataset("folder", path=args.path)
    if args.dataset == "shapes":
        return load_dataset("shapes", n=args.n or 500, seed=args.data_seed)
    ds = load_dataset(args.dataset)
    return ds.subset(range(min(args.n, len(ds)))) if args.n and args.n < len(ds) else ds


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


def engine_kwargs(args) -> dict:
    """The keywords of ``extract_ray`` from the CLI options; joins ``--ray-address`` when given."""
    if args.engine != "ray":
        return {}
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
