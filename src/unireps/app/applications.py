"""The research module's Applications tab: model stitching, merging, transfer and distillation, each a live
computation with the library's demos (``unireps.stitch``, ``unireps.merge``, ``unireps.transfer``)."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from . import compute as C  # noqa: E402
from . import content  # noqa: E402
from .ui import Page  # noqa: E402

TAB = ("applications", "Applications")


def applications_tab(page: Page, ch=None) -> gr.Tab:
    with gr.Tab(TAB[1], id=TAB[0]) as tab:
        gr.Markdown("Each section runs a small live computation with the library's demos "
                    "(precomputed at startup and cached on disk).")
        btn = gr.Button("Show the live results", variant="primary")
        status = gr.Markdown()
        gr.Markdown(content.APPLICATIONS["stitching"])
        stitch = gr.Dataframe(label="Stitching penalties (test accuracy points)", interactive=False,
                              headers=["arch", "width", "cut_a", "cut_b", "method", "penalty", "penalty_random_bottom"])
        zoo = gr.Dataframe(label="Zoo: dual-encoder stitching (retrieval through a linear map)", interactive=False,
                           headers=["pairing", "method"])
        gr.Markdown(content.APPLICATIONS["merging"])
        merge = gr.Plot(label="Interpolation curves before and after alignment")
        gr.Markdown(content.APPLICATIONS["transfer"])
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
        return ("All four computed on this machine (digits MLPs of `unireps.stitch.toy`, seeds 0 and 1; "
                "zoo models where noted).", st.round(4), z.round(4), mfig, tfig, d.round(4))

    outputs = [status, stitch, zoo, merge, transfer, dev]
    btn.click(do_apps, outputs=outputs, api_name="applications", **page.compute_kw)
    tab.select(do_apps, outputs=outputs, api_name="applications_on_view", **page.compute_kw)
    return tab
