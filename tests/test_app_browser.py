"""End-to-end tests in headless Chromium (pip's playwright driving Debian's /usr/bin/chromium): the research page
(tabs, upload, heatmap, linked hover, KaTeX, nothing requested outside 127.0.0.1, nothing kept in browser storage)
and both routes linked both ways, at a phone (390×844) and a desktop (1280×800) viewport.

Screenshots go to the test's tmp_path, with copies in /tmp/unireps_screens."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from browser_support import CHROMIUM, launched_chromium

pytestmark = [
    pytest.mark.slow,  # about 2 minutes on 2 cores (server start, three browser sessions)
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no system Chromium at /usr/bin/chromium"),
    pytest.mark.filterwarnings("ignore:.*(copy keyword|no_silent_downcasting).*"),
]
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("gradio")

from PIL import Image  # noqa: E402

from test_app_support import FED, served_app  # noqa: E402

SCREENS = Path("/tmp/unireps_screens")
TIMEOUT = 120_000


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("app"), federated=FED) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as b:
        yield b


def shot(page, tmp_path: Path, name: str, full_page: bool = True) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENS / path.name)
    return path


def record_requests(page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    return urls


def external(urls: list[str], base: str) -> list[str]:
    return [u for u in urls if not (u.startswith(base) or u.startswith(("data:", "blob:", "about:")))]


def no_browser_storage(page, context) -> None:
    assert page.evaluate("[localStorage.length, sessionStorage.length]") == [0, 0]
    assert context.cookies() == []


def unlabelled_controls(page) -> list[str]:
    """Visible inputs, selects, textareas and buttons without an accessible name."""
    return page.evaluate("""() => { const bad = [];
      document.querySelectorAll('input, textarea, select, button').forEach(el => {
        const st = getComputedStyle(el);
        if (el.type === 'hidden' || st.display === 'none' || st.visibility === 'hidden' || !el.offsetParent) return;
        const img = el.querySelector('img[alt]:not([alt=""])');
        const name = (el.labels && el.labels.length) || el.getAttribute('aria-label') ||
          el.getAttribute('aria-labelledby') || el.title || el.innerText.trim() || img;
        if (!name) bad.push(el.outerHTML.slice(0, 160));
      }); return bad; }""")


def test_research_page_end_to_end(srv, browser, tmp_path):
    img = tmp_path / "upload.png"
    Image.fromarray((np.random.default_rng(1).random((90, 120, 3)) * 255).astype(np.uint8)).save(img)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    urls = record_requests(page)
    page.goto(f"{srv.url}/unireps-multimodal/")
    page.wait_for_function("() => (document.querySelector('#puzzle-result')?.innerText || '').includes('Live result')",
                           timeout=TIMEOUT)
    page.wait_for_selector(".js-plotly-plot", timeout=TIMEOUT)
    shot(page, tmp_path, "research_1_puzzle")

    # explorer: compare, then hover a point of the first panel: the same item lights up in every panel
    page.get_by_role("tab", name="Convergence explorer").click()
    page.click("#ex-compare")
    page.wait_for_selector("#ex-panels .js-plotly-plot g.trace.scatter path.point", timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelector('#ex-panels .js-plotly-plot')?.dataset.unirepsLinked === '1'",
                           timeout=TIMEOUT)
    point = page.locator("#ex-panels g.trace.scatter path.point").first
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.querySelectorAll('#ex-panels path.point.unireps-lit').length >= 2",
                           timeout=10_000)
    sides = page.evaluate("""() => { const gd = document.querySelector('#ex-panels .js-plotly-plot');
        const r = gd.getBoundingClientRect(), mid = r.left + r.width / 2;
        return [...new Set(Array.from(gd.querySelectorAll('path.point.unireps-lit'))
          .map(p => p.getBoundingClientRect().left < mid ? 'left' : 'right'))].sort(); }""")
    assert sides == ["left", "right"]  # the hovered item is lit in both panels
    shot(page, tmp_path, "research_2_explorer_linked_hover", full_page=False)

    # cross-model comparison: upload an image, wait for the heatmap
    page.get_by_role("tab", name="Cross-model comparison").click()
    page.locator("#cm-image").wait_for(state="visible", timeout=TIMEOUT)  # the tab's upload box is mounted
    page.locator("#cm-image input[type=file]").set_input_files(str(img))
    page.wait_for_function("() => (document.querySelector('#cm-image')?.innerText || '').includes('upload.png')",
                           timeout=TIMEOUT)
    page.click("#cm-compare")
    page.wait_for_selector("#cm-heat-image .js-plotly-plot .heatmaplayer", timeout=TIMEOUT)
    assert page.locator("#cm-preview img[alt]").count() == 1
    shot(page, tmp_path, "research_3_crossmodel_upload")

    # theory: formulas rendered by KaTeX (served by gradio itself)
    page.get_by_role("tab", name="Theory", exact=True).click()
    page.get_by_role("tab", name="The mathematical framework").click()
    page.wait_for_selector("#theory-math .katex", timeout=TIMEOUT)
    assert page.locator("#theory-math .katex").count() > 10
    shot(page, tmp_path, "research_4_theory_math")

    # engagement beacons (heartbeat / visibility / leave): nothing before the visitor opts in, then to this server
    beats = lambda: [u for u in urls if u.endswith("/unireps-beat")]  # noqa: E731
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_timeout(500)
    assert beats() == []
    page.locator("#analytics-optin input[type=checkbox]").check()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    for _ in range(40):
        if beats():
            break
        page.wait_for_timeout(250)
    assert beats() == [f"{srv.url}/unireps-beat"]

    assert not external(urls, srv.url), external(urls, srv.url)
    assert len(urls) > 20
    no_browser_storage(page, context)
    assert page.evaluate("document.documentElement.lang") == "en"
    context.close()


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 800}],
                         ids=["phone", "desktop"])
def test_two_routes_linked_both_ways(srv, browser, tmp_path, viewport):
    tag = "phone" if viewport["width"] < 600 else "desktop"
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    urls = record_requests(page)
    page.goto(f"{srv.url}/multimodal/")
    page.wait_for_selector("#edu-match", timeout=TIMEOUT)
    page.click("#edu-match")
    page.wait_for_selector("#edu-preview img[alt]", timeout=TIMEOUT)
    page.wait_for_selector(".js-plotly-plot", timeout=TIMEOUT)
    assert unlabelled_controls(page) == []
    shot(page, tmp_path, f"edu_match_{tag}")

    # keyboard: Tab reaches the navigation link first
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") in ("A", "BUTTON", "INPUT")

    # the "ready for more?" path to the research module
    tab = page.get_by_role("tab", name="5. Ready for more?")
    if tab.count() and tab.is_visible():
        tab.click()
    else:  # narrow screens fold the last tabs into gradio's "More tabs" menu
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text="5. Ready for more?").click()
    link = page.locator("#ready-for-more")
    link.wait_for(timeout=TIMEOUT)
    shot(page, tmp_path, f"edu_ready_for_more_{tag}", full_page=False)
    link.click()
    page.wait_for_url("**/unireps-multimodal/", timeout=TIMEOUT)
    page.wait_for_function("() => (document.querySelector('#puzzle-result')?.innerText || '').includes('Live result')",
                           timeout=TIMEOUT)
    page.wait_for_selector(".js-plotly-plot .heatmaplayer", timeout=TIMEOUT)
    assert unlabelled_controls(page) == []
    shot(page, tmp_path, f"research_{tag}")

    # and back to the primer from the research module's navigation
    page.get_by_role("link", name="How one model, CLIP, works (student primer)").click()
    page.wait_for_url("**/multimodal/", timeout=TIMEOUT)
    page.wait_for_selector("#edu-match", timeout=TIMEOUT)
    assert not external(urls, srv.url), external(urls, srv.url)
    no_browser_storage(page, context)
    context.close()


def test_primer_tabs(srv, browser, tmp_path):
    """Every tab of the primer computes live and renders: training picture, occlusion and word maps, alt text."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    urls = record_requests(page)
    page.goto(f"{srv.url}/multimodal/")
    page.wait_for_selector("#edu-match", timeout=TIMEOUT)
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#edu-gallery img", timeout=TIMEOUT)
    shot(page, tmp_path, "edu_1_gallery")
    page.get_by_role("tab", name="2. How it works").click()
    page.wait_for_selector("#edu-training .js-plotly-plot .scatterlayer", timeout=TIMEOUT)
    page.wait_for_selector("#edu-how .katex", timeout=TIMEOUT)
    shot(page, tmp_path, "edu_2_how_it_works")
    page.get_by_role("tab", name="3. Why this match?").click()
    page.get_by_role("button", name="Explain the match").click()
    page.wait_for_selector("#edu-occlusion .js-plotly-plot .heatmaplayer", timeout=TIMEOUT)
    page.wait_for_selector("#edu-words .js-plotly-plot .barlayer", timeout=TIMEOUT)
    shot(page, tmp_path, "edu_3_explain")
    page.get_by_role("tab", name="4. Ethics & accessibility").click()
    page.get_by_role("button", name="Suggest alt text").click()
    page.wait_for_function("() => (document.querySelector('#edu-alt textarea')?.value || '').length > 3",
                           timeout=TIMEOUT)
    assert unlabelled_controls(page) == []
    shot(page, tmp_path, "edu_4_ethics_alt_text")
    assert not external(urls, srv.url), external(urls, srv.url)
    no_browser_storage(page, context)
    context.close()
