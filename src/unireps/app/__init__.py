"""unireps.app: the web app — ``/multimodal`` (how one image–text model works, for students) and
``/unireps-multimodal`` (the research module), served together on 127.0.0.1, fully offline.

    from unireps.app import launch, build_app
    launch(host="127.0.0.1", port=7860)           # blocking (what `unireps app` calls)
    app = build_app()                              # the FastAPI app with both routes (tests, ASGI servers)

``unireps.app.analytics.summary(db_path)`` aggregates the opt-in engagement metrics (``unireps analytics``).
Gradio is imported lazily (``GRADIO_ANALYTICS_ENABLED=False`` is set before the import).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from . import analytics  # noqa: E402
from .engine import AppConfig, Engine, InputError  # noqa: E402

__all__ = ["AppConfig", "Engine", "InputError", "analytics", "build_app", "build_educational", "build_research",
           "launch"]


def build_app(config: AppConfig | None = None, *, engine: Engine | None = None, precompute: bool | None = None,
              **config_kw):
    """The FastAPI app with ``/multimodal`` and ``/unireps-multimodal`` mounted (keywords: :class:`AppConfig`)."""
    from .server import create_app

    if config is None and engine is None:
        config = AppConfig(**config_kw)
    return create_app(config, engine=engine, precompute=precompute)


def build_research(engine: Engine | None = None, **config_kw):
    """The research module's gr.Blocks alone."""
    from .research import build_research as _build

    return _build(engine or Engine(AppConfig(**config_kw)))


def build_educational(engine: Engine | None = None, **config_kw):
    """The student primer's gr.Blocks alone."""
    from .educational import build_educational as _build

    return _build(engine or Engine(AppConfig(**config_kw)))


def launch(host: str = "127.0.0.1", port: int = 7860, **kw) -> None:
    """Serve both routes on ``host:port`` (blocking); keywords as :func:`unireps.app.server.launch`."""
    from .server import launch as _launch

    _launch(host=host, port=port, **kw)
