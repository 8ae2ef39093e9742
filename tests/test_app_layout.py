"""The app on a phone (390×844) and a desktop (1280×800), both routes, in headless Chromium: nothing overflows the
page width (wide plots and tables scroll inside their own box), heatmap cell text is at least 10 px in cells at
least 50 px wide, and every tab is reachable without an overflow menu.  Screenshots go to $UNIREPS_SCREENS (default
/tmp/unireps_screens).  (That the layer-map menus follow the explorer's models is tested through the server, in
test_app_server.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_support import CHROMIUM, launched_chromium

pytestmark = [
    pytest.mark.slow,  # a few minutes on 2 cores (server start, two browser sessions)
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no system Chromium at /usr/bin/chromium"),
    pytest.mark.filterwarnings("ignore:.*(copy keyword|no_silent_downcasting).*"),
]
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("gradio")

from app_layout_checks import HEATMAP_CELL_JS, HEATMAP_FONT_JS, OVERFLOW_JS  # noqa: E402
from test_app_support import FED, TINY, served_app  # noqa: E402

SCREENS = Path(os.environ.get("UNIREPS_SCREENS", "/tmp/unireps_screens"))
TIMEOUT = 180_000
VIEWPORTS = [pytest.param({"width": 390, "height": 844}, id="phone"),
             pytest.param({"width": 1280, "height": 800}, id="desktop")]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("app"), dashboard=True, federated=FED) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as b:
        yield b


def check(page, name: str, heatmaps: bool = False) -> None:
    page.wait_for_timeout(1200)  # the layout script applies plot minimum widths every 400 ms
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)
    assert page.evaluate(OVERFLOW_JS) == [], name
    if heatmaps:
        assert page.evaluate(HEATMAP_FONT_JS) >= 10, name
        cells = page.evaluate(HEATMAP_CELL_JS)
        assert cells and min(cells) >= 50, (name, cells)


def tabs_reachable(page, names: list[str]) -> None:
    """Every tab button is visible in the tab bar itself (no hidden "⋯" overflow menu)."""
    assert page.locator(".overflow-menu:visible").count() == 0
    for name in names:
        assert page.get_by_role("tab", name=name, exact=True).is_visible(), name


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_research_layout(srv, browser, viewport):
    tag = "phone" if viewport["width"] < 600 else "desktop"
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{srv.url}/unireps-multimodal/")
    page.wait_for_function("() => (document.querySelector('#puzzle-result')?.innerText || '').includes('Live result')",
                           timeout=TIMEOUT)
    page.wait_for_selector(".heatmaplayer text", timeout=TIMEOUT)
    tabs_reachable(page, ["The puzzle", "Convergence explorer", "Cross-model comparison", "Brain", "Theory",
                          "Applications"])
    check(page, f"research_puzzle_{tag}", heatmaps=True)

    page.get_by_role("tab", name="Convergence explorer").click()
    page.click("#ex-compare")
    page.wait_for_selector("#ex-panels .js-plotly-plot g.trace.scatter path.point", timeout=TIMEOUT)
    check(page, f"research_explorer_{tag}", heatmaps=True)

    page.get_by_role("tab", name="Theory", exact=True).click()
    tabs_reachable(page, ["Why convergence happens", "When it occurs", "Neuroscience parallels",
                          "The mathematical framework"])
    check(page, f"research_theory_{tag}")

    page.get_by_role("tab", name="Applications", exact=True).click()
    tabs_reachable(page, ["Stitching, merging, transfer", "Federated learning", "Blind matching (real towers)",
                          "Overview of the demos"])
    page.get_by_role("tab", name="Federated learning", exact=True).click()
    page.wait_for_selector("#fed-drift .js-plotly-plot .scatterlayer", timeout=TIMEOUT)
    page.wait_for_function("() => (document.querySelector('#fed-result')?.innerText || '').includes('round')",
                           timeout=TIMEOUT)
    check(page, f"research_federated_{tag}")

    page.get_by_role("tab", name="Blind matching (real towers)", exact=True).click()
    page.wait_for_function("() => (document.querySelector('#bl-result')?.innerText || '').includes('known seed')",
                           timeout=3 * TIMEOUT)  # a cold cache runs the towers on the 92 photos first
    page.wait_for_selector("#bl-anchors .js-plotly-plot .scatterlayer", timeout=TIMEOUT)
    check(page, f"research_blind_{tag}")
    context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_dashboard_layout(srv, browser, viewport):
    from unireps.app.analytics import Analytics

    a = Analytics(srv.db)
    for i, tab in enumerate(["The puzzle", "Convergence explorer", "Brain", "Convergence explorer"]):
        a.record(True, f"layout-{i}", "/unireps-multimodal", "tab_view", tab)
        a.record(True, f"layout-{i}", "/unireps-multimodal", "tab_time", tab, 20.0 + 15 * i)
        a.record(True, f"layout-{i}", "/unireps-multimodal", "models", f"{TINY['a']} + {TINY['clip']}")
    a.record(True, "layout-0", "/multimodal", "upload", "image")
    tag = "phone" if viewport["width"] < 600 else "desktop"
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{srv.url}/dashboard/")
    page.wait_for_function("() => (document.querySelector('#dash-summary')?.innerText || '').includes('sessions')",
                           timeout=TIMEOUT)
    page.wait_for_selector(".js-plotly-plot .barlayer", timeout=TIMEOUT)
    check(page, f"dashboard_{tag}")
    context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_primer_layout(srv, browser, viewport):
    tag = "phone" if viewport["width"] < 600 else "desktop"
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{srv.url}/multimodal/")
    page.wait_for_selector("#edu-match", timeout=TIMEOUT)
    tabs_reachable(page, ["1. Try it", "2. How it works", "3. Why this match?", "4. Ethics & accessibility",
                          "5. Ready for more?"])
    page.click("#edu-match")
    page.wait_for_selector("#edu-preview img[alt]", timeout=TIMEOUT)
    check(page, f"primer_try_{tag}")
    page.get_by_role("tab", name="2. How it works").click()
    page.wait_for_selector("#edu-training .js-plotly-plot", timeout=TIMEOUT)
    check(page, f"primer_how_{tag}")
    context.close()
