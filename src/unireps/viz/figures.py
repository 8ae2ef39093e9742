"""Plotly figures in one consistent style, for notebooks, the report and the app.  Figures take the tidy
tables of ``unireps.analysis`` (or plain arrays) and know nothing of models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

FONT = "Inter, Helvetica, Arial, sans-serif"
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f"]
SEQUENTIAL = "Viridis"


def style(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    fig.update_layout(template="plotly_white", font={"family": FONT, "size": 13}, title=title,
                      margin={"l": 60, "r": 20, "t": 60 if title else 20, "b": 50}, colorway=PALETTE,
                      height=height)
    return fig


def similarity_heatmap(matrix: pd.DataFrame, title: str = "Similarity", zmin: float = 0.0, zmax: float = 1.0,
                       ci: pd.DataFrame | None = None) -> go.Figure:
    """Model × model heatmap with the value (and CI when given, as text 'lo–hi') in each cell."""
    z = matrix.to_numpy(dtype=float)
    text = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(z)
    if ci is not None:
        text = np.array([[f"{t}<br><sub>{c}</sub>" if c else t for t, c in zip(tr, cr)]
                         for tr, cr in zip(text, ci.reindex_like(matrix).fillna("").to_numpy())])
    fig = go.Figure(go.Heatmap(z=z, x=list(matrix.columns), y=list(matrix.index), zmin=zmin, zmax=zmax,
                               colorscale=SEQUENTIAL, text=text, texttemplate="%{text}",
                               textfont={"size": 13 if len(matrix) <= 8 else 11},
                               hovertemplate="%{y} vs %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height=max(350, 60 * len(matrix) + 150))


def ci_strings(table: pd.DataFrame, metric: str, labels: list[str]) -> pd.DataFrame:
    """Square DataFrame of 'lo–hi' CI strings from a compare_models table (symmetric fill)."""
    pos = {lab: i for i, lab in enumerate(labels)}
    cells = [[""] * len(labels) for _ in labels]
    if "ci_low" in table:  # plain column lists: pandas' string-index filtering cost ~10 ms per call in the app
        cols = [table[c].tolist() for c in ("metric", "model_a", "model_b", "ci_low", "ci_high")]
        for m, a, b, lo, hi in zip(*cols):
            if m == metric and a in pos and b in pos and not pd.isna(lo):
                cells[pos[a]][pos[b]] = cells[pos[b]][pos[a]] = f"{lo:.2f}–{hi:.2f}"
    return pd.DataFrame(cells, index=labels, columns=labels)


def layer_map(M: pd.DataFrame, title: str = "Layer × layer similarity", xlabel: str = "model B",
              ylabel: str = "model A") -> go.Figure:
    fig = go.Figure(go.Heatmap(z=M.to_numpy(float), x=list(M.columns), y=list(M.index), zmin=0, zmax=1,
                               colorscale=SEQUENTIAL, hovertemplate="%{y} vs %{x}: %{z:.3f}<extra></extra>"))
    fig.update_xaxes(title=xlabel)
    fig.update_yaxes(title=ylabel, autorange="reversed")
    return style(fig, title, height=450)


def layer_curves(df: pd.DataFrame, x: str, y: str = "value", color: str = "metric", title: str = "") -> go.Figure:
    fig = go.Figure()
    for i, (key, g) in enumerate(df.groupby(color, sort=False)):
        fig.add_trace(go.Scatter(x=g[x], y=g[y], mode="lines+markers", name=str(key),
                                 line={"color": PALETTE[i % len(PALETTE)]}))
    fig.update_yaxes(title=y)
    fig.update_xaxes(title=x)
    return style(fig, title, height=420)


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def brain_layer_curves(profiles: pd.DataFrame, target: str, ceiling: tuple[float, float] | None = None,
                       title: str | None = None, ylabel: str = "Spearman ρ") -> go.Figure:
    """Per-layer RSA with one brain target against relative depth: one line per model, its untrained twin dashed
    in the same colour, the bootstrap CI as a band, the noise ceiling as a grey band.

    ``profiles``: a tidy table with columns model, depth (0 = first layer, 1 = last), target, value and optionally
    ci_low / ci_high and state ("trained" / "untrained"; else a model name ending in "-untrained" is a twin), e.g.
    ``unireps.analysis.realnets.brain_profiles``.  ``ceiling``: (lower, upper) or None (no band).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"model": ["a", "a", "a-untrained", "a-untrained"], "depth": [0.0, 1.0, 0.0, 1.0],
    ...                   "target": "IT", "value": [0.1, 0.3, 0.05, 0.04]})
    >>> fig = brain_layer_curves(t, "IT", ceiling=(0.35, 0.6))
    >>> tuple(tr.name for tr in fig.data), fig.data[1].line.dash
    (('a', 'a-untrained'), 'dash')
    """
    t = profiles[profiles.target == target]
    if t.empty:
        raise ValueError(f"no rows for target {target!r}; the table has targets {sorted(set(profiles.target))}")
    fig = go.Figure()
    if ceiling is not None and all(np.isfinite(ceiling)):
        fig.add_hrect(y0=ceiling[0], y1=ceiling[1], fillcolor="grey", opacity=0.2, line_width=0,
                      annotation_text="noise ceiling", annotation_position="top left")
    twin = (t.state == "untrained") if "state" in t else t.model.str.endswith("-untrained")
    bases = list(dict.fromkeys(t.model.str.removesuffix("-untrained")))
    for model, g in t.groupby("model", sort=False):
        g = g.sort_values("depth")
        colour = PALETTE[bases.index(str(model).removesuffix("-untrained")) % len(PALETTE)]
        dashed = bool(twin[g.index].all())
        if {"ci_low", "ci_high"} <= set(g.columns) and g.ci_low.notna().all():
            fig.add_trace(go.Scatter(x=np.r_[g.depth, g.depth[::-1]], y=np.r_[g.ci_high, g.ci_low[::-1]],
                                     fill="toself", fillcolor=_rgba(colour, 0.12 if dashed else 0.2),
                                     line={"width": 0}, hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=g.depth, y=g.value, mode="lines+markers", name=str(model),
                                 text=g["layer"] if "layer" in g else None,
                                 line={"color": colour, "dash": "dash" if dashed else "solid"}))
    fig.update_xaxes(title="relative depth (0 = first layer, 1 = last)")
    fig.update_yaxes(title=ylabel)
    return style(fig, title or f"RSA with {target} by layer", height=450)


def sweep_plot(df: pd.DataFrame, x: str, y: str = "value", color: str = "metric", err: str | None = "std",
               title: str = "") -> go.Figure:
    """Similarity vs a swept variable (width, step, depth...), one line per ``color`` with error bars."""
    fig = go.Figure()
    for i, (key, g) in enumerate(df.groupby(color, sort=False)):
        e = g[err] if err and err in g and g[err].notna().any() else None
        fig.add_trace(go.Scatter(x=g[x], y=g[y], mode="lines+markers", name=str(key),
                                 error_y={"type": "data", "array": e} if e is not None else None,
                                 line={"color": PALETTE[i % len(PALETTE)]}))
    fig.update_xaxes(title=x)
    fig.update_yaxes(title="similarity" if y == "value" else y)
    return style(fig, title, height=420)


def brain_plot(table: pd.DataFrame, target: str = "human_IT", title: str | None = None) -> go.Figure:
    """Per-layer RSA with a brain RDM, with bootstrap CIs, reference rows and (human IT) the noise ceiling band."""
    t = table[table.target == target]
    value = "mean_over_subjects" if target == "human_IT" and "mean_over_subjects" in t else "value"
    fig = go.Figure()
    for i, (kind, g) in enumerate(t.groupby("kind", sort=False)):
        label = g["layer"] if kind == "reference" else g["model"] + " · " + g["layer"]
        has_ci = value == "value" and "ci_low" in g
        fig.add_trace(go.Bar(x=label, y=g[value], name=kind, marker_color=PALETTE[i],
                             error_y={"type": "data", "symmetric": False, "array": g["ci_high"] - g[value],
                                      "arrayminus": g[value] - g["ci_low"]} if has_ci else None))
    if target == "human_IT" and "ceiling_lower" in t and len(t):
        lo, hi = float(t.ceiling_lower.iloc[0]), float(t.ceiling_upper.iloc[0])
        fig.add_hrect(y0=lo, y1=hi, fillcolor="grey", opacity=0.2, line_width=0,
                      annotation_text="noise ceiling", annotation_position="top left")
    fig.update_yaxes(title="Spearman ρ" + (" (mean over 4 subjects)" if value == "mean_over_subjects" else ""))
    return style(fig, title or f"RSA with {target.replace('_', ' ')}", height=450)


def embedding_panels(coords: dict[str, np.ndarray], labels: list[str], groups: list[str] | None = None,
                     title: str = "Embedding spaces side by side") -> go.Figure:
    """One scatter panel per model, same stimuli, same colours per group; every point carries its stimulus index
    as ``customdata`` so that a page script (the app's) can light up the same stimulus in all panels."""
    names = list(coords)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.04)
    groups = groups or ["all"] * len(labels)
    uniq = list(dict.fromkeys(groups))
    for c, name in enumerate(names, start=1):
        xy = np.asarray(coords[name])
        for gi, g in enumerate(uniq):
            idx = [i for i, v in enumerate(groups) if v == g]
            fig.add_trace(go.Scatter(x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=str(g), legendgroup=str(g),
                                     showlegend=c == 1, customdata=np.array(idx), text=[labels[i] for i in idx],
                                     marker={"color": PALETTE[gi % len(PALETTE)], "size": 7, "opacity": 0.8},
                                     hovertemplate="%{text}<extra>" + name + "</extra>"), row=1, col=c)
        fig.update_xaxes(showticklabels=False, row=1, col=c)
        fig.update_yaxes(showticklabels=False, row=1, col=c)
    fig.update_layout(dragmode="lasso", clickmode="event+select")
    return style(fig, title, height=420)


def pca_2d(X: np.ndarray) -> np.ndarray:
    """First two principal components (centred), sign fixed so the largest loading is positive."""
    Xc = np.asarray(X, float) - np.mean(X, axis=0)
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    signs = np.sign(Vt[:2][np.arange(2), np.abs(Vt[:2]).argmax(1)])
    return U[:, :2] * s[:2] * signs


def procrustes_align_2d(coords: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rotate every 2-D layout onto the first (orthogonal Procrustes), so side-by-side panels are comparable."""
    names = list(coords)
    if not names:
        raise ValueError("procrustes_align_2d needs at least one 2-D layout, got none")
    ref = coords[names[0]] - coords[names[0]].mean(0)
    out = {names[0]: ref}
    for n in names[1:]:
        c = coords[n] - coords[n].mean(0)
        U, _, Vt = np.linalg.svd(c.T @ ref)
        out[n] = c @ (U @ Vt) * (np.linalg.norm(ref) / max(np.linalg.norm(c), 1e-12))
    return out


def lmc_plot(df: pd.DataFrame, y: str = "loss", title: str = "Linear mode connectivity") -> go.Figure:
    """Interpolation curves: columns t, y, and a 'curve' label (e.g. 'naive w=64', 'aligned w=64')."""
    fig = go.Figure()
    for i, (key, g) in enumerate(df.groupby("curve", sort=False)):
        fig.add_trace(go.Scatter(x=g["t"], y=g[y], mode="lines+markers", name=str(key),
                                 line={"color": PALETTE[i % len(PALETTE)],
                                       "dash": "dash" if "naive" in str(key) else "solid"}))
    fig.update_xaxes(title="interpolation t (0 = model A, 1 = model B)")
    fig.update_yaxes(title=y)
    return style(fig, title, height=420)


def bar_plot(df: pd.DataFrame, x: str, y: str, color: str | None = None, title: str = "",
             yrange: tuple[float, float] | None = None) -> go.Figure:
    fig = go.Figure()
    groups = df.groupby(color, sort=False) if color else [("", df)]
    for i, (key, g) in enumerate(groups):
        fig.add_trace(go.Bar(x=g[x], y=g[y], name=str(key), marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="group")
    if yrange:
        fig.update_yaxes(range=list(yrange))
    fig.update_yaxes(title=y)
    return style(fig, title, height=420)


PLOTLYJS = "plotly.min.js"


def write_plotlyjs(folder) -> Path:
    """Write plotly.js once into ``folder`` (for figures saved with ``plotlyjs=PLOTLYJS``), atomically.

    >>> import tempfile; p = write_plotlyjs(tempfile.mkdtemp()); p.name, p.stat().st_size > 1_000_000
    ('plotly.min.js', True)
    """
    from plotly.offline import get_plotlyjs

    from ..io import atomic_write_text

    return atomic_write_text(Path(folder) / PLOTLYJS, get_plotlyjs())


def save(fig: go.Figure, html_path=None, png_path=None, plotlyjs: bool | str = True) -> None:
    """Write HTML and, when kaleido can run, a PNG.  ``plotlyjs=True`` inlines plotly.js (self-contained, ~4.8 MB a
    file); a relative path such as ``"plotly.min.js"`` loads it from beside the file (see :func:`write_plotlyjs`),
    so a figure holds its data only.  Both work offline."""
    from ..io import atomic_write_text

    if html_path is not None:
        if isinstance(plotlyjs, str) and not plotlyjs.endswith(".js"):
            raise ValueError(f"plotlyjs={plotlyjs!r}: give True (inline) or a relative path ending in .js")
        atomic_write_text(html_path, fig.to_html(include_plotlyjs=plotlyjs, full_html=True))
    if png_path is not None:
        from .png import write_png

        write_png(fig, png_path)
