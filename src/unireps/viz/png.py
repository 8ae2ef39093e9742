"""PNG export of plotly figures through kaleido, using the system Chromium when kaleido finds no browser of its
own (it cannot download one here).  Raises a clear error naming what to install when neither is there."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """The system Chromium or Chrome: ``$BROWSER_PATH`` when it exists, else the first of ``chromium``,
    ``chromium-browser``, ``google-chrome``, ``google-chrome-stable`` on PATH; None when there is none.  The PNG
    export, the app's screenshots and the report's screenshot cache key all use this one search.

    >>> find_browser() is None or Path(find_browser()).exists()
    True
    """
    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).exists():
        return env
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


_SERVER = False


def _start_server() -> None:
    """One browser for all exports of this process (the first export ~4 s, later ones ~0.3 s)."""
    global _SERVER
    if not _SERVER:
        import atexit

        import kaleido

        kaleido.start_sync_server(silence_warnings=True)
        atexit.register(kaleido.stop_sync_server, silence_warnings=True)
        _SERVER = True


def warm_up() -> bool:
    """Start the export browser now, in the background, if kaleido and a browser are there (False if not): the
    report calls it first, so the browser's start-up (2-4 s) overlaps the analyses instead of the first export.

    >>> isinstance(warm_up(), bool)
    True
    """
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    browser = find_browser()
    if browser is None:
        return False
    os.environ.setdefault("BROWSER_PATH", browser)
    _start_server()
    import threading

    threading.Thread(target=_render_blank, name="unireps-png-warm-up", daemon=True).start()
    return True


def _render_blank() -> None:
    """One tiny export: kaleido starts its browser on the first render, not with the server."""
    import plotly.graph_objects as go

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            go.Figure().to_image(format="png", width=10, height=10)
    except Exception:  # the real exports report any problem with the browser
        pass


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
    _start_server()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "kopts ignored when using a server"
        data = fig.to_image(format="png", width=width, height=height or fig.layout.height or 450, scale=scale)
    return atomic_write_bytes(path, data)
