"""Every (a, b) similarity of two lists of representations as Ray tasks (optional dependency: ``pip install
"ray[data]"``).

``all_pairs_ray(reps_a, reps_b=None, metric="linear_cka")`` returns the same (len(a), len(b)) matrix as
:func:`unireps.metrics.layer_similarity`.  Representations are shipped once: memory-mapped arrays (cache entries
of :func:`unireps.models.extract` / :func:`unireps.models.extract_ray`) and shard paths travel as their file names
and are re-opened by the task (the nodes must share the storage), other arrays go to the object store.  With
``out_of_core=True`` each task streams the rows through the measure's streaming form (the measures whose registry
entry has ``streams=True``).  See docs/scale.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..metrics import get_metric, list_metrics, ooc
from ..models.ray_engine import _ensure_ray, _ray

__all__ = ["all_pairs_ray"]


def _spec(value: Any) -> tuple:
    """How a representation travels to a task: ('memmap', file, offset, shape, dtype), ('source', path) or
    ('ref', object ref of an in-memory array)."""
    import torch

    if isinstance(value, np.memmap) and getattr(value, "filename", None) and value.flags.c_contiguous \
            and value.base is not None and getattr(value, "_mmap", None) is not None:
        base = np.frombuffer(value._mmap, dtype=np.uint8).ctypes.data
        start = value.ctypes.data - base + int(value.offset) // _granularity() * _granularity()
        return ("memmap", str(value.filename), int(start), tuple(value.shape), value.dtype.str)
    if isinstance(value, (str, os.PathLike)) or (isinstance(value, (list, tuple)) and value
                                                 and all(isinstance(v, (str, os.PathLike)) for v in value)):
        return ("source", [os.fspath(v) for v in value] if isinstance(value, (list, tuple)) else os.fspath(value))
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return ("ref", _ray().put(np.ascontiguousarray(value)))


def _granularity() -> int:
    import mmap

    return mmap.ALLOCATIONGRANULARITY


def _materialize(spec: tuple, in_memory: bool):
    kind = spec[0]
    if kind == "memmap":
        _, fname, offset, shape, dtype = spec
        return np.memmap(fname, dtype=np.dtype(dtype), mode="r", offset=offset, shape=shape)
    if kind == "source":
        if not in_memory:
            return spec[1]
        src = ooc.as_source(spec[1])
        return src.read(0, src.n_rows).numpy()
    return _ray().get(spec[1])  # refs nested in a tuple are not resolved by Ray itself


def _streaming_names() -> list[str]:
    return [m.name for m in list_metrics() if m.streams]


def _pair_value(spec_a, spec_b, metric: str, kwargs: dict, out_of_core: bool, batch_size, device) -> float:
    import ray
    import torch

    if device is None and ray.is_initialized() and ray.get_gpu_ids() and torch.cuda.is_available():
        device = "cuda"
    info = get_metric(metric)
    if not out_of_core:
        a, b = _materialize(spec_a, True), _materialize(spec_b, True)
        if device is not None:
            a, b = torch.as_tensor(np.asarray(a)).to(device), torch.as_tensor(np.asarray(b)).to(device)
        return float(info(a, b, **kwargs))
    a, b = _materialize(spec_a, False), _materialize(spec_b, False)
    return float(info.stream(a, b, batch_size=batch_size, device=device, **kwargs))


def _as_items(reps: Any, name: str) -> list[tuple[str, Any]]:
    if isinstance(reps, Mapping):
        items = list(reps.items())
    elif isinstance(reps, Sequence) and not isinstance(reps, (str, bytes)):
        items = [(f"{name}[{i}]", v) for i, v in enumerate(reps)]
    else:
        raise TypeError(f"{name} must be a list or dict of representations; got {type(reps).__name__}")
    if not items:
        raise ValueError(f"{name} holds no representations")
    return items


def all_pairs_ray(
    reps_a: Any,
    reps_b: Any = None,
    metric: str = "linear_cka",
    *,
    out_of_core: bool = False,
    batch_size: int | None = None,
    device: str | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    progress: Callable[[int, int], None] | None = None,
    **metric_kwargs: Any,
) -> np.ndarray:
    """Similarity of every representation in ``reps_a`` with every one in ``reps_b`` (default: ``reps_a``
    with itself), one Ray task per pair; returns the (len(a), len(b)) matrix of ``layer_similarity``.

    reps: lists or dicts (e.g. an ``Extraction``) of (n, d) arrays / memmaps / tensors, or shard paths.
    out_of_core=False (default): each task calls the registered measure on the whole arrays (memory-mapped
    arrays are re-opened from their files, not copied through the object store); True: the streaming
    measures of ``unireps.metrics.ooc`` (``linear_predictability`` then uses hashed folds, see its docs).
    For a symmetric measure on one list only the upper triangle is computed.  ``num_cpus`` / ``num_gpus``:
    resources per task (with a GPU the task computes on ``cuda``).  ``progress(done, total)`` is called as
    results arrive.
    """
    info = get_metric(metric)
    info.check_kwargs(metric_kwargs)
    if out_of_core and not info.streams:
        raise ValueError(f"{info.name} has no out-of-core version; out-of-core metrics: "
                         f"{', '.join(_streaming_names())}")
    ray = _ensure_ray()
    same = reps_b is None or reps_b is reps_a
    ia = _as_items(reps_a, "reps_a")
    ib = ia if same else _as_items(reps_b, "reps_b")
    sa = [_spec(v) for _, v in ia]
    sb = sa if same else [_spec(v) for _, v in ib]
    task = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(_pair_value)
    refs, where = [], []
    for i in range(len(ia)):
        for j in range(len(ib)):
            if same and info.symmetric and j < i:
                continue
            refs.append(task.remote(sa[i], sb[j], info.name, metric_kwargs, out_of_core, batch_size, device))
            where.append((i, j))
    out = np.full((len(ia), len(ib)), np.nan)
    pending = dict(zip(refs, where))
    done = 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for r in ready:
            i, j = pending.pop(r)
            out[i, j] = ray.get(r)
            if same and info.symmetric:
                out[j, i] = out[i, j]
            done += 1
            if progress is not None:
                progress(done, len(refs))
    return out
