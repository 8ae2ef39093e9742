"""Provenance records: package versions, platform, command, seeds, and whatever the caller adds."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def provenance(**extra) -> dict:
    pkgs = ("unireps", "torch", "numpy", "scipy", "scikit-learn", "pandas", "transformers")
    return {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in pkgs},
        **extra,
    }


@functools.cache
def package_digest() -> str:
    """SHA-256 over the relative path and content of every file of the installed ``unireps`` package (compiled
    bytecode left out): its code, templates and embedded data.  Computed once per process.

    >>> len(package_digest()) == 64 and package_digest() == package_digest()
    True
    """
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()
