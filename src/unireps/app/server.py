"""One process, two routes: ``/multimodal`` (student primer) and ``/unireps-multimodal`` (research module), both
gr.Blocks mounted on one FastAPI app and served by uvicorn on 127.0.0.1.  Offline by construction: Gradio's
analytics off, no share link, no font CDN, no run history or other browser storage, MCP/PWA/monitoring off."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

log = logging.getLogger("unireps.app")

RESEARCH_PATH = "/unireps-multimodal"
EDU_PATH = "/multimodal"

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>unireps app</title>
<style>body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;max-width:44rem;margin:2rem auto;
padding:0 1rem;color:#1b1b1b;line-height:1.5}a{color:#1a4e8a;font-weight:600}a:focus-visible{outline:3px solid #f5a623}
li{margin:.6rem 0}</style></head><body><main>
<h1>unireps</h1>
<p>When, how and why do different neural models learn the same representations?</p>
<ul>
<li><a href="multimodal/">How one image–text model (CLIP) works</a> — a primer for students</li>
<li><a href="unireps-multimodal/">Research module</a> — convergence between models, and with the brain</li>
</ul></main></body></html>"""


def warmup_steps(engine) -> list[tuple[str, Any]]:
    """What the background thread computes at startup, the first page first: the puzzle's real networks (four
    ImageNet networks on the 92 photos: about 40 s of CPU the first time, then read from the disk cache) and its
    stand-ins' live result, then the reference embeddings of the default models, the theory tables, the educational
    page's model, the applications."""
    from . import bridges as B
    from . import compute as C
    from . import federated_tab
    from .realpuzzle import real_puzzle_view

    steps = [("puzzle: real networks", lambda: real_puzzle_view(engine)), ("puzzle", lambda: C.puzzle(engine))]

    def reference_embeddings():
        """Every available model on its default reference set (shapes; digits for the toy models), both towers
        (the EfficientNet-Lite nets excepted: too slow to run on hundreds of images at startup), so that
        the explorer and the cross-model page only compute measures when a visitor asks."""
        for name in engine.names():
            e = engine.entry(name)
            if e.family == "efficientnet-lite":  # real ImageNet nets at 224-260 px: computed when asked, not here
                continue
            for mod in e.modalities:
                try:
                    engine.embedding(name, "digits" if e.kind == "toy" else "shapes", mod)
                except Exception as err:  # noqa: BLE001 - one broken model must not stop the others
                    log.warning("warm-up: %s (%s) failed: %s", name, mod, err)

    steps.append(("reference embeddings", reference_embeddings))
    zoo = engine.names("image", twins=False, kinds=("zoo",))
    if len(zoo) >= 2:  # the explorer's default measures for every pair of zoo models: most requests are cache hits
        steps.append(("explorer pairs", lambda: C.precompute_pairs(engine, zoo, "shapes")))
    steps.append(("theory tables", lambda: (C.convergence_by_layer(engine), C.invariance_demo(),
                                             C.brain_references(engine))))
    edu = engine.clip_model()
    if edu:
        def edu_warm():
            C.training_picture(engine, edu)
            for key in C.gallery_sets(engine):
                engine.embedding(edu, key, "image")
            engine.memo(("bank_emb", edu), lambda: C._unit(engine.encode(edu, "text", C.caption_bank(engine))))

        steps.append(("educational model", edu_warm))
    if engine.config.warm_bridges and B.photo_model(engine) == "bridge:lite0-minilm" and B.towers_available(engine):
        steps.append(("bridges: lite0 study", lambda: B.summary(engine, B.TOWERS["lite0"])))
    if engine.config.applications:
        steps += [("applications: stitching", lambda: C.app_stitching(engine)),
                  ("applications: merging", lambda: C.app_merging(engine)),
                  ("applications: distillation", lambda: C.app_development(engine)),
                  ("applications: transfer", lambda: C.app_transfer(engine)),
                  ("applications: zoo stitching", lambda: C.app_zoo_stitching(engine)),
                  ("applications: interactive defaults", lambda: C.precompute_applications(engine)),
                  ("applications: federated", lambda: federated_tab.grid(engine))]

    def other_sets():
        """The zoo's image towers on the other reference sets (the 92 photos, digits; last: no page waits for
        them), cached on disk like the rest, so a visitor switching the explorer's set meets no extraction."""
        for name in engine.names("image", kinds=("zoo",)):
            for key in ("kriegeskorte92", "digits"):
                try:
                    engine.embedding(name, key, "image")
                except Exception as err:  # noqa: BLE001 - one broken model must not stop the others
                    log.warning("warm-up: %s on %s failed: %s", name, key, err)

    steps.append(("reference embeddings: other sets", other_sets))
    return steps


def page_js(*scripts: str) -> str:
    """One page-load script running each of ``scripts`` (JavaScript functions of no arguments) in turn."""
    return "() => {\n" + "\n".join(f"({s.strip()})();" for s in scripts) + "\n}"


def add_beacon(app, analytics) -> None:
    """``POST /unireps-beat`` {session, event, opted_in}: the pages' heartbeat / visibility / leave beacons, handed
    to the analytics tab clock (recorded only when ``opted_in`` is true; 204 No Content, 422 on a malformed body)."""
    from typing import Literal

    from fastapi import Response
    from pydantic import BaseModel, Field

    from .analytics import BEAT_EVENTS

    class Beat(BaseModel):
        session: str = Field(min_length=1, max_length=64)
        event: Literal[BEAT_EVENTS]  # type: ignore[valid-type]
        opted_in: bool = False

    def beat(msg):
        analytics.clock.beat(msg.opted_in, msg.session, msg.event)
        return Response(status_code=204)

    beat.__annotations__ = {"msg": Beat}  # a class, not a string: this module's annotations are postponed
    app.post("/unireps-beat", include_in_schema=False, status_code=204, response_class=Response)(beat)


OPTIONAL_IMPORTS = ("bokeh",)


def mark_absent_imports(names=OPTIONAL_IMPORTS) -> list[str]:
    """Record the optional packages that are not installed as absent (``sys.modules[name] = None``, Python's way of
    blocking an import) and return them.  gradio's ``Plot`` tries ``import bokeh`` each time a plot output is
    updated; without bokeh every try searched ``sys.path`` again: about 10% of the server's CPU time per explorer
    comparison under the load benchmark (sampled).  A package that is installed is left alone.

    >>> mark_absent_imports(("json",))  # installed: untouched
    []
    """
    import importlib.util
    import sys

    absent = []
    for name in names:
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = None  # type: ignore[assignment]
            absent.append(name)
    return absent


def create_app(config=None, engine=None, analytics=None, precompute: bool | None = None):
    """The FastAPI app with both routes (and a small index page at ``/``).  ``precompute`` (default: the config's)
    starts the background warm-up thread."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from . import dashboard
    from .analytics import Analytics
    from .educational import build_educational
    from .engine import AppConfig, Engine
    from .figures import LAYOUT_JS, LINK_JS
    from .inputs import set_pil_limit
    from .research import build_research
    from .ui import CSS, ENGAGEMENT_JS, theme

    config = config or (engine.config if engine is not None else AppConfig())
    engine = engine or Engine(config)
    analytics = analytics or Analytics(config.analytics_db)
    set_pil_limit(config.max_image_pixels)
    mark_absent_imports()

    app = FastAPI(title="unireps app", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return INDEX_HTML

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True, "tasks": {k: v.get("state") for k, v in engine.tasks.items()}}

    add_beacon(app, analytics)
    research = build_research(engine, analytics)
    educational = build_educational(engine, analytics)
    common = dict(footer_links=["api"], run_history=False, max_file_size=config.max_file_size, ssr_mode=False,
                  mcp_server=False, pwa=False, enable_monitoring=False, theme=theme(), css=CSS, show_error=True)
    # gradio recomputes a pandas summary of its last 10,000 events after every event unless told otherwise; only
    # its monitoring page (off here) reads it: 11% of the server's CPU per comparison under load (sampled)
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
    for blocks in (research, educational):
        blocks.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_size)
    gr.mount_gradio_app(app, research, path=RESEARCH_PATH, js=page_js(LINK_JS, LAYOUT_JS, ENGAGEMENT_JS), **common)
    gr.mount_gradio_app(app, educational, path=EDU_PATH, js=page_js(LAYOUT_JS, ENGAGEMENT_JS), **common)
    app.state.engine = engine
    app.state.analytics = analytics
    app.state.blocks = {"research": research, "educational": educational}
    if dashboard.enabled(config):  # the owner's page: off unless enabled
        owner = dashboard.build_dashboard(analytics)
        owner.queue(default_concurrency_limit=1, max_size=16)
        secret = dashboard.password(config)
        gr.mount_gradio_app(app, owner, path=dashboard.DASHBOARD_PATH, auth=("owner", secret) if secret else None,
                            **common)
        app.state.blocks["dashboard"] = owner
    if config.precompute if precompute is None else precompute:
        engine.start_background(warmup_steps(engine))
    return app


def limit_threads(n: int):
    """torch intra-op and BLAS/OpenMP threads of this process (returns the previous torch count and the
    threadpoolctl limiter, for :func:`restore_threads`).  With 2 cores and 2 concurrent computations, one thread
    each avoids oversubscription (which slows the bootstrap loops by an order of magnitude on a busy machine)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(int(n))
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limiter = None
    return old, limiter


def restore_threads(state) -> None:
    import torch

    old, limiter = state
    torch.set_num_threads(old)
    if limiter is not None:
        limiter.restore_original_limits()


def launch(host: str = "127.0.0.1", port: int = 7860, *, analytics_db=None, cache_dir=None, models=None,
           precompute: bool = True, concurrency: int = 2, threads: int | None = 1, log_level: str = "warning",
           **config_kw) -> None:
    """Serve both routes with uvicorn (blocking).  ``threads``: torch intra-op threads (1 keeps the 2-core machine
    responsive with ``concurrency`` = 2 queued computations at a time)."""
    import uvicorn

    from .engine import AppConfig

    if threads:
        limit_threads(int(threads))
    try:  # the server log is for requests and errors, not for transformers' weight-loading bars
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    config = AppConfig(models=models, cache_dir=cache_dir, analytics_db=analytics_db, precompute=precompute,
                       concurrency=concurrency, **config_kw)
    app = create_app(config)
    base = f"http://{host}:{port}"
    print(f"unireps app: {base}{EDU_PATH}/ (primer) and {base}{RESEARCH_PATH}/ (research module)", flush=True)
    uvicorn.run(app, host=host, port=int(port), log_level=log_level)


class BackgroundServer:
    """uvicorn in a daemon thread (tests, notebooks): ``with BackgroundServer(app, port) as url: ...``."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import socket

        import uvicorn

        if not port:
            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.host, self.port = host, int(port)
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, name="unireps-app-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> str:
        import time

        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the app server failed to start")
            if time.time() - t0 > timeout:
                raise TimeoutError("the app server did not start in time")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        """Stop serving; connections still open (clients' event streams) are dropped without error logs."""
        quiet = logging.getLogger("uvicorn.error")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        finally:
            quiet.setLevel(level)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
