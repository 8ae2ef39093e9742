"""The post's depth figures and the stitching diagram: similarity of corresponding layers against depth for
several model pairs (Figure 3), layer correspondence with the brain's early-visual and IT stages against depth
(Figure 4), and the stitching diagram with the penalties measured in the run (Figure 5).

Each ``section_*`` returns (tables, figures, numbers) as the sections of :mod:`unireps.report.standard` do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import analysis, viz
from ..viz.figures import PALETTE

SEED_BASE = "cnn16-gru-infonce"
EARLY_VISUAL = "V1"  # the classic V1 model RDM of the 92-object set (Gabor filter bank; Kriegeskorte et al. 2008)


def relative_depth(n: int) -> np.ndarray:
    """Layer positions 0 (first recorded layer) .. 1 (embedding) for ``n`` layers.

    >>> relative_depth(3).tolist()
    [0.0, 0.5, 1.0]
    """
    return np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(n)


def depth_pairs(names: set[str]) -> dict[str, tuple[str, str]]:
    """The model pairs of Figure 3 (all share the CNN image tower), those present in the zoo."""
    a = f"{SEED_BASE}-s0"
    pairs = {"two seeds (same objective)": (a, f"{SEED_BASE}-s1"),
             "InfoNCE vs sigmoid objective": (a, "cnn16-gru-sigmoid-s0"),
             "InfoNCE vs supervised": (a, "cnn16-supervised-s0"),
             "InfoNCE vs autoencoder": (a, "cnn16-autoencoder-s0"),
             "trained vs untrained twin": (a, f"{a}-untrained")}
    return {k: v for k, v in pairs.items() if v[0] in names and v[1] in names}


def section_depth(cfg, ds, names: set[str]):
    """Linear CKA between corresponding image-tower layers against depth, for the pairs of :func:`depth_pairs`."""
    from ..metrics import linear_cka

    reps = {}
    rows = []
    for label, (a, b) in depth_pairs(names).items():
        for m in (a, b):
            if m not in reps:
                reps[m] = analysis.representations(f"zoo:{m}", ds, "image", layers="all", cache_dir=cfg.cache_dir)
        shared = [k for k in reps[a] if k in reps[b] and reps[a][k].shape == reps[b][k].shape]
        for depth, layer in zip(relative_depth(len(shared)), shared):
            rows.append({"pair": label, "model_a": a, "model_b": b, "layer": layer, "depth": float(depth),
                         "linear_cka": float(linear_cka(reps[a][layer], reps[b][layer]))})
    t = pd.DataFrame(rows)
    if t.empty:
        return {}, {}, {}
    numbers = {"depth_n_pairs": int(t.pair.nunique()), "depth_n_layers": int(t.groupby("pair").size().max())}
    for label, key in (("two seeds (same objective)", "seeds"), ("trained vs untrained twin", "untrained")):
        g = t[t.pair == label]
        if len(g):
            numbers[f"depth_{key}_first"] = float(g.linear_cka.iloc[0])
            numbers[f"depth_{key}_last"] = float(g.linear_cka.iloc[-1])
            numbers[f"depth_{key}_min"] = float(g.linear_cka.min())
    fig = viz.layer_curves(t.rename(columns={"linear_cka": "linear CKA"}), x="depth", y="linear CKA", color="pair",
                           title="Similarity of corresponding layers against depth (CNN image towers)")
    fig.update_xaxes(title="relative depth (0 = first layer, 1 = embedding)")
    fig.update_yaxes(range=[0, 1.02])
    return {"depth": t}, {"depth": fig}, numbers


def _legend_name(zoo_name: str) -> str:
    """``clip-s0 (stand-in for CLIP)``: a zoo name with what it stands in for (``unireps.models.model_kind``)."""
    from ..models import model_kind

    try:
        kind = model_kind(f"zoo:{zoo_name}")
    except ValueError:  # not a zoo name
        return zoo_name
    return f"{zoo_name} ({kind.split(',')[0]})" if kind.startswith("stand-in") else zoo_name


def _stand_ins(models) -> str:
    """"; clip-s0 (stand-in for CLIP)" for the stand-ins among ``models`` (empty when there are none)."""
    named = [_legend_name(m) for m in dict.fromkeys(models)]
    named = [n for n in named if "(stand-in" in n]
    return f" ({'; '.join(named)})" if named else ""


def section_brain_depth(cfg, names: set[str], models: tuple[str, ...] = (f"{SEED_BASE}-s0", "clip-s0",
                                                                         f"{SEED_BASE}-s0-untrained")):
    """Spearman correlation of each layer's RDM (correlation distance) with the early-visual (V1 model) RDM and
    with human IT, on the 92 photographs, against relative depth."""
    from ..data import load_dataset
    from ..metrics.rsa import compute_rdm, rsa_rdms

    ds92 = load_dataset("kriegeskorte92")
    targets = {"early visual (V1 model)": ds92.condensed(f"model/{EARLY_VISUAL}"),
               "human IT": ds92.condensed("human_IT")}
    rows = []
    for m in (m for m in models if m in names):
        reps = analysis.representations(f"zoo:{m}", ds92, "image", layers="all", cache_dir=cfg.cache_dir)
        layers = [k for k, v in reps.items() if np.ptp(np.asarray(v), axis=0).max() > 0]  # constant layers: no RDM
        for depth, layer in zip(relative_depth(len(layers)), layers):
            rdm = compute_rdm(reps[layer])
            if not np.all(np.isfinite(rdm)):
                continue
            for target, t_rdm in targets.items():
                rows.append({"model": m, "layer": layer, "depth": float(depth), "target": target,
                             "spearman": float(rsa_rdms(rdm, t_rdm, "spearman"))})
    t = pd.DataFrame(rows)
    if t.empty:
        return {}, {}, {}
    numbers = {}
    main = t[t.model == models[0]]
    for target, key in (("early visual (V1 model)", "v1"), ("human IT", "it")):
        g = main[main.target == target].sort_values("depth")
        if len(g):
            numbers[f"brain_depth_{key}_first"] = float(g.spearman.iloc[0])
            numbers[f"brain_depth_{key}_last"] = float(g.spearman.iloc[-1])
            numbers[f"brain_depth_{key}_peak_depth"] = float(g.depth.iloc[int(np.argmax(g.spearman.to_numpy()))])
    fig = viz.layer_curves(t.assign(series=t.model.map(_legend_name) + " · " + t.target)
                           .rename(columns={"spearman": "Spearman ρ"}),
                           x="depth", y="Spearman ρ", color="series",
                           title=f"Layer RDMs of zoo models trained here on synthetic shapes{_stand_ins(t.model)} vs "
                           "the early-visual (V1 model) and human IT RDMs, 92 photographs")
    order = list(dict.fromkeys(t.model.map(_legend_name)))
    for tr in fig.data:  # IT dashed, early visual solid; one colour per model
        model = tr.name.split(" · ")[0]
        tr.line.color = PALETTE[order.index(model) % len(PALETTE)]
        tr.line.dash = "dash" if tr.name.endswith("human IT") else "solid"
    fig.update_xaxes(title="relative depth (0 = first layer, 1 = embedding)")
    return {"brain_depth": t}, {"brain_depth": fig}, numbers


def stitch_diagram(summary: pd.DataFrame) -> tuple[go.Figure, dict]:
    """A diagram of stitching (A's bottom → affine stitching layer → B's top) annotated with the penalties the run
    measured at the first cut, for the widest network and least-squares stitching, beside the random-bottom control.
    """
    s = summary
    width = int(s.width.max()) if "width" in s else None
    pick = s[(s.width == width)] if width is not None else s
    pick = pick[pick.method == "lstsq"] if (pick.method == "lstsq").any() else pick
    row = pick.iloc[0]
    numbers = {"stitch_diagram_width": width or 0, "stitch_diagram_cut": f"{row.cut_a}→{row.cut_b}",
               "stitch_diagram_method": str(row.method), "stitch_diagram_penalty": float(row.penalty),
               "stitch_diagram_control": float(row.penalty_random_bottom)}
    fig = go.Figure()
    boxes = [(0.0, 0.30, "#1f77b4", f"network A (seed 0)<br>input → {row.cut_a}"),
             (0.38, 0.62, "#7f7f7f", f"stitching layer<br>affine, fitted by {row.method}"),
             (0.70, 1.00, "#d62728", f"network B (seed 1)<br>after {row.cut_b} → 10 digits")]
    for x0, x1, colour, text in boxes:
        fig.add_shape(type="rect", x0=x0, x1=x1, y0=0.45, y1=0.85, line={"color": colour, "width": 2},
                      fillcolor=colour, opacity=0.15)
        fig.add_annotation(x=(x0 + x1) / 2, y=0.65, text=text, showarrow=False, font={"size": 14})
    for x0, x1 in ((0.30, 0.38), (0.62, 0.70)):
        fig.add_annotation(x=x1, y=0.65, ax=x0, ay=0.65, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=3, arrowwidth=2, text="")
    fig.add_annotation(x=0.5, y=0.22, showarrow=False, font={"size": 15},
                       text=(f"measured penalty (B's accuracy − stitched), width {width}: "
                             f"<b>{100 * row.penalty:.1f} points</b> with A's bottom; "
                             f"<b>{100 * row.penalty_random_bottom:.1f} points</b> with a random bottom"))
    fig.update_xaxes(visible=False, range=[-0.02, 1.02])
    fig.update_yaxes(visible=False, range=[0, 1])
    return viz.style(fig, "Model stitching", height=300), numbers
