"""Distributed extraction and all-pairs comparison with Ray (optional dependency: ``pip install "ray[data]"``).

``extract_ray(model, dataset, modality, layers, pooling, cache_dir, num_actors=None, batch_size=...)`` runs
extraction as Ray Data batch inference: the row indices of the inputs form a dataset, ``map_batches`` sends
batches to a fixed pool of actors, each holding one loaded :class:`~unireps.models.encoder.Encoder` (one GPU
per actor when the cluster has GPUs, else CPU actors).  Each actor writes its pooled rows as .npy shards into
the cache entry; once all are done the driver assembles them into the same activation cache as
:func:`unireps.models.extract` (same entry key, safetensors files and manifests) and removes them.  A
later ``extract(...)`` (or ``extract_ray``) with the same model, data, layers and pooling reads the cache
without running the model, and ``unireps.metrics.ooc`` reads the layer files directly.

The all-pairs comparison of the representations as Ray tasks is :func:`unireps.analysis.all_pairs_ray` (it
needs the measures, which sit above models in the layers); :func:`layer_files` gives it the cache files.

Use on a cluster: ``ray.init(address="auto")`` before calling, the cache on storage every node can read
(``cache_dir=`` or ``$UNIREPS_CACHE``); see docs/scale.md.  Without ``ray.init`` a local instance is started.
"""

from __future__ import annotations

import inspect
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .cache import ActivationCache
from .encoder import EMBEDDING, Encoder
from .extract import Extraction, resolve_data, resolve_layer_names
from .inputs import n_items, take

__all__ = ["extract_ray", "layer_files", "load_encoder"]


def _ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('the Ray engine needs Ray: pip install "ray[data]" (or pip install "unireps[ray]")') from exc
    return ray


def _ensure_ray():
    ray = _ray()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    return ray


def load_encoder(model: Any, device: str | None = None, model_kwargs: dict | None = None) -> Encoder:
    """``model``: an :class:`Encoder`; a callable returning one (called with ``device=`` when it accepts it);
    or anything :func:`~unireps.models.load_model` accepts (registry name, path, hub id, ``nn.Module``)."""
    from torch import nn

    from .registry import load_model

    kw = dict(model_kwargs or {})
    if isinstance(model, Encoder):
        return model
    if callable(model) and not isinstance(model, (nn.Module, str, os.PathLike)):
        try:
            accepts_device = "device" in inspect.signature(model).parameters
        except (TypeError, ValueError):
            accepts_device = False
        enc = model(device=device, **kw) if accepts_device else model(**kw)
        if not isinstance(enc, Encoder):
            raise TypeError(f"the model factory returned {type(enc).__name__}, not an Encoder")
        return enc
    return load_model(model, device=device, **kw)


def _plan(encoder: Encoder, modality: str, layers: Any, pooling: str | None) -> dict:
    """What ``extract`` derives from the encoder: layer names, pooling method, identity, preprocessing."""
    names = resolve_layer_names(encoder, modality, layers)
    return {
        "names": names,
        "method": encoder.resolve_pooling(modality, pooling),
        "identity": encoder.identity(),
        "preprocess": encoder.preprocess_fingerprint(modality),
        "metadata": encoder.metadata(),
    }


def _describe(model, model_kwargs, modality, layers, pooling) -> dict:
    return _plan(load_encoder(model, "cpu", model_kwargs), modality, layers, pooling)


class _ExtractActor:
    """A Ray Data actor: loads the encoder once, then pools activations for row ranges of the inputs.

    Each input row is one range ``[start, stop)``.  With ``shard_dir`` the actor writes every column of the
    range as ``<shard_dir>/<column>/<start>-<stop>.npy`` itself (temporary file, fsync, atomic rename, so a
    retried task rewrites the same shard) and returns only the range; without it (``write="driver"``) it
    returns the rows, which travel through the object store to the driver.
    """

    def __init__(self, model, model_kwargs, items_ref, modality, layers, pooling, embedding, normalize, device,
                 threads, shard_dir=None):
        import ray
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        if device is None:
            device = "cuda" if torch.cuda.is_available() and ray.get_gpu_ids() else "cpu"
        self.encoder = load_encoder(model, device, model_kwargs)
        self.items = ray.get(items_ref[0])
        self.modality, self.layers, self.pooling = modality, list(layers), pooling
        self.embedding, self.normalize = embedding, normalize
        self.shard_dir = None if shard_dir is None else Path(shard_dir)

    def _rows(self, start: int, stop: int) -> dict[str, np.ndarray]:
        sub = take(self.items, np.arange(start, stop, dtype=np.int64))
        m = stop - start
        cols: dict[str, np.ndarray] = {}
        for b in self.encoder.iter_batches(self.modality, sub, layers=self.layers, pooling=self.pooling,
                                           embedding=self.embedding, normalize=self.normalize, batch_size=m,
                                           progress=False):
            rows = dict(zip((f"l{i}" for i in range(len(self.layers))), (b.layers[x] for x in self.layers)))
            if self.embedding:
                rows["emb"] = b.embedding
            for key, arr in rows.items():
                if key not in cols:
                    cols[key] = np.empty((m, arr.shape[1]), dtype=np.float32)
                cols[key][b.index] = arr
        return cols

    def __call__(self, batch: dict) -> dict:
        ranges = np.asarray(batch["data"], dtype=np.int64).reshape(-1, 2)
        if self.shard_dir is None:
            parts = [(np.arange(s, e, dtype=np.int64), self._rows(int(s), int(e))) for s, e in ranges]
            return {"id": np.concatenate([p[0] for p in parts]),
                    **{c: np.concatenate([p[1][c] for p in parts]) for c in parts[0][1]}}
        for s, e in ranges:
            for col, arr in self._rows(int(s), int(e)).items():
                write_shard(self.shard_dir / col / shard_name(int(s), int(e)), arr)
        return {"start": ranges[:, 0], "stop": ranges[:, 1]}


def shard_name(start: int, stop: int) -> str:
    return f"{start:012d}-{stop:012d}.npy"


def write_shard(path: Path, arr: np.ndarray) -> None:
    """``arr`` as the float32 .npy file ``path``, atomically (temporary file, then rename; no fsync: a shard
    is scratch, assembled into the cache file, which is fsync'ed, and deleted)."""
    from ..io import atomic_write

    atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(arr, dtype=np.float32)), fsync=False)


def _cluster_gpus(ray) -> int:
    return int(ray.cluster_resources().get("GPU", 0))


def extract_ray(
    model: Any,
    dataset: Any,
    modality: str = "image",
    layers: Any = None,
    pooling: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    num_actors: int | None = None,
    batch_size: int = 64,
    *,
    model_kwargs: dict | None = None,
    normalize: bool = True,
    verify: str = "sha256",
    mmap: bool = True,
    num_gpus_per_actor: float | None = None,
    num_cpus_per_actor: float = 1,
    write: str = "actors",
) -> Extraction:
    """Extract pooled activations with a pool of Ray actors into the ``extract`` cache; returns the same
    :class:`~unireps.models.extract.Extraction` (``{layer: float32 (n, d)}``, memory-mapped from the cache).

    model: a registry name, path or hub id (loaded in each actor with ``load_model(model, **model_kwargs)``),
    an ``nn.Module`` (wrapped with ``from_module``; ``model_kwargs`` may hold ``layers``, ``preprocess``,
    ``name``), or a picklable callable returning an Encoder (called with ``device=`` when it takes it).
    dataset, modality, layers, pooling, cache_dir, normalize, verify, mmap: as in ``extract``.
    num_actors: default one per GPU of the cluster, or (no GPUs) the cluster's CPUs / ``num_cpus_per_actor``
    minus one, at least 1.  Each actor gets ``num_gpus_per_actor`` GPUs (default 1 when the cluster has GPUs,
    else 0).  batch_size: rows per actor call (one forward pass each).
    write: ``"actors"`` (default): each actor writes its rows as .npy shards (one per layer and row range,
    atomic) into a staging folder of the cache entry, and the driver, once every range is done, copies them
    into the cache file in bounded memory and deletes them; the rows never pass through the object store,
    and the cache must be on storage that the actors and the driver share.  ``"driver"``: the actors return
    the rows and the driver writes them (for clusters without shared storage).
    When every requested layer is already cached nothing runs (not even Ray).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if write not in ("actors", "driver"):
        raise ValueError(f"write must be 'actors' or 'driver'; got {write!r}")
    if modality not in ("image", "text"):
        raise ValueError(f"modality must be 'image' or 'text'; got {modality!r}")
    items, content_hash = resolve_data(dataset, modality)
    n = n_items(items)
    if n == 0:
        raise ValueError("no inputs to extract")
    ray = _ensure_ray()
    describe = ray.remote(num_cpus=0)(_describe)
    plan = ray.get(describe.remote(model, model_kwargs, modality, layers, pooling))
    names, method = plan["names"], plan["method"]

    def layer_pool(name: str) -> str:
        return f"norm{int(normalize)}" if name == EMBEDDING else method

    entry_fields = {"model": plan["identity"], "data": content_hash, "n": n, "modality": modality,
                    "preprocess": plan["preprocess"]}

    def key(name: str) -> dict[str, Any]:
        return {**entry_fields, "layer": name, "pooling": layer_pool(name)}

    store = ActivationCache(cache_dir, verify=verify)
    entry = store.entry_dir(entry_fields)
    arrays = {}
    for name in names:
        arr = store.load(entry, name, layer_pool(name), key(name), n, mmap=mmap)
        if arr is not None:
            arrays[name] = arr
    missing = [x for x in dict.fromkeys(names) if x not in arrays]
    timings = {}
    if missing:
        timings = _run_pool(ray, model, model_kwargs, items, n, modality, missing, pooling, normalize, batch_size,
                            num_actors, num_gpus_per_actor, num_cpus_per_actor, store, entry, key, layer_pool, write)
        for name in missing:
            arr = store.load(entry, name, layer_pool(name), key(name), n, mmap=mmap)
            if arr is None:  # pragma: no cover - just written
                raise RuntimeError(f"failed to write activations for {name!r} under {entry}")
            arrays[name] = arr
    result = Extraction()
    result.timings = timings
    result.from_cache = {name: name not in missing for name in names}
    result.entry_dir, result.content_hash, result.modality = entry, content_hash, modality
    result.pooling = {name: layer_pool(name) for name in names}
    result.model = plan["metadata"]
    for name in names:
        result[name] = arrays[name]
    return result


def _run_pool(ray, model, model_kwargs, items, n, modality, missing, pooling, normalize, batch_size, num_actors,
              num_gpus_per_actor, num_cpus_per_actor, store, entry, key, layer_pool, write) -> dict[str, float]:
    """Runs the actor pool and commits the layer files; returns seconds spent: ``inference_s`` (until every
    actor result is in) and ``assemble_s`` (driver: shards into the cache files, checksums, commit)."""
    gpus = _cluster_gpus(ray)
    per_gpu = (1.0 if gpus else 0.0) if num_gpus_per_actor is None else float(num_gpus_per_actor)
    if num_actors is None:
        if per_gpu > 0:
            num_actors = max(1, int(gpus / per_gpu))
        else:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            num_actors = max(1, int(cpus / max(num_cpus_per_actor, 1e-9)) - 1)
    layer_list = [x for x in missing if x != EMBEDDING]
    want_emb = EMBEDDING in missing
    col = {f"l{i}": name for i, name in enumerate(layer_list)}
    if want_emb:
        col["emb"] = EMBEDDING
    starts = np.arange(0, n, batch_size, dtype=np.int64)
    ranges = np.stack([starts, np.minimum(starts + batch_size, n)], axis=1)
    n_blocks = max(1, min(len(ranges), 8 * int(num_actors)))
    ds = ray.data.from_numpy(np.array_split(ranges, n_blocks))
    shard_dir = None
    if write == "actors":
        entry.mkdir(parents=True, exist_ok=True)
        shard_dir = entry / f".ray-shards-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    items_ref = ray.put(items)
    out = ds.map_batches(
        _ExtractActor,
        fn_constructor_kwargs=dict(model=model, model_kwargs=model_kwargs, items_ref=[items_ref], modality=modality,
                                   layers=layer_list, pooling=pooling, embedding=want_emb, normalize=normalize,
                                   device=None, threads=max(1, int(num_cpus_per_actor)) if per_gpu == 0 else None,
                                   shard_dir=None if shard_dir is None else str(shard_dir)),
        batch_size=1,  # one row range (``batch_size`` inputs, one forward pass) per call
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=int(num_actors)),
        num_gpus=per_gpu,
        num_cpus=num_cpus_per_actor,
    )
    writers: dict[str, Any] = {}

    def writer(name: str, d: int):
        if name not in writers:
            writers[name] = store.writer(entry, name, layer_pool(name), key(name), n, d)
        return writers[name]

    t0 = time.perf_counter()
    timings = {}
    try:
        if shard_dir is None:
            for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
                rows_id = np.asarray(batch["id"], dtype=np.int64)
                for c, name in col.items():
                    arr = np.asarray(batch[c], dtype=np.float32)
                    writer(name, arr.shape[1]).write(rows_id, arr)
        else:
            done = sorted((int(s), int(e)) for b in out.iter_batches(batch_size=None, batch_format="numpy")
                          for s, e in zip(b["start"], b["stop"]))
            if done != [tuple(r) for r in ranges.tolist()]:
                raise RuntimeError(f"the Ray actors reported {len(done)} row ranges, expected {len(ranges)}")
            timings["inference_s"] = time.perf_counter() - t0
            for c, name in col.items():
                for s, e in done:
                    arr = _read_shard(shard_dir / c / shard_name(s, e), e - s)
                    writer(name, arr.shape[1]).write(slice(s, e), arr)
        timings.setdefault("inference_s", time.perf_counter() - t0)  # write="driver": rows written as they came
        t1 = time.perf_counter()
        for w in writers.values():
            w.commit()
        timings["assemble_s"] = time.perf_counter() - t0 - timings["inference_s"]
        timings["commit_s"] = time.perf_counter() - t1
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    finally:
        if shard_dir is not None:
            shutil.rmtree(shard_dir, ignore_errors=True)
    return timings


def _read_shard(path: Path, rows: int) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(
            f"the shard {path}, written by a Ray actor, is not visible to the driver: on a cluster the cache "
            f"(cache_dir= or $UNIREPS_CACHE) must be on storage every node shares (NFS, Lustre, a mounted "
            f"bucket), or pass write='driver' to send the rows through the object store instead")
    arr = np.load(path, mmap_mode="r")
    if arr.ndim != 2 or arr.shape[0] != rows or arr.dtype != np.float32:
        raise RuntimeError(f"shard {path} holds {arr.dtype} {arr.shape}, expected float32 ({rows}, d)")
    return arr


# ------------------------------------------------------------------------------------------- all pairs


def layer_files(extraction: Extraction) -> dict[str, Path]:
    """The cache file of each layer of a cached extraction (``extract`` or ``extract_ray``): row sources for
    ``unireps.metrics.ooc`` (and for ``unireps.analysis.all_pairs_ray(..., out_of_core=True)``)."""
    if extraction.entry_dir is None:
        raise ValueError("this extraction was not cached (cache=False); there are no files to stream")
    return {name: Path(extraction.entry_dir) / f"{ActivationCache.stem(name, extraction.pooling[name])}.safetensors"
            for name in extraction}
