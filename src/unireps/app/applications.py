"""The research module's Applications tab: interactive stitching (two models, a cut, the random-bottom control),
merging (method, re-basin on/off, interpolation weight) and transfer (map, number of anchors); federated learning
(``unireps.app.federated_tab``); blind matching of real towers (``unireps.app.bridge_tab``); an overview of the
library's precomputed demos (``unireps.stitch``, ``unireps.merge``, ``unireps.transfer``)."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from . import bridges as B  # noqa: E402
from . import compute as C  # noqa: E402
from . import content  # noqa: E402
from .bridge_tab import bridge_section  # noqa: E402
from .federated_tab import federated_section  # noqa: E402
from .ui import Page  # noqa: E402

TAB = ("applications", "Applications")


def applications_tab(page: Page, ch=None) -> gr.Tab:
    with gr.Tab(TAB[1], id=TAB[0]) as tab:
        with gr.Tabs(overflow_behavior="wrap"):
            with gr.Tab("Stitching, merging, transfer", id="interactive"):
                gr.Markdown("Choose the models and settings of each application: the digits classifiers of "
                            "`unireps.zoo.digits` (trained in seconds, cached), computed live by the library.")
                stitching_section(page)
                merging_section(page)
                transfer_section(page)
            if page.config.applications:
                federated_section(page)
            if B.towers_available(page.engine):
                bridge_section(page)
            with gr.Tab("Overview of the demos", id="overview"):
                gr.Markdown("## Overview: the library's demos\nEach table below runs a fixed demo of the library "
                            "(precomputed at startup and cached on disk).")
                btn = gr.Button("Show the live results", variant="primary")
                status = gr.Markdown()
                gr.Markdown("### Stitching at every pair of cuts (MLP seeds 0 and 1)")
                stitch = gr.Dataframe(label="Stitching penalties (test accuracy points)", interactive=False,
                                      headers=["arch", "width", "cut_a", "cut_b", "method", "penalty",
                                               "penalty_random_bottom"])
                zoo = gr.Dataframe(label="Zoo: dual-encoder stitching (retrieval through a linear map)",
                                   interactive=False, headers=["pairing", "method"])
                gr.Markdown("### Interpolation before and after alignment (MLP seeds 0 and 1)")
                merge = gr.Plot(label="Interpolation curves before and after alignment")
                gr.Markdown("### Probe transfer for every map and number of anchors")
                transfer = gr.Plot(label="Probe transfer accuracy")
                gr.Markdown(content.APPLICATIONS["development"])
                dev = gr.Dataframe(label="Distillation and CKA with the teacher", interactive=False,
                                   headers=["student", "layer", "linear_cka", "accuracy", "agreement"])

    @page.guard
    def do_apps(progress=gr.Progress()):  # noqa: B008
        engine = page.engine
        progress(0.05, desc="stitching (cached after the first run)")
        st = C.app_stitching(engine)
        progress(0.3, desc="merging")
        mfig = C.merging_figure(C.app_merging(engine))
        progress(0.5, desc="transfer")
        tfig = C.transfer_figure(C.app_transfer(engine))
        progress(0.8, desc="distillation")
        d = C.app_development(engine)
        z = C.app_zoo_stitching(engine)
        if z is None:
            z = pd.DataFrame({"note": ["Needs two zoo image–text models: build the zoo with `unireps zoo build`."]})
        return ("All four computed on this machine (digits MLPs of `unireps.zoo.digits`, seeds 0 and 1; "
                "zoo models where noted).", st.round(4), z.round(4), mfig, tfig, d.round(4))

    outputs = [status, stitch, zoo, merge, transfer, dev]
    btn.click(do_apps, outputs=outputs, api_name="applications", **page.compute_kw)
    tab.select(do_apps, outputs=outputs, api_name="applications_on_view", **page.compute_kw)
    return tab


SEEDS = [0, 1, 2]


def stitching_section(page: Page) -> None:
    """Two digits models, one cut: the stitching penalty with A's bottom and with a random bottom."""
    gr.Markdown(content.APPLICATIONS["stitching"])
    with gr.Row():
        arch = gr.Radio(list(C.STITCH_ARCHS), value="mlp", label="Architecture (MLP 64-32-32-10 or small CNN)")
        seed_a = gr.Dropdown(SEEDS, value=0, label="Model A: training seed (bottom)")
        seed_b = gr.Dropdown(SEEDS, value=1, label="Model B: training seed (top)")
        cut = gr.Dropdown(list(C.STITCH_ARCHS["cnn"]), value="relu1", label="Cut layer")  # narrowed per arch
        method = gr.Radio(["lstsq", "task"], value="lstsq", label="Stitching layer fitted by")
    btn = gr.Button("Stitch", variant="primary", elem_id="ap-stitch")
    md = gr.Markdown(elem_id="ap-stitch-result")
    table = gr.Dataframe(label="Stitching penalty (test accuracy of B minus that of the stitched model)",
                         interactive=False, headers=["bottom", "acc_b", "acc_stitched", "penalty"])

    @page.guard
    def do_stitch(arch, sa, sb, cut, method):
        df = C.app_stitch_pair(page.engine, arch, sa, sb, cut, method)
        a = df[df.bottom == "A"].iloc[0]
        r = df[df.bottom == "random"].iloc[0]
        md = (f"Model A ({arch}, seed {sa}) up to `{cut}`, a linear layer ({method}), then model B (seed {sb}): "
              f"penalty **{a.penalty:+.3f}** (B alone {a.acc_b:.3f}, stitched {a.acc_stitched:.3f}).  Control "
              f"with a *random* bottom: penalty **{r.penalty:+.3f}**.  A small penalty far below the control's "
              "means the two models represent the digits alike up to a linear map at this layer.")
        cols = [c for c in ("bottom", "cut_a", "cut_b", "method", "acc_a", "acc_b", "acc_stitched", "penalty")
                if c in df]
        return md, df[cols].round(4)

    arch.change(lambda a: gr.update(choices=list(C.STITCH_ARCHS[a]), value=C.STITCH_ARCHS[a][0]), inputs=[arch],
                outputs=[cut], api_name="applications_stitch_cuts", **page.light_kw)
    btn.click(do_stitch, inputs=[arch, seed_a, seed_b, cut, method], outputs=[md, table],
              api_name="applications_stitch", **page.compute_kw)


def merging_section(page: Page) -> None:
    """A merging method, re-basin on or off, and the weight on model B: the accuracy curve and the chosen point."""
    from ..merge import CURVE_METHODS

    gr.Markdown(content.APPLICATIONS["merging"])
    with gr.Row():
        method = gr.Dropdown(list(CURVE_METHODS), value="uniform", label="Merging method")
        rebasin = gr.Checkbox(True, label="Re-basin: permute B's hidden units onto A's first (weight matching)")
        t = gr.Slider(0.0, 1.0, value=0.5, step=0.1, label="Interpolation weight on model B (t)")
    btn = gr.Button("Merge", variant="primary", elem_id="ap-merge")
    md = gr.Markdown(elem_id="ap-merge-result")
    fig = gr.Plot(label="Merged model: test accuracy", elem_id="ap-merge-curve")  # one line on a phone

    @page.guard
    def do_merge(method, rebasin, t):
        rows = {bool(r): C.app_merge_curve(page.engine, method, r) for r in (False, True)}
        chosen = rows[bool(rebasin)]
        at = chosen.iloc[(chosen.t - float(t)).abs().argmin()]
        ends = chosen.accuracy.iloc[[0, -1]].tolist()
        md = (f"`{method}` at t = {at.t:.1f}{' after re-basin' if rebasin else ' (no alignment)'}: test accuracy "
              f"**{at.accuracy:.3f}** (A alone {ends[0]:.3f}, B alone {ends[1]:.3f}; the dip in the middle is the "
              "barrier between the two solutions).")
        return md, merge_curve_figure(rows, method, bool(rebasin), float(at.t))

    btn.click(do_merge, inputs=[method, rebasin, t], outputs=[md, fig], api_name="applications_merge",
              **page.compute_kw)


def transfer_section(page: Page) -> None:
    """A map and a number of anchors: model B's probe used on model A's embeddings through the map."""
    from ..transfer import TRANSFER_METHODS

    gr.Markdown(content.APPLICATIONS["transfer"])
    with gr.Row():
        method = gr.Dropdown(list(TRANSFER_METHODS), value="procrustes", label="Map from A's space to B's")
        n = gr.Slider(5, 500, value=20, step=5, label="Anchors (shared digits used to fit the map)")
    btn = gr.Button("Transfer", variant="primary", elem_id="ap-transfer")
    md = gr.Markdown(elem_id="ap-transfer-result")
    table = gr.Dataframe(label="Accuracy of B's probe on A's test digits (3 draws of anchors) and references",
                         interactive=False, headers=["method", "n_anchors", "repeat", "accuracy"])

    @page.guard
    def do_transfer(method, n):
        df = C.app_transfer_at(page.engine, method, int(n))
        mine = df[df.method == method].accuracy
        ref = df[df.n_anchors == 0].set_index("method").accuracy
        md = (f"`{method}` map fitted on **{int(n)}** anchors: accuracy **{mine.mean():.3f}** (± {mine.std():.3f} "
              f"over {len(mine)} draws of anchors).  References: B's probe on B {ref.get('b_on_b', float('nan')):.3f}, "
              f"without a map {ref.get('no_map', float('nan')):.3f}, chance {ref.get('chance', float('nan')):.3f}.")
        return md, df[["method", "n_anchors", "repeat", "accuracy"]].round(4)

    btn.click(do_transfer, inputs=[method, n], outputs=[md, table], api_name="applications_transfer",
              **page.compute_kw)


def merge_curve_figure(curves: dict, method: str, rebasin: bool, t: float):
    import plotly.graph_objects as go

    from ..viz import style
    from .figures import responsive

    fig = go.Figure()
    for r, df in curves.items():
        fig.add_trace(go.Scatter(x=df.t, y=df.accuracy, mode="lines+markers",
                                 name="after re-basin" if r else "no alignment",
                                 line={"width": 4 if r == rebasin else 2, "dash": "solid" if r else "dot"},
                                 hovertemplate="t = %{x:.1f}: accuracy %{y:.3f}<extra></extra>"))
    fig.add_vline(x=t, line_dash="dash", line_color="#555555")
    fig.update_xaxes(title="weight on model B (t)", range=[-0.02, 1.02])
    fig.update_yaxes(title="test accuracy", range=[0, 1])
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    style(fig, f"{method}: merging two digits MLPs (seeds 0 and 1)", height=400)
    return responsive(fig, 320)
