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
