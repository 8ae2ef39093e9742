"""PNG export of plotly figures through kaleido, using the system Chromium when kaleido finds no browser of its
own (it cannot download one here).  Raises a clear error naming what to install when neither is there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).exists():
        return env
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def write_png(fig, path, width: int = 900, height: int | None = None, scale: float = 2.0) -> Path:
    """Write ``fig`` as PNG atomically."""
    from ..io import atomic_write_bytes

    try:
        import kaleido  # noqa: F401
    except ImportError as e:
        raise RuntimeError("PNG export needs kaleido: pip install 'unireps[report]' (or pip install kaleido)") from e
    browser = find_browser()
    if browser is None:
        raise RuntimeError("PNG export needs a Chromium or Chrome browser; install one (e.g. apt-get install "
                           "chromium) or set BROWSER_PATH")
    os.environ.setdefault("BROWSER_PATH", browser)
    data = fig.to_image(format="png", width=width, height=height or fig.layout.height or 450, scale=scale)
    return atomic_write_bytes(path, data)
