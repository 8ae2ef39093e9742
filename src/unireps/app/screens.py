"""Screenshots of the interactive module taken in a real headless browser (the post's Figure 6).

:func:`capture_app` serves the app on a free 127.0.0.1 port in a background thread, opens the research module in
headless Chromium through playwright, waits for its live result and its linked embedding panels, and writes PNGs.
Nothing here raises for a missing browser or driver: the result says why no screenshot was taken, and the post
states that reason instead of the figure.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 240_000
SHOTS = ("app_research.png", "app_explorer.png")


def find_chromium() -> str | None:
    """The browser the screenshots use: :func:`unireps.viz.png.find_browser` (``$BROWSER_PATH``, then
    ``chromium`` / ``chromium-browser`` / ``google-chrome`` / ``google-chrome-stable`` on PATH).

    >>> find_chromium() is None or Path(find_chromium()).exists()
    True
    """
    from ..viz.png import find_browser

    return find_browser()


def capture_app(out_dir, cache_dir=None, width: int = 1280, height: int = 800, **config_kw) -> dict:
    """Screenshots of the research module under ``out_dir``: ``{"files": [names], "reason": ""}``, or no files
    and the reason (no Chromium, no playwright or gradio, or what failed while capturing).  ``config_kw``: more
    :class:`unireps.app.AppConfig` settings (tests: the tiny zoo's puzzle pair).  One browser; the research page
    and the explorer load side by side."""
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
    # no background warm-up: it computes every page of the app (applications, bridges, every model's embeddings),
    # while the two screenshots need the research page's live result and one explorer comparison, which the pages
    # compute when they load (what they show is the same; the disk caches are shared with `unireps app`)
    app = build_app(cache_dir=cache_dir, precompute=False, **config_kw)
    server = BackgroundServer(app)
    try:
        url = f"{server.start()}/unireps-multimodal/"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": width, "height": height})
                research, explorer = context.new_page(), context.new_page()
                research.goto(url)
                explorer.goto(url)  # both pages' computations run on the server at once (2 queued at a time)
                explorer.get_by_role("tab", name="Convergence explorer").click()
                explorer.click("#ex-compare")
                research.wait_for_function("() => (document.querySelector('#puzzle-result')?.innerText || '')"
                                           ".includes('Live result')", timeout=TIMEOUT_MS)
                research.wait_for_selector(".js-plotly-plot", timeout=TIMEOUT_MS)
                settle(research)
                research.screenshot(path=str(out / SHOTS[0]))
                explorer.wait_for_selector("#ex-panels .js-plotly-plot g.trace.scatter path.point",
                                           timeout=TIMEOUT_MS)
                explorer.locator("#ex-panels").scroll_into_view_if_needed()
                settle(explorer)
                explorer.screenshot(path=str(out / SHOTS[1]))
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


def settle(page, timeout_ms: int = 5_000) -> None:
    """Wait until the app's layout tick (:data:`unireps.app.figures.LAYOUT_JS`, every 400 ms) has given every plot
    its minimum width and the plots have drawn at their final size, instead of a fixed sleep: two animation frames
    after every ``.js-plotly-plot`` carries the width its figure asks for."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].every((gd) => {"
        " const w = gd.layout && gd.layout.meta && gd.layout.meta.minWidth;"
        " return gd.style.minWidth === (w ? w + 'px' : ''); })", timeout=timeout_ms)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
