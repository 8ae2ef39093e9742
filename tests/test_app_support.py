"""Shared fixture of the app tests (no tests here): the app with the tiny zoo, served by uvicorn in a background
thread on a free port of 127.0.0.1.

The tiny zoo preset (3 training runs, ~10 s on 2 cores) is built once into a per-user temporary cache that later
runs reuse (the zoo checks each model's recipe hash, so a stale model is rebuilt)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ZOO_CACHE = Path(tempfile.gettempdir()) / f"unireps-test-app-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
TINY = {"a": "zoo:tiny-cnn8-bow-infonce-s0", "b": "zoo:tiny-cnn8-bow-infonce-s1", "clip": "zoo:tiny-clip-s0",
        "ckpt": "zoo:tiny-cnn8-bow-infonce-s0-ckpt50"}
FED = {"n_clients": 3, "rounds": 2, "local_epochs": 1}  # the federated tab's grid, small for the tests


@contextlib.contextmanager
def tiny_zoo_env():
    old = os.environ.get("UNIREPS_CACHE")
    os.environ["UNIREPS_CACHE"] = str(ZOO_CACHE)
    try:
        import unireps.zoo as zoo

        zoo.build("tiny", progress=False)
        yield ZOO_CACHE
    finally:
        if old is None:
            os.environ.pop("UNIREPS_CACHE", None)
        else:
            os.environ["UNIREPS_CACHE"] = old


@contextlib.contextmanager
def served_app(tmp: Path, **config):
    """Build the app on the tiny zoo and serve it; yields a namespace with url, app, engine, db."""
    pytest.importorskip("gradio")
    pytest.importorskip("gradio_client")
    from unireps.app import build_app
    from unireps.app.server import BackgroundServer, limit_threads, restore_threads

    threads = limit_threads(1)  # as `unireps app` runs: one thread per computation
    with tiny_zoo_env():
        db = tmp / "analytics.sqlite"
        config.setdefault("cache_dir", ZOO_CACHE / "app-cache")  # activations and demo tables, reused across runs
        config.setdefault("warm_bridges", False)  # the real-tower study: computed by the tests that need it
        # the puzzle's "real" pair: two tiny zoo models here (same code path, seconds); the real EfficientNet-Lite
        # pair is tested in tests/test_app_realpuzzle_real.py (slow)
        config.setdefault("puzzle_models", (TINY["a"], TINY["clip"]))
        config.setdefault("puzzle_permutations", 30)
        app = build_app(analytics_db=db, **config)
        server = BackgroundServer(app)
        url = server.start()
        try:
            yield SimpleNamespace(url=url, app=app, engine=app.state.engine, db=db)
        finally:
            server.stop()
            app.state.engine.join(timeout=120)  # no torch work left in a daemon thread at interpreter exit
            restore_threads(threads)


def client(url: str, route: str):
    from gradio_client import Client

    return Client(f"{url}{route}/", verbose=False, analytics_enabled=False, download_files=False,
                  httpx_kwargs={"timeout": 120})
