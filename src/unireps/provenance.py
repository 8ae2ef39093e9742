"""Provenance records: package versions, platform, command, seeds, and whatever the caller adds."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from importlib import metadata


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
