"""Precomputed embeddings as a self-describing dataset: the format and its reader.

The writer is :func:`unireps.export.export_embeddings` (it runs models, so it sits above them in the layers);
this module only reads, and needs no model.

Layout of an export folder (``unireps export-embeddings --out DIR`` or ``unireps.export.export_embeddings``)::

    DIR/manifest.json     machine-readable: models (weight hashes, licences), datasets (content hashes,
                          licences, how to regenerate), arrays (model, dataset, modality, layer, pooling,
                          shape, shards), files (sha256 and size of every shard), how it was made
    DIR/datasheet.md      the same for people, as a datasheet (motivation, composition, collection, uses,
                          licences, maintenance)
    DIR/items/<dataset>.parquet                       one row per item: caption, label, factors
    DIR/shards/<model>/<dataset>/<modality>-00000.parquet
                          column ``item`` (int64, row of the dataset) and one float32 fixed-size-list column
                          per layer (``embedding`` = the shared-space embedding, L2-normalised)

Read it back with :func:`load_embeddings`::

    emb = load_embeddings("DIR")
    X = emb.get("zoo:clip-s0", "shapes", "embedding", modality="image")      # (n, d) float32
    layers = emb.arrays("zoo:clip-s0", "shapes", modality="image")           # {layer: (n, d)}
    emb.model_info("zoo:clip-s0")["weights_sha256"];  emb.items("shapes")   # metadata, captions, factors

Every shard is checked against its sha256 in the manifest before it is parsed (``verify="lazy"``, the
default) or all at once when the folder is opened (``verify="eager"``); a mismatch raises
:class:`EmbeddingsIntegrityError`. Writes are atomic: the export is assembled in a hidden sibling folder and
renamed into place at the end, every file written with temp + rename (:mod:`unireps.io`).
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EmbeddingsIntegrityError
from ..literals import Modality, Verify

FORMAT = "unireps-embeddings"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATASHEET = "datasheet.md"
EMBEDDING = "embedding"
MODALITIES = ("image", "text")

__all__ = [
    "EmbeddingsIntegrityError",
    "Embeddings",
    "load_embeddings",
    "parse_dataset_spec",
]




# ----------------------------------------------------------------------------------------------- helpers


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _value(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    return t


def parse_dataset_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"shapes:n=500,seed=0"`` -> ``("shapes", {"n": 500, "seed": 0})``; ``"kriegeskorte92"`` -> no options.

    Options go to the dataset's loader; ``n`` for a loader without an ``n`` option keeps the first ``n`` items.
    """
    name, _, rest = str(spec).partition(":")
    name = name.strip().lower()
    if not name:
        raise ValueError(f"empty dataset name in {spec!r}; write NAME or NAME:key=value,...")
    opts: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, val = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"dataset option {part!r} in {spec!r} is not key=value (e.g. shapes:n=500,seed=0)")
        opts[key.strip()] = _value(val)
    return name, opts


def _load_spec(name: str, opts: dict[str, Any]):
    """(dataset, loader kwargs, first-n subset or None, DatasetInfo)."""
    from .registry import _info, _loader, load_dataset

    info = _info(name)
    params = inspect.signature(_loader(info)).parameters
    kwargs = dict(opts)
    subset = None
    if "n" in kwargs and "n" not in params:
        subset = int(kwargs.pop("n"))
        if subset < 1:
            raise ValueError(f"dataset {name!r}: n must be >= 1, got {subset}")
    ds = load_dataset(name, **kwargs)
    if subset is not None and subset < len(ds):
        ds = ds.subset(range(subset))
    else:
        subset = None
    return ds, kwargs, subset, info


def _column(layer: str) -> str:
    """The Parquet column of a layer: its name, unless that is the row-index column's."""
    return f"layer:{layer}" if layer == "item" else layer


class Embeddings:
    """An export folder opened for reading. See the module docstring; build it with :func:`load_embeddings`."""

    def __init__(self, path: Path, manifest: dict[str, Any], verify: str):
        self.path = path
        self.manifest = manifest
        self.verify_mode = verify
        self._verified: dict[str, tuple[int, int]] = {}
        self._index = pd.DataFrame(manifest["arrays"]) if manifest["arrays"] else pd.DataFrame(
            columns=["model", "dataset", "modality", "layer", "column", "pooling", "n", "dim", "dtype", "files"])

    def __repr__(self) -> str:
        return (f"<Embeddings {str(self.path)!r}: {len(self.models)} models, {len(self.datasets)} datasets, "
                f"{len(self._index)} arrays>")

    # ----- what is there
    @property
    def models(self) -> list[str]:
        return list(self.manifest["models"])

    @property
    def datasets(self) -> list[str]:
        return list(self.manifest["datasets"])

    @property
    def metadata(self) -> dict[str, Any]:
        """The whole manifest (models, datasets, arrays, files, how it was made)."""
        return self.manifest

    @property
    def skipped(self) -> pd.DataFrame:
        return pd.DataFrame(self.manifest.get("skipped", []), columns=["model", "dataset", "modality", "reason"])

    def index(self) -> pd.DataFrame:
        """One row per array: model, dataset, modality, layer, pooling, n, dim."""
        cols = ["model", "dataset", "modality", "layer", "pooling", "n", "dim"]
        return self._index[cols].copy() if len(self._index) else pd.DataFrame(columns=cols)

    def model_info(self, model: str) -> dict[str, Any]:
        """Metadata of one model: family, source, weights_sha256, weight_files, layer_names, licence, zoo_card."""
        return dict(self.manifest["models"][self._model(model)])

    def dataset_info(self, dataset: str) -> dict[str, Any]:
        """Metadata of one dataset: loader kwargs, n, content_hash, licence, citation, how to regenerate."""
        return dict(self.manifest["datasets"][self._dataset(dataset)])

    def layers(self, model: str, dataset: str, modality: str | None = None) -> list[str]:
        """Layer names of one (model, dataset[, modality]) in input-to-output order (``embedding`` first)."""
        rows = self._rows(model, dataset, modality)
        mods = rows["modality"].unique()
        if len(mods) > 1:
            raise ValueError(f"{model!r} has {' and '.join(mods)} layers on {dataset!r}; pass modality=")
        return rows["layer"].tolist()

    # ----- arrays
    def get(self, model: str, dataset: str, layer: str = EMBEDDING, modality: Modality | None = None) -> np.ndarray:
        """The (n, d) float32 array of ``layer`` of ``model`` on ``dataset`` (``modality`` needed only when the
        model has that layer in both towers; ``"image:embedding"`` is accepted as a layer too)."""
        if modality is None and ":" in layer and layer.split(":", 1)[0] in MODALITIES:
            modality, layer = layer.split(":", 1)
        rows = self._rows(model, dataset, modality)
        hit = rows[rows["layer"] == layer]
        if hit.empty:
            raise KeyError(f"no layer {layer!r} for {model!r} on {dataset!r}"
                           f"{f' ({modality})' if modality else ''}; layers: {', '.join(dict.fromkeys(rows['layer']))}")
        if len(hit) > 1:
            raise ValueError(f"{model!r} has a layer {layer!r} in both towers on {dataset!r}: pass "
                             f"modality='image' or 'text' (or write 'image:{layer}')")
        row = hit.iloc[0]
        return self._read(row["files"], [row["column"]], int(row["n"]), int(row["dim"]))[row["column"]]

    def __getitem__(self, key) -> np.ndarray:
        """``emb[model, dataset]`` (the embedding), ``emb[model, dataset, layer]`` or ``[..., layer, modality]``."""
        if not isinstance(key, tuple) or not 2 <= len(key) <= 4:
            raise KeyError("index with (model, dataset[, layer[, modality]])")
        return self.get(*key)

    def arrays(self, model: str, dataset: str, modality: Modality | None = None,
               layers: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """{layer: (n, d)} for one (model, dataset, modality), reading each shard once: the form the analyses
        take (``unireps.analysis.layerwise(emb.arrays(a, ds), emb.arrays(b, ds), ...)``)."""
        rows = self._rows(model, dataset, modality)
        mods = rows["modality"].unique()
        if len(mods) > 1:
            raise ValueError(f"{model!r} has {' and '.join(mods)} layers on {dataset!r}; pass modality=")
        if layers is not None:
            want = list(layers)
            missing = [x for x in want if x not in set(rows["layer"])]
            if missing:
                raise KeyError(f"no layers {missing} for {model!r} on {dataset!r}")
            rows = rows.set_index("layer").loc[want].reset_index()
        out: dict[str, np.ndarray] = {}
        for files, group in rows.groupby(rows["files"].map(tuple), sort=False):
            got = self._read(list(files), group["column"].tolist(), int(group["n"].iloc[0]),
                             dict(zip(group["column"], group["dim"])))
            out.update({lay: got[col] for lay, col in zip(group["layer"], group["column"])})
        return {lay: out[lay] for lay in rows["layer"]}

    def items(self, dataset: str) -> pd.DataFrame:
        """One row per item of ``dataset``: item, caption, label (and label_name), factors."""
        import pyarrow.parquet as pq

        rel = self.manifest["datasets"][self._dataset(dataset)]["items_file"]
        return pq.read_table(io.BytesIO(self._bytes(rel))).to_pandas()

    def source_dataset(self, dataset: str):
        """Regenerate the dataset the arrays were computed on (images included), checking its content hash."""
        from .registry import load_dataset

        info = self.dataset_info(dataset)
        ds = load_dataset(info["name"], **info["loader_kwargs"])
        if info.get("first_n"):
            ds = ds.subset(range(int(info["first_n"])))
        if ds.content_hash != info["content_hash"]:
            raise EmbeddingsIntegrityError(
                f"dataset {dataset!r} regenerated with {info['regenerate']} has content hash {ds.content_hash[:16]}…, "
                f"not the exported {info['content_hash'][:16]}…: the generator or data files changed since the "
                "export; the arrays do not describe these items")
        return ds

    @property
    def datasheet(self) -> str:
        return (self.path / DATASHEET).read_text(encoding="utf-8")

    def verify(self) -> None:
        """Check every file against the manifest; raise :class:`EmbeddingsIntegrityError` listing all problems."""
        problems = []
        for rel in self.manifest["files"]:
            try:
                self._bytes(rel, force=True)
            except EmbeddingsIntegrityError as e:
                problems.append(str(e))
        if problems:
            raise EmbeddingsIntegrityError(f"{len(problems)} file(s) of {self.path} fail verification:\n"
                                           + "\n".join(problems))

    # ----- internals
    def _model(self, model: str) -> str:
        if model in self.manifest["models"]:
            return model
        if f"zoo:{model}" in self.manifest["models"]:
            return f"zoo:{model}"
        raise KeyError(f"no model {model!r} in this export; models: {', '.join(self.models)}")

    def _dataset(self, dataset: str) -> str:
        if dataset in self.manifest["datasets"]:
            return dataset
        raise KeyError(f"no dataset {dataset!r} in this export; datasets: {', '.join(self.datasets)}")

    def _rows(self, model: str, dataset: str, modality: str | None) -> pd.DataFrame:
        m, d = self._model(model), self._dataset(dataset)
        idx = self._index
        rows = idx[(idx["model"] == m) & (idx["dataset"] == d)]
        if modality is not None:
            if modality not in MODALITIES:
                raise ValueError(f"modality must be 'image' or 'text', got {modality!r}")
            rows = rows[rows["modality"] == modality]
        if rows.empty:
            why = self.skipped
            why = why[(why["model"] == m) & ((why["dataset"] == d) | why["dataset"].isna())]
            note = f" (not exported: {why['reason'].iloc[0]})" if len(why) else ""
            raise KeyError(f"no arrays for {m!r} on {d!r}{f' ({modality})' if modality else ''}{note}")
        return rows

    def _bytes(self, rel: str, force: bool = False) -> bytes:
        rec = self.manifest["files"].get(rel)
        if rec is None:
            raise EmbeddingsIntegrityError(f"{rel} is not listed in {MANIFEST}")
        path = self.path / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise EmbeddingsIntegrityError(f"{rel}: missing (listed in {MANIFEST})") from None
        if self.verify_mode != "none" or force:
            st = path.stat()
            stamp = (st.st_size, st.st_mtime_ns)
            if force or self._verified.get(rel) != stamp:
                digest = _sha256(data)
                if len(data) != rec["bytes"] or digest != rec["sha256"]:
                    raise EmbeddingsIntegrityError(
                        f"{rel}: sha256 {digest[:16]}… ({len(data)} bytes) does not match the manifest's "
                        f"{rec['sha256'][:16]}… ({rec['bytes']} bytes): the file is corrupt or was modified; "
                        "re-download or re-export it")
                self._verified[rel] = stamp
        return data

    def _read(self, files: list[str], columns: list[str], n: int, dims) -> dict[str, np.ndarray]:
        import pyarrow.parquet as pq

        parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        expected = 0
        for rel in files:
            table = pq.read_table(io.BytesIO(self._bytes(rel)), columns=["item", *columns])
            item = table.column("item").to_numpy()
            if not np.array_equal(item, np.arange(expected, expected + len(item))):
                raise EmbeddingsIntegrityError(f"{rel}: rows are not items {expected}..{expected + len(item) - 1}")
            expected += len(item)
            for c in columns:
                col = table.column(c).combine_chunks()
                d = dims[c] if isinstance(dims, dict) else dims
                parts[c].append(np.asarray(col.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, d))
        if expected != n:
            raise EmbeddingsIntegrityError(f"{files}: {expected} rows, the manifest says {n}")
        return {c: (v[0] if len(v) == 1 else np.concatenate(v)) for c, v in parts.items()}


def load_embeddings(path: str | os.PathLike, verify: Verify | bool = "lazy") -> Embeddings:
    """Open an export folder written by :func:`unireps.export.export_embeddings` / ``unireps export-embeddings``.

    verify: ``"lazy"`` (default) checks each file's sha256 the first time it is read; ``"eager"`` (or True)
    checks every file now; ``"none"`` (or False) trusts the files. Integrity failures raise
    :class:`EmbeddingsIntegrityError` (a ``ValueError``).
    """
    mode = {True: "eager", False: "none", None: "lazy"}.get(verify, verify)  # type: ignore[arg-type]
    if mode not in ("lazy", "eager", "none"):
        raise ValueError(f"verify must be 'lazy', 'eager' or 'none', got {verify!r}")
    root = Path(path)
    mpath = root / MANIFEST
    if not mpath.is_file():
        hint = " (an interrupted export leaves no manifest: run it again)" if root.is_dir() else ""
        raise FileNotFoundError(f"{mpath} not found: {root} is not an embeddings export{hint}")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise EmbeddingsIntegrityError(f"{mpath} is not valid JSON ({e}); the export is damaged") from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{mpath} is not a {FORMAT} manifest (format={manifest.get('format')!r})")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{root} uses format version {manifest['format_version']}; this unireps reads up to "
                         f"{FORMAT_VERSION}: upgrade unireps")
    for key in ("models", "datasets", "arrays", "files"):
        if key not in manifest:
            raise EmbeddingsIntegrityError(f"{mpath} has no {key!r} section; the export is damaged")
    emb = Embeddings(root, manifest, mode)
    if mode == "eager":
        emb.verify()
    return emb
