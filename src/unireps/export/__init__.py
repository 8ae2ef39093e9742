"""unireps.export: share what was computed. ``export_embeddings`` writes precomputed embeddings as a
self-describing dataset (Parquet shards, manifest with hashes and licences, datasheet); the format and its reader
are :mod:`unireps.data.embeddings` (``unireps.data.load_embeddings``).

Importing the package loads nothing heavy: the names below load their module (torch, pandas) on first use.
"""

import importlib
from typing import TYPE_CHECKING

from .defaults import DEFAULT_DATASETS

if TYPE_CHECKING:  # (for readers and type checkers; at run time these load on first use)
    from .datasheet import datasheet
    from .embeddings import ExportConfig, export_embeddings

_LAZY = {"datasheet": ".datasheet", "ExportConfig": ".embeddings", "export_embeddings": ".embeddings"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["DEFAULT_DATASETS", "ExportConfig", "datasheet", "export_embeddings"]
