"""The post's screenshots of the app (unireps.app.screens.capture_app) in headless Chromium: both PNGs at the asked
viewport, drawn after the live result and the explorer's panels, with no background warm-up left running."""

from __future__ import annotations

import pytest

from test_app_support import TINY, ZOO_CACHE, tiny_zoo_env

pytest.importorskip("gradio")
pytest.importorskip("playwright")

pytestmark = pytest.mark.slow  # a browser and the app's first computations: ~30-60 s on 2 cores


def test_capture_app_writes_both_screenshots(tmp_path):
    from PIL import Image

    from unireps.app.screens import SHOTS, capture_app, find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium")
    with tiny_zoo_env():
        res = capture_app(tmp_path / "img", cache_dir=ZOO_CACHE / "app-cache", puzzle_models=(TINY["a"], TINY["clip"]),
                          puzzle_permutations=10, warm_bridges=False)
    assert res == {"files": list(SHOTS), "reason": ""}
    for name in SHOTS:
        with Image.open(tmp_path / "img" / name) as im:
            assert im.size == (1280, 800)
            colours = im.convert("RGB").resize((64, 40)).getcolors(64 * 40)
            assert colours is not None and len(colours) > 8  # a page, not a blank frame
