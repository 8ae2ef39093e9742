"""Figures build from the analyses' tables; HTML is self-contained; PNG export works where a browser is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from unireps import viz
from unireps.viz.png import find_browser


def test_heatmap_with_ci_text():
    m = pd.DataFrame([[1.0, 0.4], [0.4, 1.0]], index=["a", "b"], columns=["a", "b"])
    table = pd.DataFrame([{"model_a": "a", "model_b": "b", "metric": "linear_cka", "ci_low": 0.3, "ci_high": 0.5}])
    fig = viz.similarity_heatmap(m, ci=viz.ci_strings(table, "linear_cka", ["a", "b"]))
    assert "0.30–0.50" in fig.data[0].text[0][1]


def test_embedding_panels_share_stimuli_and_colours():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5))
    coords = viz.procrustes_align_2d({"A": viz.pca_2d(X), "B": viz.pca_2d(X @ np.diag([1, 2, 3, 4, 5.0]))})
    fig = viz.embedding_panels(coords, [f"item {i}" for i in range(20)], groups=["x", "y"] * 10)
    assert len(fig.data) == 4  # 2 panels × 2 groups
    assert list(fig.data[0].customdata) == list(fig.data[2].customdata)  # same stimuli, linked by index


def test_procrustes_alignment_undoes_a_rotation():
    rng = np.random.default_rng(1)
    P = rng.normal(size=(30, 2))
    R = np.array([[0.0, -1.0], [1.0, 0.0]])
    out = viz.procrustes_align_2d({"a": P, "b": P @ R})
    np.testing.assert_allclose(out["b"], out["a"], atol=1e-10)


def test_brain_plot_has_ceiling_band():
    t = pd.DataFrame([{"model": "m", "layer": "l1", "kind": "layer", "target": "human_IT", "value": 0.2,
                       "ci_low": 0.1, "ci_high": 0.3, "mean_over_subjects": 0.15, "ceiling_lower": 0.38,
                       "ceiling_upper": 0.66}])
    fig = viz.brain_plot(t)
    assert fig.layout.shapes and fig.layout.shapes[0].y0 == pytest.approx(0.38)


def test_html_is_offline(tmp_path):
    fig = viz.lmc_plot(pd.DataFrame({"t": [0, 0.5, 1], "loss": [0.1, 0.9, 0.1], "curve": "naive w=8"}))
    viz.save(fig, html_path=tmp_path / "f.html")
    html = (tmp_path / "f.html").read_text()
    assert "<script src=\"http" not in html and "Plotly" in html  # plotly.js inlined, nothing fetched


@pytest.mark.skipif(find_browser() is None, reason="no Chromium for kaleido")
def test_png_export(tmp_path):
    viz.save(viz.bar_plot(pd.DataFrame({"x": ["a", "b"], "y": [1, 2]}), "x", "y"), png_path=tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_warm_up_is_false_without_a_browser_and_exports_still_work_after_it(tmp_path, monkeypatch):
    import unireps.viz.png as png

    with monkeypatch.context() as m:
        m.setattr(png, "find_browser", lambda: None)
        assert png.warm_up() is False
    if find_browser() is None:
        pytest.skip("no Chromium for kaleido")
    assert png.warm_up() is True
    fig = viz.bar_plot(pd.DataFrame({"x": ["a", "b"], "y": [1, 2]}), "x", "y")
    path = png.write_png(fig, tmp_path / "after_warm_up.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
