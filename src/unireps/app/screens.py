"""Screenshots of the interactive module taken in a real headless browser (the post's Figure 6).

:func:`capture_app` serves the app on a free 127.0.0.1 port in a background thread, opens the research module in
headless Chromium through playwright, waits for its live result and its linked embedding panels, and writes PNGs.
Nothing here raises for a missing browser or driver: the result says why no screenshot was taken, and the post
states that reason instead of the figure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 240_000
SHOTS = ("app_research.png", "app_explorer.png")


def find_chromium() -> str | None:
    """The system Chromium (``$BROWSER_PATH``, then ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH).

    >>> find_chromium() is None or os.path.exists(find_chromium())
    True
    """
    env = os.environ.get("BROWSER_PATH")
    if env and os.path.exists(env):
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def capture_app(out_dir, cache_dir=None, width: int = 1280, height: int = 800) -> dict:
    """Screenshots of the research module under ``out_dir``: ``{"files": [names], "reason": ""}``, or no files
    and the reason (no Chromium, no playwright or gradio, or what failed while capturing)."""
    chromium = find_chromium()
    if chromium is None:
        return {"files": [], "reason": "no Chromium or Chrome browser was found on this machine (install one, e.g. "
                "apt-get install chromium, or set BROWSER_PATH)"}
    try:
        from playwright.sync_api import sync_playwright

        from . import build_app
        from .server import BackgroundServer, limit_threads, restore_threads
    except ImportError as e:
        return {"files": [], "reason": f"the app or the browser driver is not installed ({e.name}); pip install "
                "'unireps[app]' playwright"}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    threads = limit_threads(1)
    app = build_app(cache_dir=cache_dir)
    server = BackgroundServer(app)
    try:
        url = server.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"{url}/unireps-multimodal/")
                page.wait_for_function("() => (document.querySelector('#puzzle-result')?.innerText || '')"
                                       ".includes('Live result')", timeout=TIMEOUT_MS)
                page.wait_for_selector(".js-plotly-plot", timeout=TIMEOUT_MS)
                page.screenshot(path=str(out / SHOTS[0]))
                page.get_by_role("tab", name="Convergence explorer").click()
                page.click("#ex-compare")
                page.wait_for_selector("#ex-panels .js-plotly-plot g.trace.scatter path.point", timeout=TIMEOUT_MS)
                page.locator("#ex-panels").scroll_into_view_if_needed()
                page.screenshot(path=str(out / SHOTS[1]))
            finally:
                browser.close()
    except Exception as e:  # a capture failure must not sink the report: the post says what happened
        done = [s for s in SHOTS if (out / s).exists()]
        return {"files": done, "reason": f"capturing the app failed: {type(e).__name__}: {str(e).splitlines()[0]}"}
    finally:
        server.stop()
        app.state.engine.join(timeout=120)
        restore_threads(threads)
    return {"files": list(SHOTS), "reason": ""}
