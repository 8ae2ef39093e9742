"""Figures the app needs beyond ``unireps.viz`` (built on its style and palette): linked embedding panels with a
highlighted item, before/after-training pictures of image and caption embeddings, occlusion maps, empty
placeholders.  The browser-side linking of the panels is :data:`LINK_JS`."""

from __future__ import annotations

import functools
import json
import re
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..viz import style
from ..viz.figures import FONT, PALETTE, SEQUENTIAL
from ..viz.figures import layer_map as viz_layer_map

LINKED_CLASS = "unireps-linked"


def placeholder(message: str, height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text="<br>".join(textwrap.wrap(message, 40)), showarrow=False, x=0.5, y=0.5, xref="paper",
                       yref="paper", font={"size": 15, "color": "#333333"})
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
                  title: str = "Each model's space (PCA, rotated onto the first model by Procrustes)") -> PlotSpec:
    """``viz.embedding_panels`` in the app's form: one scatter panel per model (short model names as panel titles,
    full names on hover), same colours per group and, when ``highlight`` is given, a ringed marker on that item in
    every panel.  Every trace carries the item indices as ``customdata`` so the page's script can light up an item
    hovered or selected in one panel in all the others.

    Built as a plain plotly spec (:func:`spec_figure`): the same figure ``embedding_panels`` draws, without
    plotly's per-property validation, which cost 0.1–0.5 s per request under load.

    >>> import numpy as np
    >>> fig = linked_panels({"zoo:a": np.zeros((3, 2)), "zoo:b": np.ones((3, 2))}, ["x", "y", "z"], ["g", "g", "h"])
    >>> len(fig.data), fig.layout["meta"]["unireps"], fig.layout["meta"]["minWidth"]
    (4, 'linked', 500)
    """
    names = list(coords)
    uniq = list(dict.fromkeys(groups))
    members = {g: [i for i, v in enumerate(groups) if v == g] for g in uniq}
    layout = panel_grid(len(names), short_labels(names))
    data = []
    for c, name in enumerate(names, start=1):
        xy = np.asarray(coords[name], dtype=float)
        axes = {"xaxis": "x" if c == 1 else f"x{c}", "yaxis": "y" if c == 1 else f"y{c}"}
        for gi, g in enumerate(uniq):
            idx = members[g]
            data.append({"type": "scatter", "x": _json_floats(xy[idx, 0]), "y": _json_floats(xy[idx, 1]),
                         "mode": "markers",
                         "name": str(g), "legendgroup": str(g), "showlegend": c == 1, "customdata": idx,
                         "text": [labels[i] for i in idx],
                         "marker": {"color": PALETTE[gi % len(PALETTE)], "size": 7, "opacity": 0.8},
                         "hovertemplate": "%{text}<extra>" + name + "</extra>", **axes})
        if highlight is not None:
            h = int(highlight)
            data.append({"type": "scatter", "x": _json_floats(xy[h:h + 1, 0]), "y": _json_floats(xy[h:h + 1, 1]),
                         "mode": "markers",
                         "name": "selected item", "legendgroup": "selected", "showlegend": c == 1,
                         "customdata": [h], "text": [labels[h]],
                         "marker": {"size": 18, "color": "rgba(0,0,0,0)", "line": {"color": "#000000", "width": 3}},
                         "hovertemplate": "%{text}<extra>selected</extra>", **axes})
    layout.update(dragmode="lasso", clickmode="event+select", hovermode="closest",
                  legend={"orientation": "h", "y": -0.08})
    return spec_figure(data, layout, title, height=420, min_width=40 + 230 * len(coords), extra_top=28,
                       meta={"unireps": "linked"})


def _json_floats(values) -> list:
    """Floats for JSON: non-finite values become None (plotly draws a gap)."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


@functools.lru_cache(maxsize=1)
def _template() -> dict:
    """plotly's ``plotly_white`` template as a plain dict (read once; every figure of ``unireps.viz`` uses it)."""
    import plotly.io as pio

    return pio.templates["plotly_white"].to_plotly_json()


def panel_grid(n: int, titles: Sequence[str], spacing: float = 0.04) -> dict:
    """The layout ``make_subplots(rows=1, cols=n, subplot_titles=titles, horizontal_spacing=spacing)`` makes, as a
    dict: axis domains side by side, ticks hidden, one title annotation above each panel."""
    width = (1.0 - spacing * (n - 1)) / n
    layout: dict = {"annotations": []}
    for c in range(1, n + 1):
        lo = (c - 1) * (width + spacing)
        sx = "" if c == 1 else str(c)
        layout[f"xaxis{sx}"] = {"anchor": f"y{sx}", "domain": [lo, min(1.0, lo + width)], "showticklabels": False}
        layout[f"yaxis{sx}"] = {"anchor": f"x{sx}", "domain": [0.0, 1.0], "showticklabels": False}
        layout["annotations"].append({"font": {"size": 16}, "showarrow": False, "text": titles[c - 1],
                                      "x": lo + width / 2, "xanchor": "center", "xref": "paper", "y": 1.0,
                                      "yanchor": "bottom", "yref": "paper"})
    return layout


def spec_figure(data: list[dict], layout: dict, title: str | None, height: int, min_width: int, extra_top: int = 0,
                meta: dict | None = None, margin: dict | None = None) -> PlotSpec:
    """A figure from plain plotly dicts in the style of ``unireps.viz.style`` plus :func:`responsive` (template,
    font, palette, wrapped title, ``layout.meta.minWidth``), wrapped without plotly's property validation (the
    specs are written here, not by users; validating them cost more than the rest of a request)."""
    lines = wrap_title(title, 38)
    n = lines.count("<br>") + 1 if lines else 0
    m = {"l": 60, "r": 20, "t": 60 if title else 20, "b": 50, **(margin or {})}
    if lines:
        m["t"] = max(m["t"], 24 + 20 * n) + extra_top
    layout = {**layout, "template": _template(), "font": {"family": FONT, "size": 13}, "margin": m,
              "colorway": PALETTE, "height": height, "meta": {**(meta or {}), "minWidth": int(min_width)}}
    if lines:
        layout["title"] = {"text": lines, "font": {"size": 15}}
    return PlotSpec(data=data, layout=layout)


class PlotSpec(dict):
    """A plotly figure as plain JSON-ready dicts, ``{"data": [traces], "layout": {...}}``: what ``gr.Plot`` sends to
    the page (it calls :meth:`to_json`), without building plotly graph objects (whose validation and deep copies
    cost more than the rest of a cached request).  Non-finite numbers must already be None (JSON has no NaN).

    >>> PlotSpec(data=[{"type": "scatter", "x": [1], "y": [2]}], layout={}).to_json()
    '{"data": [{"type": "scatter", "x": [1], "y": [2]}], "layout": {}}'
    """

    @property
    def data(self) -> list[dict]:
        return self["data"]

    @property
    def layout(self) -> dict:
        return self["layout"]

    def to_json(self) -> str:
        return json.dumps(self, allow_nan=False, ensure_ascii=False)


def short_labels(names: Sequence[str], max_len: int = 16) -> list[str]:
    """Short, unique axis labels for model names (the full names go in the hover text): the source prefix
    (``zoo:``, ``toy:``, an ``org/``) dropped, then — when a label is still long — the dash-separated words that
    every name shares dropped, then long labels cut in the middle with "…".

    >>> short_labels(["zoo:tiny-cnn8-bow-infonce-s0", "zoo:tiny-cnn8-bow-infonce-s1", "raw pixels"])
    ['s0', 's1', 'raw pixels']
    """
    names = [str(n) for n in names]
    suffix = [" (untr.)" if n.endswith(" (untrained)") else "" for n in names]
    core = [n[: -len(" (untrained)")] if sfx else n for n, sfx in zip(names, suffix)]
    core = [re.sub(r"^[a-z]+:", "", c).rsplit("/", 1)[-1] for c in core]
    if any(len(c) + len(x) > max_len for c, x in zip(core, suffix)) and len(core) > 1:
        words = [c.split("-") for c in core]
        multi = [w for w in words if len(w) > 1]
        common = set.intersection(*map(set, multi)) if len(multi) > 1 else set()
        trimmed = ["-".join(t for t in w if t not in common) or "-".join(w) if len(w) > 1 else w[0] for w in words]
        if len(set(zip(trimmed, suffix))) == len(names):
            core = trimmed
    out = []
    for c, sfx in zip(core, suffix):
        room = max_len - len(sfx)
        if len(c) > room:
            c = c[: room // 2] + "…" + c[-(room - room // 2 - 1):]
        out.append(c + sfx)
    seen: dict[str, int] = {}
    for i, lab in enumerate(out):
        if lab in seen or out.count(lab) > 1:
            seen[lab] = seen.get(lab, 0) + 1
            out[i] = f"{lab} #{seen[lab]}"
    return out


def wrap_title(title: str | None, width: int = 40) -> str | None:
    """A figure title broken into lines of at most ``width`` characters (plotly titles do not wrap themselves,
    so a long one is cut on a phone)."""
    if not title or "<br>" in title:
        return title
    return "<br>".join(textwrap.wrap(title, width)) or title


def responsive(fig: go.Figure, min_width: int, title: str | None = None, extra_top: int = 0) -> go.Figure:
    """Mark ``fig`` with the narrowest width at which it stays readable (``layout.meta.minWidth``, read by
    :data:`LAYOUT_JS`: on a narrower screen the plot keeps that width and its box scrolls sideways) and wrap its
    title to what a phone shows; ``extra_top``: room for subplot titles under the title."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    meta["minWidth"] = int(min_width)
    text = title if title is not None else (fig.layout.title.text if fig.layout.title else None)
    lines = wrap_title(text, 38)  # about 330 px at 15 px: the width a phone shows
    fig.update_layout(meta=meta)
    if lines:
        n = lines.count("<br>") + 1
        fig.update_layout(title={"text": lines, "font": {"size": 15}},
                          margin={"t": max(fig.layout.margin.t or 0, 24 + 20 * n) + extra_top})
    return fig


HEAT_CELL = 64  # px: two lines of 11 px text ("0.93" and "0.90–0.95") fit in a cell this wide


def heatmap(matrix: pd.DataFrame, title: str, value_range: tuple[float, float], ci: pd.DataFrame | None = None
            ) -> PlotSpec:
    """Model × model heatmap for the app: short axis labels (full names on hover), value and 95% CI on two lines of
    11 px text in each cell, and a minimum width that keeps every cell at least :data:`HEAT_CELL` px wide.

    >>> import pandas as pd
    >>> m = pd.DataFrame([[1.0, 0.5], [0.5, 1.0]], index=["zoo:a", "zoo:b"], columns=["zoo:a", "zoo:b"])
    >>> fig = heatmap(m, "linear_cka", (0.0, 1.0))
    >>> tuple(fig.data[0]["x"]), fig.layout["meta"]["minWidth"] >= 2 * HEAT_CELL
    (('a', 'b'), True)
    """
    lo, hi = value_range
    z = matrix.to_numpy(float)
    finite = z[np.isfinite(z)]
    if not np.isfinite(lo):
        lo = float(finite.min()) if finite.size else 0.0
    if not np.isfinite(hi):
        hi = float(finite.max()) if finite.size else 1.0
    rows, cols = list(matrix.index), list(matrix.columns)
    ry, rx = short_labels(rows), short_labels(cols)
    cis = ci.reindex_like(matrix).fillna("").to_numpy() if ci is not None else np.full(z.shape, "")
    text = [["" if not np.isfinite(v) else (f"{v:.2f}<br>{c}" if c else f"{v:.2f}") for v, c in zip(zr, cr)]
            for zr, cr in zip(z, cis)]
    full = [[f"{a} vs {b}" for b in cols] for a in rows]
    trace = {"type": "heatmap", "z": [_json_floats(zr) for zr in z], "x": rx,
             "y": ry, "zmin": float(lo), "zmax": float(hi), "colorscale": _colorscale(), "text": text,
             "texttemplate": "%{text}", "textfont": {"size": 11}, "customdata": full, "colorbar": {"thickness": 12},
             "hovertemplate": "%{customdata}: %{z:.3f}<extra></extra>"}
    n = max(len(rows), len(cols))
    label_px = 8 + 7 * max(len(x) for x in ry + rx)
    layout = {"yaxis": {"autorange": "reversed", "tickfont": {"size": 11}},
              "xaxis": {"tickfont": {"size": 11}, "tickangle": -30}}
    return spec_figure([trace], layout, title, height=max(320, 52 * len(rows) + 110 + label_px // 2),
                       min_width=label_px + HEAT_CELL * n + 70,
                       margin={"l": label_px, "r": 10, "b": label_px // 2 + 20})


@functools.lru_cache(maxsize=1)
def _colorscale() -> list:
    """The :data:`unireps.viz.figures.SEQUENTIAL` colour scale as plotly's [[position, colour], ...] list."""
    import plotly.colors

    return [list(pair) for pair in plotly.colors.get_colorscale(SEQUENTIAL)]


def layer_heatmap(M: pd.DataFrame, title: str, xlabel: str, ylabel: str, value_range=(0.0, 1.0)) -> go.Figure:
    """Layer × layer map: at least 14 px per layer, model names shortened on the axes (full names in the title)."""
    fig = viz_layer_map(M, title=title, xlabel=short_labels([xlabel])[0], ylabel=short_labels([ylabel])[0])
    lo, hi = value_range
    if np.isfinite(lo) and np.isfinite(hi):
        fig.update_traces(zmin=lo, zmax=hi)
    fig.update_xaxes(tickfont={"size": 10})
    fig.update_yaxes(tickfont={"size": 10})
    return responsive(fig, 160 + 14 * len(M.columns))


def training_panels(states: dict[str, tuple[np.ndarray, np.ndarray]], captions: list[str]) -> go.Figure:
    """One panel per state (e.g. untrained / trained): images (circles) and their captions (crosses) in a shared
    2-D PCA of that state's embeddings, a grey line joining each matched pair."""
    names = list(states)
    titles = [n.split(" (")[0] for n in names]  # "before training (model)": the model is named on the page
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=titles, horizontal_spacing=0.06)
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
    style(fig, "A batch of images (●) and their captions (✕) in the shared space, same colour = a matched pair",
          height=430)
    return responsive(fig, 40 + 230 * len(names), extra_top=28)


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
    style(fig, title, height=420)
    return responsive(fig, 320)


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
    style(fig, title, height=380)
    return responsive(fig, max(320, 40 + 36 * len(df)))


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


# Both pages: a plot whose figure carries ``layout.meta.minWidth`` (see :func:`responsive`) keeps at least that
# width (its box scrolls sideways on a narrow screen, see ui.CSS); plotly's responsive handler then redraws it.
LAYOUT_JS = r"""
() => {
  const fit = () => document.querySelectorAll(".js-plotly-plot").forEach((gd) => {
    const w = gd.layout && gd.layout.meta && gd.layout.meta.minWidth;
    const want = w ? w + "px" : "";
    if (gd.style.minWidth !== want) {
      gd.style.minWidth = want;
      window.dispatchEvent(new Event("resize"));
    }
  });
  setInterval(fit, 400);
}
"""
