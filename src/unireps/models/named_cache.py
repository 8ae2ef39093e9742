"""Cached activations found by model name, without loading the model.

:func:`~unireps.models.extract` keys each cache entry by the model's identity (its weights' sha256, ...) and its
preprocessing, which it reads from the loaded model; on a warm cache, loading a model (importing transformers,
reading its weights) costs more than reading its activations.  After an extraction by name, :func:`remember` writes
a small *name record* under ``<cache root>/names/``: which entry and which (layer, pooling) files it used.
:func:`lookup` finds the record and reads the arrays through :class:`~unireps.models.cache.ActivationCache`, which
checks each file's manifest key, size, header and sha256 as for any other read.

Only names whose source gives a stamp of the files they load (:func:`~unireps.models.registry.source_stamp`: the
zoo's models) get records.  The record's key hashes the name, that stamp, every file of the unireps package, the
data's content hash and size, the modality, the layers and pooling asked for and ``normalize``: a rebuilt model,
edited code or other data misses, and the model is loaded as before.

>>> import tempfile
>>> lookup("zoo:clip-s0", ["a caption"], "text", cache_dir=tempfile.mkdtemp()) is None  # no record yet
True
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..provenance import package_digest
from .cache import ActivationCache, atomic_write_json
from .extract import Extraction, resolve_data
from .inputs import n_items
from .registry import source_stamp


def _record_path(root: Path, name: str, stamp: str, content_hash: str, n: int, modality: str, layers: Any,
                 pooling: str | None, normalize: bool) -> Path:
    spec = layers if layers is None or isinstance(layers, str) else [str(x) for x in layers]
    payload = json.dumps({"name": name, "stamp": stamp, "package": package_digest(), "data": content_hash, "n": n,
                          "modality": modality, "layers": spec, "pooling": pooling, "normalize": bool(normalize)},
                         sort_keys=True)
    return root / "names" / f"{hashlib.sha256(payload.encode()).hexdigest()[:32]}.json"


def lookup(name: str, data: Any, modality: str = "image", layers: Any = None, pooling: str | None = None,
           cache_dir=None, normalize: bool = True) -> dict[str, np.ndarray] | None:
    """``{layer: array}`` as :func:`~unireps.models.extract` gave it for ``name`` on ``data`` before, read from the
    cache without loading the model; None when there is no valid record or any array fails its checks."""
    stamp = source_stamp(name)
    if stamp is None:
        return None
    items, content_hash = resolve_data(data, modality)
    n = n_items(items)
    store = ActivationCache(cache_dir)
    path = _record_path(store.root, name, stamp, content_hash, n, modality, layers, pooling, normalize)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        fields, entry = record["fields"], store.entry_dir(record["fields"])
        out = {}
        for layer, pool in record["layers"]:
            arr = store.load(entry, layer, pool, {**fields, "layer": layer, "pooling": pool}, n)
            if arr is None:
                return None
            out[layer] = arr
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return out


def remember(name: str, data: Any, extraction: Extraction, modality: str = "image", layers: Any = None,
             pooling: str | None = None, cache_dir=None, normalize: bool = True) -> None:
    """Write the name record of ``extraction`` (what :func:`~unireps.models.extract` returned for the model loaded
    from ``name`` with these arguments); nothing for names without a stamp or an extraction that was not cached."""
    stamp = source_stamp(name)
    if stamp is None or getattr(extraction, "entry_dir", None) is None:
        return
    items, content_hash = resolve_data(data, modality)
    store = ActivationCache(cache_dir)
    path = _record_path(store.root, name, stamp, content_hash, n_items(items), modality, layers, pooling, normalize)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"name": name, "fields": extraction.entry_fields,
                             "layers": [[layer, extraction.pooling[layer]] for layer in extraction]})
