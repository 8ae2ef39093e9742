"""Shared page furniture: the error guard, analytics hooks (opt-in), theme and CSS, navigation."""

from __future__ import annotations

import functools
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from .analytics import HEARTBEAT_S, Analytics  # noqa: E402
from .engine import InputError  # noqa: E402

log = logging.getLogger("unireps.app")

OPT_IN_LABEL = ("Help improve this app: count my tab views, time on each tab, number of uploads and the model "
                "combinations I try (stored only on this server; no personal data, no upload contents). Off unless "
                "you tick it.")

# Colours meet WCAG AA contrast: #1a4e8a on white 8.4:1, on the button fill #eef4fb 7.6:1; #333 on white 12.6:1.
CSS = """
.unireps-nav { display: flex; flex-wrap: wrap; gap: 0.75rem 1.25rem; align-items: center; margin: 0 0 0.5rem 0; }
.unireps-nav a, a.unireps-cta { color: #1a4e8a; font-weight: 600; text-decoration: underline; }
.unireps-nav a:focus-visible, a.unireps-cta:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
a.unireps-cta { display: inline-block; padding: 0.7rem 1.1rem; border: 2px solid #1a4e8a; border-radius: 8px;
  background: #eef4fb; font-size: 1.1rem; text-decoration: none; }
a.unireps-cta:hover { background: #dbe8f7; }
.unireps-note { color: #333333; font-size: 0.95rem; }
.unireps-hidden { display: none !important; }
@media (max-width: 640px) { .gradio-container { padding-left: 6px !important; padding-right: 6px !important; } }
/* narrow screens: a plot keeps its readable minimum width and its box scrolls sideways; so does a wide table */
div:has(> .js-plotly-plot) { overflow-x: auto; max-width: 100%; }
.block:has(.js-plotly-plot) { overflow-x: auto; }
.gradio-container .table-wrap, .gradio-container .table-container { overflow-x: auto; max-width: 100%; }
.gradio-container .block { min-width: 0; max-width: 100%; }
.gradio-container .prose { overflow-wrap: anywhere; }
.gradio-container .prose pre, .gradio-container .prose table { max-width: 100%; overflow-x: auto; display: block; }
.gradio-container .prose .katex-display { max-width: 100%; overflow-x: auto; overflow-y: hidden; }
"""


def theme():
    """Gradio's default theme with system fonts only (nothing fetched from a font CDN)."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Arial",
                                   "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"])


def nav_html(links: list[tuple[str, str]], current: str) -> str:
    items = [f'<span aria-current="page"><strong>{current}</strong></span>']
    items += [f'<a href="{href}">{text}</a>' for href, text in links]
    return f'<nav class="unireps-nav" aria-label="unireps pages">{" · ".join(items)}</nav>'


def make_guard(slots=None) -> Callable[[Callable], Callable]:
    """A decorator for event handlers: input problems become a clear message on the page (gr.Error), any other
    failure a short error that keeps the server serving; with ``slots`` (a semaphore shared by both pages), at most
    that many computations run at once in the whole process, whatever each page's queue allows."""

    def decorate(fn: Callable) -> Callable:
        return guard(fn, slots)

    return decorate


def guard(fn: Callable, slots=None) -> Callable:
    """See :func:`make_guard`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            if slots is None:
                return fn(*args, **kwargs)
            with slots:
                return fn(*args, **kwargs)
        except gr.Error:
            raise
        except InputError as e:
            msg = str(e)
            raise gr.Error(msg[:1].upper() + msg[1:], title="Please check your input", print_exception=False
                           ) from None
        except Exception as e:  # noqa: BLE001 - the page must survive any failure of one computation
            log.exception("handler %s failed", getattr(fn, "__name__", fn))
            raise gr.Error(f"This computation failed ({type(e).__name__}: {str(e)[:300]}). The app is still running; "
                           "try other settings.", title="Computation failed", print_exception=False) from None

    return wrapper


def session_id(value: str | None) -> str:
    return value or uuid.uuid4().hex


class Tracker:
    """Per-page analytics hooks; every call is a no-op unless the visitor opted in."""

    def __init__(self, analytics: Analytics, route: str):
        self.analytics = analytics
        self.route = route

    def tab_handler(self, tab: str):
        def on_select(opted_in: bool, session: str | None, state: dict | None):
            sid = session_id(session)
            self.analytics.clock.switch(bool(opted_in), sid, self.route, tab, fallback=state)
            return sid, {"tab": tab, "since": time.time()}

        on_select.__name__ = f"tab_{tab}"
        return on_select

    def upload(self, opted_in: bool, session: str | None, kind: str) -> None:
        self.analytics.record(bool(opted_in), session_id(session), self.route, "upload", kind)

    def models(self, opted_in: bool, session: str | None, models) -> None:
        self.analytics.record(bool(opted_in), session_id(session), self.route, "models",
                              " + ".join(sorted(str(m) for m in models)))


def event_options(config) -> tuple[dict, dict]:
    """Gradio event keywords shared by both routes: (compute, light).  Heavy computations share one queue of
    ``config.concurrency`` workers; light updates another of 8, without a progress overlay."""
    return ({"concurrency_limit": config.concurrency, "concurrency_id": "unireps-compute"},
            {"concurrency_limit": 8, "concurrency_id": "unireps-light", "show_progress": "hidden"})


def start_session(page: Page, first_tab: str):
    """The page-load handler: a random session id, the tab state, and the id in a hidden element for the page's
    engagement script (:data:`ENGAGEMENT_JS`); the server's tab clock starts on ``first_tab``."""

    def load():
        sid = uuid.uuid4().hex
        page.track.analytics.clock.start(sid, page.track.route, first_tab)
        return sid, {"tab": first_tab, "since": time.time()}, f'<span data-unireps-session="{sid}"></span>'

    return load


def session_outputs(page: Page) -> list:
    """The outputs of :func:`start_session`: the session state, the tab state and the hidden id holder."""
    holder = gr.HTML("", elem_id="unireps-session", elem_classes=["unireps-hidden"], padding=False)
    return [page.session, page.tabstate, holder]


# Sent only when the visitor ticked the opt-in box (checked at send time): a heartbeat every 30 s while the page is
# visible, "hidden" / "visible" on visibility changes, "leave" when the page is closed (navigator.sendBeacon, to
# this server's /unireps-beat; nothing else is sent, nothing is stored in the browser).
ENGAGEMENT_JS = r"""
() => {
  const url = new URL('../unireps-beat', window.location.href.split('?')[0].replace(/\/?$/, '/')).href;
  const send = (event) => {
    const holder = document.querySelector('[data-unireps-session]');
    const box = document.querySelector('#analytics-optin input[type=checkbox]');
    if (!holder || !box || !box.checked) return;
    const body = JSON.stringify({session: holder.getAttribute('data-unireps-session'), event: event, opted_in: true});
    try { navigator.sendBeacon(url, new Blob([body], {type: 'application/json'})); } catch (e) {}
  };
  setInterval(() => { if (document.visibilityState === 'visible') send('heartbeat'); }, HEARTBEAT_MS);
  document.addEventListener('visibilitychange',
                            () => send(document.visibilityState === 'hidden' ? 'hidden' : 'visible'));
  window.addEventListener('pagehide', () => send('leave'));
}
""".replace("HEARTBEAT_MS", str(int(1000 * HEARTBEAT_S)))


@dataclass
class Page:
    """What every tab function of a page needs: the engine, the error guard, the analytics tracker, the event
    keywords (compute / light) and the page-wide components (opt-in box, session and tab state, the Blocks)."""

    engine: Any
    track: Tracker
    guard: Callable[[Callable], Callable]
    compute_kw: dict
    light_kw: dict
    demo: Any = None
    optin: Any = None
    session: Any = None
    tabstate: Any = None

    @property
    def config(self):
        return self.engine.config


def new_page(engine, analytics: Analytics | None, route: str) -> Page:
    """A :class:`Page` for ``route`` (analytics default: the config's database)."""
    analytics = analytics or Analytics(engine.config.analytics_db)
    compute_kw, light_kw = event_options(engine.config)
    return Page(engine=engine, track=Tracker(analytics, route), guard=make_guard(engine.slots),
                compute_kw=compute_kw, light_kw=light_kw)


def track_tabs(page: Page, tabs: list[tuple[Any, str, str]], prefix: str) -> None:
    """Count a view (and the time on the tab left) each time one of ``tabs`` [(gr.Tab, id, title)] is selected."""
    for tab, tid, title in tabs:
        tab.select(page.track.tab_handler(title), inputs=[page.optin, page.session, page.tabstate],
                   outputs=[page.session, page.tabstate], api_name=f"{prefix}_tab_{tid}", **page.light_kw)
