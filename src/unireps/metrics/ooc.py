"""Out-of-core similarity measures: stream activations from disk in bounded memory.

Row sources (``as_source`` / ``iter_batches``): a numpy array or ``np.memmap``, a torch tensor (any device),
a ``.npy`` path (opened with ``mmap_mode="r"``), a ``.safetensors`` path (read with
``safetensors.safe_open(framework="pt")`` slices; ``key=`` names the tensor when the file holds several), a
list of such shard files (rows concatenated in list order), or a directory of shards (its ``shards.json``
``{"shards": [names]}`` order when present, else file names in natural order: ``part-2`` before
``part-10``).  An activation-cache entry (``<layer>.<pooling>.safetensors`` + ``.json`` manifest, as written
by ``unireps.models.extract``) is read through its layer file or its manifest path.

Batches are float torch tensors (float32 stays float32, float64 stays float64, other types are promoted as
the in-memory measures do) of exactly ``batch_size`` rows, the last one shorter, whatever the shard
boundaries, so two sources with different sharding pair up row for row.  Only one batch per source is in
memory at a time: memory-mapped pages are released after each copy (``madvise(MADV_DONTNEED)``) and each
safetensors read maps and unmaps its file, so the resident set stays bounded whatever n.

Measures (each equal to its in-memory counterpart on the same rows; see the function docstrings):

* ``streaming_linear_cka``     biased / debiased linear CKA (``StreamingCKA``, exact estimator)
* ``streaming_cca``            a fitted ``StreamingCCA``: ``.cca()``, ``.svcca(keep)``, ``.pwcca()``,
                               ``.procrustes()``
* ``streaming_predictability`` cross-validated ridge R^2 (``StreamingPredictability``; hashed folds)
* ``streaming_paired_cosine``  mean cosine of matched rows
* ``chunked_knn``              exact cosine k-NN, query chunks × database chunks with a running top-k merge
* ``approximate_knn``          a faiss index (IVF-Flat, HNSW or any factory string) with its recall against
                               exact neighbours on a sample of queries
* ``mutual_knn_ooc``           mutual k-NN alignment, exact (bounded memory) or approximate

Not streamable in bounded memory: rbf_cka (n×n kernel, median heuristic over n^2 distances), rsa (ranks of
n^2/2 dissimilarities), cknna (O(n k^2) neighbour products) and jaccard_knn beyond the neighbour lists.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ShardError
from ._validate import check_k, rows_pow2
from .knn import overlap_counts
from .streaming import StreamingCCA, StreamingCKA, StreamingPredictability

_BATCH_BYTES = 1 << 26  # default batch: ~64 MiB of float64 rows
_SHARD_SUFFIXES = (".npy", ".safetensors")




# ------------------------------------------------------------------------------------------- row pieces


def _as_float_tensor(a) -> torch.Tensor:
    """numpy or torch rows -> a floating tensor (float16/bfloat16 -> float32, integers -> float64)."""
    if isinstance(a, np.ndarray):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"rows have dtype {a.dtype}; expected real numbers")
        if a.dtype.kind != "f":
            a = a.astype(np.float64)
        elif a.dtype == np.float16:
            a = a.astype(np.float32)
        if not a.flags.c_contiguous or not a.flags.writeable:
            a = np.array(a, order="C")
        t = torch.from_numpy(a)
    else:
        t = a.detach()
    if not t.is_floating_point():
        t = t.to(torch.float64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.to(torch.float32)
    return t


def _release_pages(block: np.ndarray, mm_array: np.memmap) -> None:
    """Drop the pages under ``block`` (a slice of the memory-mapped ``mm_array``) from this process's resident
    set after it was copied; they stay in the page cache.  Best effort, read-only or shared maps only (a
    copy-on-write map could lose modified pages)."""
    mm = getattr(mm_array, "_mmap", None)
    if mm is None or getattr(mm_array, "mode", "c") == "c" or not hasattr(mmap, "MADV_DONTNEED") \
            or not block.size or not hasattr(mm, "madvise"):
        return
    try:
        if block.ndim != 2 or min(block.strides) < 0:
            return
        base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
        lo = block.ctypes.data - base
        hi = lo + (block.shape[0] - 1) * block.strides[0] + (block.shape[1] - 1) * block.strides[1] + block.itemsize
        page = mmap.PAGESIZE
        lo, hi = lo // page * page, min(len(mm), -(-hi // page) * page)
        if 0 <= lo < hi:
            mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
    except (OSError, ValueError, TypeError, BufferError):  # pragma: no cover - platform dependent
        pass


class _Piece:
    """One contiguous block of rows."""

    name: str
    n_rows: int
    n_cols: int

    def read(self, start: int, stop: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def take(self, rows: np.ndarray) -> torch.Tensor:
        return torch.cat([self.read(int(r), int(r) + 1) for r in rows]) if len(rows) else self.read(0, 0)


class _ArrayPiece(_Piece):
    def __init__(self, array, name: str):
        if array.ndim != 2:
            raise ValueError(f"{name} has shape {tuple(array.shape)}; expected 2-D (n_stimuli, n_features)")
        self.array, self.name = array, name
        self.n_rows, self.n_cols = int(array.shape[0]), int(array.shape[1])
        self.device = array.device if isinstance(array, torch.Tensor) else torch.device("cpu")

    def read(self, start: int, stop: int) -> torch.Tensor:
        a = self.array
        if isinstance(a, torch.Tensor):
            return _as_float_tensor(a[start:stop])
        view = a[start:stop]
        out = _as_float_tensor(np.array(view))
        if isinstance(a, np.memmap):
            _release_pages(view, a)
        return out

    def take(self, rows: np.ndarray) -> torch.Tensor:
        a = self.array
        if isinstance(a, torch.Tensor):
            return _as_float_tensor(a[torch.as_tensor(rows, device=a.device)])
        return _as_float_tensor(np.array(a[np.asarray(rows)]))


class _NpyPiece(_Piece):
    """A .npy file, memory-mapped read-only; each read copies its rows and releases the mapped pages."""

    def __init__(self, path: Path):
        self.path, self.name = path, str(path)
        arr = self._open()
        self.n_rows, self.n_cols = int(arr.shape[0]), int(arr.shape[1])
        self.device = torch.device("cpu")

    def _open(self) -> np.memmap:
        try:
            arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any failure to open is an unreadable shard
            raise ShardError(f"cannot read shard {self.path}: {type(exc).__name__}: {exc}") from exc
        if arr.ndim != 2:
            raise ShardError(f"shard {self.path} has shape {arr.shape}; expected 2-D (rows, features)")
        if not arr.flags.c_contiguous:
            raise ShardError(f"shard {self.path} is stored in Fortran order; save it C-contiguous")
        return arr

    def read(self, start: int, stop: int) -> torch.Tensor:
        arr = self._open()
        view = arr[start:stop]
        try:
            block = np.array(view)
        except Exception as exc:  # noqa: BLE001
            raise ShardError(f"cannot read rows {start}:{stop} of shard {self.path}: {exc}") from exc
        _release_pages(view, arr)
        del view, arr
        return _as_float_tensor(block)

    def take(self, rows: np.ndarray) -> torch.Tensor:
        arr = self._open()
        out = _as_float_tensor(np.array(arr[np.asarray(rows)]))
        del arr
        return out


class _SafetensorsPiece(_Piece):
    """One tensor of a .safetensors file; each read opens the file (a fresh map), slices rows, closes it."""

    def __init__(self, path: Path, key: str | None):
        self.path, self.name = path, str(path)
        self.device = torch.device("cpu")
        with self._open() as f:
            keys = list(f.keys())
            if key is None:
                if len(keys) != 1:
                    raise ShardError(f"shard {path} holds tensors {keys}; pass key= to choose one")
                key = keys[0]
            elif key not in keys:
                raise ShardError(f"shard {path} has no tensor {key!r}; it holds {keys}")
            shape = f.get_slice(key).get_shape()
        if len(shape) != 2:
            raise ShardError(f"tensor {key!r} of shard {path} has shape {shape}; expected 2-D (rows, features)")
        self.key = key
        self.n_rows, self.n_cols = int(shape[0]), int(shape[1])

    def _open(self):
        from safetensors import safe_open

        try:
            return safe_open(str(self.path), framework="pt", device="cpu")
        except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError, ...
            raise ShardError(f"cannot read shard {self.path}: {type(exc).__name__}: {exc}") from exc

    def read(self, start: int, stop: int) -> torch.Tensor:
        try:
            with self._open() as f:
                return _as_float_tensor(f.get_slice(self.key)[start:stop])
        except ShardError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ShardError(f"cannot read rows {start}:{stop} of shard {self.path}: {exc}") from exc

    def take(self, rows: np.ndarray) -> torch.Tensor:
        with self._open() as f:
            sl = f.get_slice(self.key)
            parts = [sl[int(r):int(r) + 1] for r in rows]
        return _as_float_tensor(torch.cat(parts)) if parts else self.read(0, 0)


class _RangePiece(_Piece):
    """Rows [start, stop) of another source."""

    def __init__(self, src: RowSource, start: int, stop: int):
        self.src, self.start = src, start
        self.name = f"{src.name}[{start}:{stop}]"
        self.n_rows, self.n_cols, self.device = stop - start, src.n_cols, src.device

    def read(self, start: int, stop: int) -> torch.Tensor:
        return self.src.read(self.start + start, self.start + stop)

    def take(self, rows: np.ndarray) -> torch.Tensor:
        return self.src.take(np.asarray(rows) + self.start)


# ----------------------------------------------------------------------------------------------- sources


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _is_cache_manifest(path: Path) -> dict | None:
    try:
        man = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return man if isinstance(man, dict) and "file" in man and "key" in man else None


def _dir_shards(path: Path) -> list[Path]:
    order = path / "shards.json"
    if order.exists():
        try:
            names = json.loads(order.read_text())["shards"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ShardError(f"cannot read the shard order {order}: {exc}") from exc
        return [path / name for name in names]
    manifests = [p for p in path.glob("*.json") if _is_cache_manifest(p)]
    if manifests:
        files = sorted(str(path / _is_cache_manifest(p)["file"]) for p in manifests)
        raise ValueError(f"{path} is an activation-cache entry with one file per layer, not a set of row shards; "
                         f"pass one layer's file, e.g. one of {files}")
    shards = [p for p in path.iterdir() if p.suffix in _SHARD_SUFFIXES and not p.name.startswith(".")]
    if not shards:
        raise ShardError(f"directory {path} holds no .npy or .safetensors shards")
    return sorted(shards, key=lambda p: _natural_key(p.name))


def _path_pieces(path: Path, key: str | None) -> list[_Piece]:
    if path.is_dir():
        return [p for shard in _dir_shards(path) for p in _path_pieces(shard, key)]
    if path.suffix == ".json":
        man = _is_cache_manifest(path)
        if man is None:
            raise ShardError(f"{path} is not an activation-cache manifest")
        return [_SafetensorsPiece(path.parent / man["file"], key)]
    if not path.exists():
        raise ShardError(f"shard {path} does not exist")
    if path.suffix == ".npy":
        return [_NpyPiece(path)]
    if path.suffix == ".safetensors":
        return [_SafetensorsPiece(path, key)]
    raise ShardError(f"cannot read {path}: shards must be .npy or .safetensors files")


class RowSource:
    """Rows of one (n, d) representation held in one or more pieces; random access by row range.

    Build with ``as_source(obj)``.  ``n_rows``, ``n_cols``; ``read(start, stop)`` returns a float tensor of
    those rows (on the CPU for files and numpy arrays, on the tensor's device for torch input);
    ``take(rows)`` gathers arbitrary rows; ``iter(batch_size)`` yields (start, batch).
    """

    def __init__(self, pieces: Sequence[_Piece], name: str):
        if not pieces:
            raise ValueError(f"{name} holds no rows")
        widths = {p.n_cols for p in pieces}
        if len(widths) != 1:
            detail = ", ".join(f"{p.name}: {p.n_cols}" for p in pieces[:8])
            raise ShardError(f"shards of {name} have different numbers of features ({detail})")
        self.pieces = list(pieces)
        self.name = name
        self.n_cols = widths.pop()
        self._bounds = np.cumsum([0] + [p.n_rows for p in pieces])
        self.n_rows = int(self._bounds[-1])
        self.device = pieces[0].device

    def __len__(self) -> int:
        return self.n_rows

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_rows, self.n_cols

    def __repr__(self) -> str:
        return f"<RowSource {self.name!r} {self.n_rows}×{self.n_cols} in {len(self.pieces)} piece(s)>"

    def read(self, start: int, stop: int) -> torch.Tensor:
        start, stop = max(0, int(start)), min(self.n_rows, int(stop))
        parts = []
        i = int(np.searchsorted(self._bounds, start, side="right")) - 1
        while start < stop:
            lo, hi = int(self._bounds[i]), int(self._bounds[i + 1])
            end = min(stop, hi)
            if end > start:
                parts.append(self.pieces[i].read(start - lo, end - lo))
            start = end
            i += 1
        if not parts:
            return self.pieces[0].read(0, 0)
        if len(parts) == 1:
            return parts[0]
        dtype = parts[0].dtype
        for p in parts[1:]:
            dtype = torch.promote_types(dtype, p.dtype)
        return torch.cat([p.to(dtype) for p in parts])

    def take(self, rows) -> torch.Tensor:
        """Rows at the given global indices, in the order given."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise IndexError(f"row index out of range for {self.name} with {self.n_rows} rows")
        piece = np.searchsorted(self._bounds, rows, side="right") - 1
        parts = []
        for i in np.unique(piece):
            where = np.nonzero(piece == i)[0]
            t = self.pieces[i].take(rows[where] - self._bounds[i])
            parts.append((where, t))
        if not parts:
            return self.read(0, 0)
        dtype = parts[0][1].dtype
        for _, t in parts[1:]:
            dtype = torch.promote_types(dtype, t.dtype)
        out = torch.empty((len(rows), self.n_cols), dtype=dtype, device=parts[0][1].device)
        for where, t in parts:
            out[torch.as_tensor(where, device=out.device)] = t.to(dtype)
        return out

    def slice(self, start: int = 0, stop: int | None = None) -> RowSource:
        """A source over rows [start, stop) of this one (nothing is read)."""
        stop = self.n_rows if stop is None else min(int(stop), self.n_rows)
        start = max(0, int(start))
        if stop <= start:
            raise ValueError(f"empty row range {start}:{stop} of {self.name} ({self.n_rows} rows)")
        return RowSource([_RangePiece(self, start, stop)], f"{self.name}[{start}:{stop}]")

    def iter(self, batch_size: int | None = None, start: int = 0, stop: int | None = None):
        bs = default_batch_size(self.n_cols) if batch_size is None else int(batch_size)
        if bs < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        stop = self.n_rows if stop is None else min(int(stop), self.n_rows)
        for s in range(int(start), stop, bs):
            yield s, self.read(s, min(s + bs, stop))


def default_batch_size(n_cols: int) -> int:
    """Rows per batch: about 64 MiB of float64 rows (16384 rows at d = 512), at least 256."""
    return max(256, _BATCH_BYTES // (8 * max(int(n_cols), 1)))


def as_source(obj, key: str | None = None, name: str | None = None) -> RowSource:
    """A ``RowSource`` for an array, tensor, memmap, shard path, list of shard paths or shard directory."""
    if isinstance(obj, RowSource):
        return obj
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return RowSource([_ArrayPiece(obj, name or type(obj).__name__)], name or type(obj).__name__)
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj).expanduser()
        return RowSource(_path_pieces(path, key), name or str(path))
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(p, (str, os.PathLike)) for p in obj):
        pieces = [p for item in obj for p in _path_pieces(Path(item).expanduser(), key)]
        return RowSource(pieces, name or f"{len(obj)} shards from {Path(obj[0]).parent}")
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(p, (np.ndarray, torch.Tensor)) for p in obj):
        nm = name or f"{len(obj)} arrays"
        return RowSource([_ArrayPiece(a, f"{nm}[{i}]") for i, a in enumerate(obj)], nm)
    raise TypeError("a row source must be a numpy array / memmap, a torch tensor, a .npy or .safetensors path, "
                    f"a list of shard paths or arrays, or a directory of shards; got {type(obj).__name__}")


def _move(t: torch.Tensor, device, dtype) -> torch.Tensor:
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if device is not None and t.device != torch.device(device):
        t = t.to(device, non_blocking=t.device.type == "cpu" and torch.device(device).type == "cuda")
    return t


def iter_batches(source, batch_size: int | None = None, *, key: str | None = None, dtype: torch.dtype | None = None,
                 device=None) -> Iterator[torch.Tensor]:
    """Float tensors of ``batch_size`` consecutive rows of ``source`` (the last one shorter), optionally cast
    to ``dtype`` and moved to ``device``.  Default batch size: ~64 MiB of float64 rows."""
    src = as_source(source, key)
    for _, batch in src.iter(batch_size):
        yield _move(batch, device, dtype)


def _array_name(obj, name: str) -> str | None:
    """In-memory arrays are named after their role (X, Y) in messages; files keep their paths."""
    return name if isinstance(obj, (np.ndarray, torch.Tensor)) else None


def paired_sources(src_x, src_y, key_x: str | None = None, key_y: str | None = None) -> tuple[RowSource, RowSource]:
    """Two sources over the same stimuli; ValueError when their row counts differ."""
    sx, sy = as_source(src_x, key_x, _array_name(src_x, "X")), as_source(src_y, key_y, _array_name(src_y, "Y"))
    if sx.n_rows != sy.n_rows:
        raise ValueError(f"X has {sx.n_rows} stimuli (rows) but Y has {sy.n_rows}; both sources must hold the "
                         f"same stimuli in the same order (X: {sx!r}, Y: {sy!r})")
    return sx, sy


def iter_pairs(src_x, src_y, batch_size: int | None = None, *, dtype: torch.dtype | None = None, device=None,
               with_start: bool = False):
    """Aligned batches (xb, yb) of the same rows of two sources (``(start, xb, yb)`` with ``with_start``)."""
    sx, sy = paired_sources(src_x, src_y)
    bs = default_batch_size(max(sx.n_cols, sy.n_cols)) if batch_size is None else int(batch_size)
    if bs < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    for s in range(0, sx.n_rows, bs):
        e = min(s + bs, sx.n_rows)
        xb, yb = _move(sx.read(s, e), device, dtype), _move(sy.read(s, e), device, dtype)
        if xb.shape[0] != e - s or yb.shape[0] != e - s:  # pragma: no cover - a shard changed under us
            raise ShardError(f"rows {s}:{e} could not be read in full (got {xb.shape[0]} and {yb.shape[0]})")
        yield (s, xb, yb) if with_start else (xb, yb)


# ----------------------------------------------------------------------------------------- linear stats


def accumulate(acc, src_x, src_y, batch_size: int | None = None, device=None):
    """Feed every aligned batch pair of two sources to an accumulator with ``update(Xb, Yb)``; returns it."""
    for xb, yb in iter_pairs(src_x, src_y, batch_size, device=device):
        acc.update(xb, yb)
    return acc


def streaming_linear_cka(src_x, src_y, debiased: bool = False, batch_size: int | None = None, device=None) -> float:
    """Linear CKA of two row sources, streamed through ``StreamingCKA`` (exact estimator): equals
    ``linear_cka(X, Y, debiased)`` on all rows (~1e-9 in float64), in O(d1^2 + d2^2 + d1 d2) memory."""
    return accumulate(StreamingCKA(debiased=debiased), src_x, src_y, batch_size, device).compute()


def streaming_cca(src_x, src_y, batch_size: int | None = None, device=None,
                  rank_tol: float | None = None) -> StreamingCCA:
    """A ``StreamingCCA`` fed with every row of two sources: call ``.cca()``, ``.svcca(keep)``, ``.pwcca()``,
    ``.procrustes()`` or ``.compute()`` (the canonical correlations) on it; one pass serves them all."""
    return accumulate(StreamingCCA(rank_tol=rank_tol), src_x, src_y, batch_size, device)


def streaming_predictability(src_x, src_y, cv: int = 5, seed: int = 0, batch_size: int | None = None,
                             device=None) -> float:
    """Cross-validated ridge R^2 of predicting Y from X over row sources (``StreamingPredictability``): hashed
    folds of the global row index, so the value does not depend on batching or sharding, and agrees with the
    in-memory ``linear_predictability`` (random-permutation folds) only statistically."""
    acc = StreamingPredictability(cv=cv, seed=seed)
    for s, xb, yb in iter_pairs(src_x, src_y, batch_size, device=device, with_start=True):
        acc.update(xb, yb, start=s)
    return acc.compute()


def streaming_paired_cosine(src_x, src_y, batch_size: int | None = None, device=None) -> float:
    """Mean cosine of matched rows (``paired_cosine``) over row sources of equal width."""
    total, n = None, 0
    for xb, yb in iter_pairs(src_x, src_y, batch_size, device=device, dtype=torch.float64):
        if xb.shape[1] != yb.shape[1]:
            raise ValueError(f"paired cosine needs equal widths, got X: {xb.shape[1]} and Y: {yb.shape[1]}")
        _check_rows_finite(xb, "X", n), _check_rows_finite(yb, "Y", n)
        xb, yb = rows_pow2(xb), rows_pow2(yb)
        nx, ny = torch.linalg.vector_norm(xb, dim=1), torch.linalg.vector_norm(yb, dim=1)
        if bool((nx == 0).any() | (ny == 0).any()):
            raise ValueError("some rows of X or Y are all zeros; their cosine is undefined. Drop those stimuli")
        part = ((xb * yb).sum(1) / (nx * ny)).sum()
        total = part if total is None else total + part
        n += xb.shape[0]
    return float(total / n)


# ------------------------------------------------------------------------------------------------ k-NN


@dataclass
class KNNResult:
    """Neighbour indices (n_queries, k) int64 and cosine similarities, best first; ``recall``: the mean
    fraction of the exact k neighbours found, estimated on ``recall_queries`` sampled queries (approximate
    search only; None for exact search)."""

    indices: torch.Tensor
    similarities: torch.Tensor
    recall: float | None = None
    recall_queries: int = 0


@dataclass
class MutualKNNResult:
    """Mutual k-NN alignment ``value`` (``float(result)`` gives it) and, for approximate search, the recall
    of each side's neighbour lists against exact ones on a sample of queries."""

    value: float
    n: int
    k: int
    approximate: bool
    recall_x: float | None = None
    recall_y: float | None = None

    def __float__(self) -> float:
        return float(self.value)


def _check_rows_finite(t: torch.Tensor, name: str, first_row: int) -> None:
    """Refuse NaN / inf like the in-memory measures, naming the first bad row of the source."""
    bad = ~torch.isfinite(t).all(dim=1)
    if bool(bad.any()):
        row = int(torch.nonzero(bad)[0]) + first_row
        raise ValueError(f"{name} contains NaN or infinite values (first: row {row}); remove or impute them "
                         "(e.g. drop those stimuli from both representations) before comparing")


def _unit(t: torch.Tensor, name: str, first_row: int) -> torch.Tensor:
    _check_rows_finite(t, name, first_row)
    t = rows_pow2(t)  # exact per-row power-of-two scaling: the norm can neither overflow nor underflow
    norms = torch.linalg.vector_norm(t, dim=1, keepdim=True)
    if bool((norms == 0).any()):
        bad = int(torch.nonzero(norms.reshape(-1) == 0)[0]) + first_row
        raise ValueError(f"{name} has all-zero rows (first: row {bad}); cosine neighbours are undefined for them. "
                         "Drop those stimuli first")
    return t / norms


def _query_chunk(src: RowSource, rows: np.ndarray | None, s: int, e: int, device, dtype, name):
    if rows is None:
        q, idx = src.read(s, e), torch.arange(s, e)
    else:
        q, idx = src.take(rows[s:e]), torch.as_tensor(rows[s:e])
    q = _move(q, device, dtype)
    return _unit(q, name, s if rows is None else 0), idx.to(q.device)


def _scan_topk(q: torch.Tensor, q_rows: torch.Tensor | None, src: RowSource, k: int, batch_size: int, device, name):
    """Top-k cosine neighbours in ``src`` of unit query rows q (self, at global row q_rows, excluded): the
    database is streamed in chunks and merged into a running top-k."""
    nq = q.shape[0]
    best_v = torch.full((nq, k), float("-inf"), dtype=q.dtype, device=q.device)
    best_i = torch.full((nq, k), -1, dtype=torch.int64, device=q.device)
    ar = torch.arange(nq, device=q.device)
    for start, db in src.iter(batch_size):
        d = _unit(_move(db, device, q.dtype), name, start)
        S = q @ d.T
        if q_rows is not None:
            local = q_rows - start
            inside = (local >= 0) & (local < d.shape[0])
            S[ar[inside], local[inside]] = float("-inf")
        kk = min(k, S.shape[1])
        v, i = torch.topk(S, kk, dim=1)
        v = torch.cat([best_v, v], dim=1)
        i = torch.cat([best_i, i + start], dim=1)
        best_v, pos = torch.topk(v, k, dim=1)
        best_i = torch.gather(i, 1, pos)
    return best_i, best_v


def _knn_dtype(src: RowSource) -> torch.dtype:
    return src.read(0, 1).dtype


def chunked_knn(source, k: int = 10, *, query_rows=None, batch_size: int | None = None,
                query_batch_size: int | None = None, exclude_self: bool = True, device=None,
                key: str | None = None) -> KNNResult:
    """Exact top-k cosine neighbours of every row (or of ``query_rows``) of a row source, self excluded.

    Same rule as ``unireps.metrics.mutual_knn``: rows L2-normalised, the k most cosine-similar other rows.
    Queries are taken ``query_batch_size`` rows at a time (default 2048) and the whole source is streamed
    past each query chunk in ``batch_size``-row chunks with a running top-k merge, so memory is
    O(query_batch_size × batch_size + n_queries × k) whatever n; the cost is O(n_queries × n × d), i.e.
    quadratic for all rows: use ``approximate_knn`` at large n.
    """
    src = as_source(source, key)
    n = src.n_rows
    k = check_k(k, n) if exclude_self else int(k)
    rows = None if query_rows is None else np.asarray(query_rows, dtype=np.int64).reshape(-1)
    nq = n if rows is None else len(rows)
    bs = default_batch_size(src.n_cols) if batch_size is None else int(batch_size)
    qbs = 2048 if query_batch_size is None else int(query_batch_size)
    dtype = _knn_dtype(src)
    out_i, out_v = [], []
    for s in range(0, nq, qbs):
        e = min(s + qbs, nq)
        q, idx = _query_chunk(src, rows, s, e, device, dtype, src.name)
        i, v = _scan_topk(q, idx if exclude_self else None, src, k, bs, device, src.name)
        out_i.append(i)
        out_v.append(v)
    return KNNResult(torch.cat(out_i), torch.cat(out_v))


FAISS_INDEXES = ("ivf", "hnsw")


def _import_faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("approximate k-NN needs faiss: pip install faiss-cpu (or faiss-gpu)") from exc
    return faiss


def _faiss_index(faiss, index: str, d: int, n: int, nlist: int | None, hnsw_m: int):
    ip = faiss.METRIC_INNER_PRODUCT
    if index == "ivf":
        nlist = nlist or int(min(max(1, n // 39), max(1, round(4 * np.sqrt(n)))))
        return faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, ip)
    if index == "hnsw":
        return faiss.IndexHNSWFlat(d, hnsw_m, ip)
    return faiss.index_factory(d, index, ip)


def approximate_knn(source, k: int = 10, method: str = "faiss", *, index: str = "ivf", nlist: int | None = None,
                    nprobe: int | None = None, hnsw_m: int = 32, ef_search: int | None = None,
                    train_size: int | None = None, kmeans_iter: int = 10, recall_sample: int = 1000, seed: int = 0,
                    batch_size: int | None = None, query_batch_size: int = 16384, device=None,
                    key: str | None = None) -> KNNResult:
    """Approximate top-k cosine neighbours of every row of a source (self excluded) with a faiss index on the
    L2-normalised rows and inner-product search, plus its recall against exact neighbours.

    ``index``: ``"ivf"`` (IVF-Flat; ``nlist`` lists, default ~4 sqrt(n); ``nprobe`` lists probed, default 8:
    raise it when the reported recall is too low; k-means with ``kmeans_iter`` iterations on ``train_size``
    sampled rows, default min(n, max(40 × nlist, 10000))), ``"hnsw"``
    (HNSW-Flat with ``hnsw_m`` links, ``ef_search`` default max(64, 4k)), or any ``faiss.index_factory``
    string (e.g. ``"IVF4096,SQ8"`` to hold the vectors in 1 byte per value).  Rows are added and searched in
    batches; the index itself holds the n vectors (n × d × 4 bytes for the Flat variants), the one part of the
    out-of-core pipeline that is not bounded whatever n.  ``recall``: mean |approx ∩ exact| / k over
    ``recall_sample`` seeded random queries, the exact lists from ``chunked_knn`` (0 disables it).
    The search runs on faiss's CPU index; ``device`` is used for the exact recall scan.
    """
    if method != "faiss":
        raise ValueError(f"unknown approximate k-NN method={method!r}; accepted values: 'faiss'")
    faiss = _import_faiss()
    src = as_source(source, key)
    n, d = src.shape
    k = check_k(k, n)
    bs = default_batch_size(d) if batch_size is None else int(batch_size)
    idx = _faiss_index(faiss, index, d, n, nlist, hnsw_m)
    rng = np.random.default_rng(seed)

    def prep(t: torch.Tensor, first: int) -> np.ndarray:
        return np.ascontiguousarray(_unit(t, src.name, first).to(torch.float32).cpu().numpy())

    try:
        ivf = faiss.extract_index_ivf(idx)
    except (RuntimeError, AttributeError):
        ivf = None
    if not idx.is_trained:
        nl = int(ivf.nlist) if ivf is not None else 256
        if ivf is not None:
            ivf.cp.niter = kmeans_iter
        m = min(n, train_size or max(40 * nl, 10000))
        sample = np.sort(rng.choice(n, size=m, replace=False))
        idx.train(prep(src.take(sample), 0))
    for start, batch in src.iter(bs):
        idx.add(prep(batch, start))
    if ivf is not None:
        ivf.nprobe = nprobe or 8
    if hasattr(idx, "hnsw"):
        idx.hnsw.efSearch = ef_search or max(64, 4 * k)
    out_i = np.empty((n, k), dtype=np.int64)
    out_v = np.empty((n, k), dtype=np.float32)
    for start, batch in src.iter(query_batch_size):
        q = prep(batch, start)
        v, i = idx.search(q, k + 1)
        out_i[start:start + len(q)], out_v[start:start + len(q)] = _drop_self(i, v, np.arange(start, start + len(q)), k)
    del idx
    result = KNNResult(torch.from_numpy(out_i), torch.from_numpy(out_v))
    if recall_sample:
        sample = np.sort(rng.choice(n, size=min(int(recall_sample), n), replace=False))
        exact = chunked_knn(src, k, query_rows=sample, batch_size=bs, device=device).indices.cpu()
        hits = overlap_counts(result.indices[torch.from_numpy(sample)], exact)
        result.recall = float(hits.double().mean() / k)
        result.recall_queries = len(sample)
    return result


def _drop_self(i: np.ndarray, v: np.ndarray, rows: np.ndarray, k: int):
    """From k+1 search results per query drop the query itself (or, when absent, the last result)."""
    is_self = i == rows[:, None]
    none = ~is_self.any(axis=1)
    is_self[none, -1] = True
    first = is_self.argmax(axis=1)  # one column dropped per row
    keep = np.ones_like(is_self)
    keep[np.arange(len(i)), first] = False
    return i[keep].reshape(len(i), k), v[keep].reshape(len(i), k)


def mutual_knn_ooc(src_x, src_y, k: int = 10, approximate: bool = False, *, batch_size: int | None = None,
                   query_batch_size: int | None = None, device=None, **approx_kwargs) -> MutualKNNResult:
    """Mutual k-NN alignment (``unireps.metrics.mutual_knn``) of two row sources.

    Exact (default): for each query chunk both sources are scanned (``chunked_knn``'s running top-k) and the
    overlaps counted at once, so memory is O(query chunk × batch) whatever n, at O(n^2 (d1 + d2)) cost.
    ``approximate=True``: each side's neighbours from ``approximate_knn`` (keywords passed on: ``index``,
    ``nlist``, ``nprobe``, ``recall_sample``, ...), one index in memory at a time; the result carries
    each side's estimated recall.
    """
    sx, sy = paired_sources(src_x, src_y)
    n = sx.n_rows
    k = check_k(k, n)
    if approximate:
        ax = approximate_knn(sx, k, batch_size=batch_size, device=device, **approx_kwargs)
        ay = approximate_knn(sy, k, batch_size=batch_size, device=device, **approx_kwargs)
        value = float(overlap_counts(ax.indices, ay.indices).double().mean() / k)
        return MutualKNNResult(value, n, k, True, ax.recall, ay.recall)
    if approx_kwargs:
        raise TypeError(f"options {sorted(approx_kwargs)} apply to approximate=True only")
    qbs = 2048 if query_batch_size is None else int(query_batch_size)
    bx = default_batch_size(sx.n_cols) if batch_size is None else int(batch_size)
    by = default_batch_size(sy.n_cols) if batch_size is None else int(batch_size)
    tx, ty = _knn_dtype(sx), _knn_dtype(sy)
    total = 0
    for s in range(0, n, qbs):
        e = min(s + qbs, n)
        qx, idx = _query_chunk(sx, None, s, e, device, tx, "X")
        qy, _ = _query_chunk(sy, None, s, e, device, ty, "Y")
        ix, _ = _scan_topk(qx, idx, sx, k, bx, device, "X")
        iy, _ = _scan_topk(qy, idx.to(qy.device), sy, k, by, device, "Y")
        total += int(overlap_counts(ix, iy.to(ix.device)).sum())
    return MutualKNNResult(total / (n * k), n, k, False)


__all__ = [
    "KNNResult", "MutualKNNResult", "RowSource", "ShardError", "accumulate", "approximate_knn", "as_source",
    "chunked_knn", "default_batch_size", "iter_batches", "iter_pairs", "mutual_knn_ooc", "paired_sources",
    "streaming_cca", "streaming_linear_cka", "streaming_paired_cosine", "streaming_predictability",
]
