"""unireps.export: share what was computed. ``export_embeddings`` writes precomputed embeddings as a
self-describing dataset (Parquet shards, manifest with hashes and licences, datasheet); the format and its reader
are :mod:`unireps.data.embeddings` (``unireps.data.load_embeddings``).
"""

from .datasheet import datasheet
from .embeddings import DEFAULT_DATASETS, ExportConfig, export_embeddings

__all__ = ["DEFAULT_DATASETS", "ExportConfig", "datasheet", "export_embeddings"]
