"""Figures the app needs beyond ``unireps.viz`` (built on its style and palette): linked embedding panels with a
highlighted item, before/after-training pictures of image and caption embeddings, occlusion maps, empty
placeholders.  The browser-side linking of the panels is :data:`LINK_JS`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..viz import embedding_panels, similarity_heatmap, style
from ..viz.figures import PALETTE

LINKED_CLASS = "unireps-linked"


def placeholder(message: str, height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 15, "color": "#333333"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, None, height=height)


def image_html(image: np.ndarray, alt: str, min_side: int = 160, max_side: int = 320) -> str:
    """An accessible inline preview: a PNG data URI (nothing fetched) with alt text, small images upscaled with
    nearest-neighbour pixels so a 32×32 input stays legible."""
    import base64
    import html
    import io

    from PIL import Image

    im = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    w, h = im.size
    scale = max(1, min_side // max(w, h)) if max(w, h) < min_side else 1
    if scale > 1:
        im = im.resize((w * scale, h * scale), Image.NEAREST)
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure class="unireps-preview"><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            f'width="{im.size[0]}" height="{im.size[1]}" style="image-rendering: pixelated; max-width: 100%; '
            f'height: auto;"><figcaption>{html.escape(alt)}</figcaption></figure>')


def linked_panels(coords: dict[str, np.ndarray], labels: list[str], groups: list[str], highlight: int | None = None,
                  title: str = "Each model's space (PCA, rotated onto the first model by Procrustes)") -> go.Figure:
    """``viz.embedding_panels`` plus, when ``highlight`` is given, a ringed marker on that item in every panel.
    Every trace carries the item indices as ``customdata`` so the page's script can light up an item hovered or
    selected in one panel in all the others."""
    fig = embedding_panels(coords, labels, groups, title=title)
    if highlight is not None:
        for c, name in enumerate(coords, start=1):
            xy = np.asarray(coords[name])
            fig.add_trace(go.Scatter(x=[xy[highlight, 0]], y=[xy[highlight, 1]], mode="markers",
                                     name="selected item", legendgroup="selected", showlegend=c == 1,
                                     customdata=np.array([highlight]), text=[labels[highlight]],
                                     marker={"size": 18, "color": "rgba(0,0,0,0)",
                                             "line": {"color": "#000000", "width": 3}},
                                     hovertemplate="%{text}<extra>selected</extra>"), row=1, col=c)
    fig.update_layout(hovermode="closest", legend={"orientation": "h", "y": -0.08}, meta={"unireps": "linked"})
    return fig


def heatmap(matrix: pd.DataFrame, title: str, value_range: tuple[float, float], ci: pd.DataFrame | None = None
            ) -> go.Figure:
    lo, hi = value_range
    finite = matrix.to_numpy(float)[np.isfinite(matrix.to_numpy(float))]
    if not np.isfinite(lo):
        lo = float(finite.min()) if finite.size else 0.0
    if not np.isfinite(hi):
        hi = float(finite.max()) if finite.size else 1.0
    return similarity_heatmap(matrix, title=title, zmin=lo, zmax=hi, ci=ci)


def training_panels(states: dict[str, tuple[np.ndarray, np.ndarray]], captions: list[str]) -> go.Figure:
    """One panel per state (e.g. untrained / trained): images (circles) and their captions (crosses) in a shared
    2-D PCA of that state's embeddings, a grey line joining each matched pair."""
    names = list(states)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.06)
    for c, name in enumerate(names, start=1):
        img, txt = states[name]
        for i in range(len(img)):
            fig.add_trace(go.Scatter(x=[img[i, 0], txt[i, 0]], y=[img[i, 1], txt[i, 1]], mode="lines",
                                     line={"color": "#9a9a9a", "width": 1}, showlegend=False, hoverinfo="skip"),
                          row=1, col=c)
        colours = [PALETTE[i % len(PALETTE)] for i in range(len(img))]
        fig.add_trace(go.Scatter(x=img[:, 0], y=img[:, 1], mode="markers", name="image", legendgroup="image",
                                 showlegend=c == 1, text=captions, customdata=np.arange(len(img)),
                                 marker={"size": 11, "color": colours, "symbol": "circle",
                                         "line": {"color": "#000000", "width": 1}},
                                 hovertemplate="image of: %{text}<extra></extra>"), row=1, col=c)
        fig.add_trace(go.Scatter(x=txt[:, 0], y=txt[:, 1], mode="markers", name="caption", legendgroup="caption",
                                 showlegend=c == 1, text=captions, customdata=np.arange(len(txt)),
                                 marker={"size": 11, "color": colours, "symbol": "x"},
                                 hovertemplate="caption: %{text}<extra></extra>"), row=1, col=c)
        fig.update_xaxes(showticklabels=False, row=1, col=c)
        fig.update_yaxes(showticklabels=False, row=1, col=c)
    fig.update_layout(legend={"orientation": "h", "y": -0.08})
    return style(fig, "A batch of images (●) and their captions (✕) in the shared space, same colour = a matched pair",
                 height=430)


def occlusion_figure(image: np.ndarray, heat: np.ndarray, title: str) -> go.Figure:
    """The image with the occlusion map (drop in cosine when a patch is greyed out) laid over it."""
    h, w = image.shape[:2]
    g = heat.shape[0]
    fig = go.Figure(go.Image(z=image, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=heat, x0=w / g / 2 - 0.5, dx=w / g, y0=h / g / 2 - 0.5, dy=h / g,
                             colorscale="RdBu_r", zmid=0.0, opacity=0.55,
                             colorbar={"title": {"text": "drop in<br>cosine"}},
                             hovertemplate="patch row %{y:.0f}, col %{x:.0f}: %{z:.3f}<extra></extra>"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return style(fig, title, height=420)


def bar(df: pd.DataFrame, x: str, y: str, title: str, color: str | None = None, yrange=None,
        error: str | None = None) -> go.Figure:
    fig = go.Figure()
    groups = df.groupby(color, sort=False) if color else [("", df)]
    for i, (key, g) in enumerate(groups):
        fig.add_trace(go.Bar(x=g[x], y=g[y], name=str(key), marker_color=PALETTE[i % len(PALETTE)],
                             error_y={"type": "data", "array": g[error]} if error and error in g else None,
                             hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    fig.update_layout(barmode="group", showlegend=bool(color))
    if yrange:
        fig.update_yaxes(range=list(yrange))
    fig.update_yaxes(title=y)
    return style(fig, title, height=380)


# Browser side of the linked panels: plotly's graph div emits plotly_hover / plotly_selected; the item index of
# every point is its customdata, so the same indices are lit up (and the rest dimmed) in every subplot.  The
# script styles the rendered SVG points directly (gradio's bundled plotly is not a global), re-applies the
# selection after each redraw, and attaches itself to new plots as they appear.
LINK_JS = r"""
() => {
  const CLS = "__CLS__";
  const idsOf = (ev) => new Set(((ev && ev.points) || []).map((p) => {
    const c = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
    return Number(c);
  }).filter((x) => !Number.isNaN(x)));
  const apply = (gd, ids) => {
    gd.querySelectorAll("g.trace.scatter").forEach((tn) => {
      const cd = tn.__data__;
      const tr = cd && cd[0] && cd[0].trace;
      if (!tr || !tr.customdata) return;
      tn.querySelectorAll("path.point").forEach((p, j) => {
        const d = p.__data__;
        const k = d && typeof d.i === "number" ? d.i : j;
        const on = !!ids && ids.has(Number(tr.customdata[k]));
        p.style.opacity = ids ? (on ? "1" : "0.15") : "";
        p.style.stroke = on ? "#000" : "";
        p.style.strokeWidth = on ? "2.5px" : "";
        p.classList.toggle("unireps-lit", on);
      });
    });
  };
  const attach = (gd) => {
    if (gd.dataset.unirepsLinked || typeof gd.on !== "function") return;
    gd.dataset.unirepsLinked = "1";
    gd.on("plotly_hover", (ev) => apply(gd, idsOf(ev)));
    gd.on("plotly_unhover", () => apply(gd, gd.unirepsSel || null));
    gd.on("plotly_selected", (ev) => {
      gd.unirepsSel = ev && ev.points && ev.points.length ? idsOf(ev) : null;
      apply(gd, gd.unirepsSel);
    });
    gd.on("plotly_deselect", () => { gd.unirepsSel = null; apply(gd, null); });
    gd.on("plotly_afterplot", () => { if (gd.unirepsSel) apply(gd, gd.unirepsSel); });
  };
  window.unirepsLink = (ids) => document.querySelectorAll("." + CLS + " .js-plotly-plot")
    .forEach((gd) => apply(gd, ids ? new Set(ids) : null));
  setInterval(() => document.querySelectorAll("." + CLS + " .js-plotly-plot").forEach(attach), 600);
}
""".replace("__CLS__", LINKED_CLASS)
