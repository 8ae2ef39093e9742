"""On-disk activation cache: one safetensors file per (model, data, modality, preprocessing,
layer, pooling), each with a JSON manifest.

Layout::

    <cache root>/activations/<entry key>/<layer>.<pooling>.safetensors
                                         <layer>.<pooling>.json        (manifest)

The entry key is the sha256 of the model identity (name, family, weights sha256, revision), the
dataset content hash, the modality, the number of items and the preprocessing fingerprint. A
manifest records the full key, shape, dtype, byte size and sha256 of its file and the unireps
version.

Writes are streamed and atomic: the safetensors header is written first (the shape is known
after the first batch), rows go into a memory map of the data region batch by batch, then the
file is flushed, fsync'ed, hashed and ``os.replace``'d into place; the manifest follows the same
way. A missing or unreadable manifest, a missing file, a wrong size, a header that disagrees or a
checksum mismatch make the entry invalid: it is recomputed, never used.

The cache root is ``$UNIREPS_CACHE`` or ``~/.cache/unireps``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..sizing import check_disk

FORMAT_VERSION = 1
_DTYPES = {"float32": ("F32", np.float32)}


def default_cache_dir() -> Path:
    """``$UNIREPS_CACHE`` or ``~/.cache/unireps``."""
    env = os.environ.get("UNIREPS_CACHE")
    return Path(env).expanduser() if env else Path("~/.cache/unireps").expanduser()


def _version() -> str:
    try:
        from .._version import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "unknown"


def key_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def safetensors_header(tensor_name: str, shape: tuple[int, ...], dtype: str = "float32",
                       metadata: dict[str, str] | None = None) -> bytes:
    """The header of a one-tensor safetensors file (8-byte length + JSON padded to 8 bytes)."""
    code, np_dtype = _DTYPES[dtype]
    nbytes = int(np.prod(shape)) * np.dtype(np_dtype).itemsize
    header: dict[str, Any] = {tensor_name: {"dtype": code, "shape": list(shape), "data_offsets": [0, nbytes]}}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def read_safetensors_header(path: Path) -> tuple[dict[str, Any], int]:
    """(header dict, offset of the data region)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError("truncated header")
        (n,) = struct.unpack("<Q", head)
        if n > 100_000_000:
            raise ValueError("implausible header length")
        raw = f.read(n)
        if len(raw) != n:
            raise ValueError("truncated header")
    return json.loads(raw), 8 + n


_WRITER_TMP = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's process) or cannot tell: keep its file
    return True


def sweep_stale_tmp(directory: Path) -> list[Path]:
    """Remove the temporary layer files (``.<stem>.<pid>.<hex>.tmp``) of writers whose process is gone (a run
    killed with kill -9 cannot clean up after itself); a live process's file is never touched.  Returns the
    removed paths.

    >>> sweep_stale_tmp(Path("/nonexistent"))
    []
    """
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _WRITER_TMP.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


class LayerWriter:
    """Streams rows of one ``(n, d)`` float32 array into a temporary safetensors file, then commits it."""

    def __init__(self, directory: Path, stem: str, tensor_name: str, n: int, d: int, manifest: dict[str, Any]):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        sweep_stale_tmp(self.directory)
        self.final = self.directory / f"{stem}.safetensors"
        self.manifest_path = self.directory / f"{stem}.json"
        self.shape = (int(n), int(d))
        self.manifest = dict(manifest)
        header = safetensors_header(tensor_name, self.shape, metadata={"format": "pt", "unireps": _version()})
        self.offset = len(header)
        self.nbytes = self.shape[0] * self.shape[1] * 4
        check_disk(f"activations of {stem} ({self.shape[0]:,} x {self.shape[1]:,} float32)", self.nbytes,
                   self.directory, "extract fewer items (--n), fewer layers, or point --cache-dir at a larger disk")
        self.tmp = self.directory / f".{stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        with open(self.tmp, "wb") as f:
            f.write(header)
            f.truncate(self.offset + self.nbytes)
        self._mm = np.memmap(self.tmp, dtype=np.float32, mode="r+", offset=self.offset, shape=self.shape) \
            if self.nbytes else None
        self.rows_written = 0

    def write(self, index: slice | np.ndarray, rows: np.ndarray) -> None:
        if self._mm is not None:
            self._mm[index] = rows
        self.rows_written += len(rows)

    def abort(self) -> None:
        self._mm = None
        try:
            self.tmp.unlink()
        except OSError:
            pass

    def commit(self) -> Path:
        if self.rows_written != self.shape[0]:
            self.abort()
            raise RuntimeError(f"{self.final.name}: {self.rows_written} of {self.shape[0]} rows written")
        if self._mm is not None:
            self._mm.flush()
            self._mm = None
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        digest = sha256_file(self.tmp)
        os.replace(self.tmp, self.final)
        manifest = {
            **self.manifest,
            "file": self.final.name,
            "shape": list(self.shape),
            "dtype": "float32",
            "data_offset": self.offset,
            "nbytes": self.offset + self.nbytes,
            "sha256": digest,
            "unireps_version": _version(),
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write_json(self.manifest_path, manifest)
        _fsync_dir(self.directory)
        return self.final


def atomic_write_json(path: Path, obj: Any) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class ActivationCache:
    """Entries under ``<root>/activations``. ``verify="sha256"`` (default) checks every file's checksum
    on read; ``verify="size"`` checks manifest, header and size only (faster for huge entries)."""

    def __init__(self, root: str | os.PathLike | None = None, verify: str = "sha256"):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        if verify not in ("sha256", "size"):
            raise ValueError("verify must be 'sha256' or 'size'")
        self.verify = verify

    def entry_dir(self, entry_fields: dict[str, Any]) -> Path:
        return self.root / "activations" / key_hash(entry_fields)[:32]

    @staticmethod
    def stem(layer: str, pooling: str) -> str:
        return f"{_safe(layer)}.{pooling}"

    def load(self, entry: Path, layer: str, pooling: str, key: dict[str, Any], n: int,
             mmap: bool = True) -> np.ndarray | None:
        """The cached array, or ``None`` when absent or invalid (invalid entries are reported and ignored)."""
        stem = self.stem(layer, pooling)
        mpath, fpath = entry / f"{stem}.json", entry / f"{stem}.safetensors"
        if not mpath.exists() and not fpath.exists():
            return None
        try:
            if not mpath.exists():
                raise ValueError("manifest missing")
            manifest = json.loads(mpath.read_text())
            if manifest.get("key") != json.loads(json.dumps(key, default=str)):
                raise ValueError("manifest key differs from the request")
            shape = tuple(manifest["shape"])
            if shape[0] != n or manifest.get("dtype") != "float32":
                raise ValueError(f"unexpected shape/dtype {shape} {manifest.get('dtype')}")
            if not fpath.exists():
                raise ValueError("data file missing")
            size = fpath.stat().st_size
            if size != manifest["nbytes"]:
                raise ValueError(f"size {size} != {manifest['nbytes']} (truncated or partial)")
            header, offset = read_safetensors_header(fpath)
            tensors = {k: v for k, v in header.items() if k != "__metadata__"}
            if len(tensors) != 1:
                raise ValueError("header does not hold exactly one tensor")
            (info,) = tensors.values()
            if tuple(info["shape"]) != shape or info["dtype"] != "F32" or offset != manifest["data_offset"]:
                raise ValueError("header disagrees with the manifest")
            if self.verify == "sha256" and sha256_file(fpath) != manifest["sha256"]:
                raise ValueError("sha256 mismatch (corrupted)")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.warn(f"activation cache entry {fpath} is invalid ({exc}); recomputing", stacklevel=3)
            return None
        if shape[0] * shape[1] == 0:
            return np.zeros(shape, dtype=np.float32)
        arr = np.memmap(fpath, dtype=np.float32, mode="r", offset=offset, shape=shape)
        return arr if mmap else np.array(arr)

    def sweep(self) -> list[Path]:
        """Remove the temporary files that killed writers left in any entry (``sweep_stale_tmp``)."""
        if getattr(self, "_swept", False):
            return []
        self._swept = True
        base = self.root / "activations"
        dirs = [p for p in base.iterdir() if p.is_dir()] if base.is_dir() else []
        return [p for d in dirs for p in sweep_stale_tmp(d)]

    def writer(self, entry: Path, layer: str, pooling: str, key: dict[str, Any], n: int, d: int) -> LayerWriter:
        self.sweep()  # once per cache object: a run killed with kill -9 elsewhere in the cache left its .tmp files
        return LayerWriter(entry, self.stem(layer, pooling), layer, n, d,
                           {"key": json.loads(json.dumps(key, default=str))})
