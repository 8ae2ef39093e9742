"""Size requests up front: compare an estimate of the memory or disk a request needs with what this machine has,
and refuse with the numbers and the fix before anything is allocated (no OOM kill, no half-written disk).

>>> available_memory() is None or available_memory() > 0
True
>>> fmt_bytes(3 * 2**30)
'3.22 GB'
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def fmt_bytes(n: float) -> str:
    """Bytes in decimal units (kB, MB, GB, TB, PB)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000:
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return f"{n:,.1f} PB"


def available_memory() -> int | None:
    """Memory available to a new allocation (Linux MemAvailable; psutil elsewhere), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or unsupported platform
        return None


def free_disk(path: str | os.PathLike) -> int | None:
    """Free bytes on the file system holding ``path`` (its nearest existing parent), or None when unknown."""
    p = Path(path).expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return int(shutil.disk_usage(p).free)
    except OSError:
        return None


def check_memory(what: str, nbytes: float, fix: str, fraction: float = 0.8) -> None:
    """MemoryError-free refusal: ValueError when ``nbytes`` exceeds ``fraction`` of the available memory."""
    avail = available_memory()
    if avail is not None and nbytes > fraction * avail:
        raise ValueError(f"{what} would need about {fmt_bytes(nbytes)} of memory, but this machine has "
                         f"{fmt_bytes(avail)} available; {fix}")


def check_disk(what: str, nbytes: float, path: str | os.PathLike, fix: str) -> None:
    """OSError (ENOSPC) when ``nbytes`` exceeds the free space on ``path``'s file system."""
    free = free_disk(path)
    if free is not None and nbytes > free:
        raise OSError(28, f"{what} would need {fmt_bytes(nbytes)} of disk under {path}, but only "
                          f"{fmt_bytes(free)} is free; {fix}")
