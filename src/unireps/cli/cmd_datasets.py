"""``unireps datasets``: the datasets of the embedded default."""

from __future__ import annotations

import dataclasses

from .common import add_json, emit


def register(sub) -> None:
    p = sub.add_parser("datasets", help="list the datasets", description="List the built-in datasets.")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import pandas as pd

    from ..data import list_datasets

    rows = [dataclasses.asdict(d) if dataclasses.is_dataclass(d) else dict(d) for d in list_datasets()]
    table = pd.DataFrame(rows)[["name", "n", "modalities", "description"]]
    table["n"] = [int(v) if isinstance(v, int | float) and v == v else "any" for v in table["n"]]  # not 92.0 / NaN
    emit(rows, args.json, table)
    return 0
