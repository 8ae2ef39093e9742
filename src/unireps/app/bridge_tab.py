"""The Applications › Blind matching tab: how many captions of held-out photographs a real image tower and a real
text tower match from their similarity structures alone, against the number of known seed pairs (issue 23).  The
numbers are :mod:`unireps.app.bridges`' (the library's study, cached per tower); the page chooses what to show."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from . import bridges as B  # noqa: E402

INTRO = """### Blind matching: joining two real towers without training
Take an ImageNet-trained image network (EfficientNet-Lite) and a sentence encoder that never saw an image
(all-MiniLM-L6-v2).  If they represent the world alike, the captions of a set of photos can be matched to the photos
from the two similarity structures alone: the permutation P maximising tr(K<sub>img</sub> P K<sub>txt</sub> Pᵀ),
solved by the Fast Approximate QAP algorithm (Vogelstein et al. 2015) as in Maniparambil et al. (CVPR 2024).
A few known **seed pairs** anchor the match.  Scored on the 31 held-out photos of each of 10 category-stratified
splits of the 92 captioned photographs (Kriegeskorte et al. 2008), beside **chance** (1 / photos left to match),
the same seeds with **shuffled captions**, and the **untrained twin** (same architecture, random weights).  Computed
by `unireps.transfer` on first use of a tower (8–25 s on 2 busy cores when its activations are cached, a minute
or two when not), then read from the cache; real networks, not CLIP and no stand-in."""


def bridge_section(page) -> None:
    """The tab's components and events (``/applications_blind``, ``/applications_blind_on_view``)."""
    import gradio as gr

    engine = page.engine
    with gr.Tab("Blind matching (real towers)", id="blind") as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            tower = gr.Radio(list(B.TOWERS), value="lite0", label="Image tower: EfficientNet-Lite0, 1 or 2")
            state = gr.Radio(list(B.STATES), value=B.STATES[0], label="Weights (ImageNet, or the untrained twin)")
            seeds = gr.Slider(B.SEED_PAIRS[0], B.SEED_PAIRS[-1], value=10, step=1, label="Known seed pairs",
                              elem_id="bl-seeds")
        btn = gr.Button("Match", variant="primary", elem_id="bl-match")
        md = gr.Markdown(elem_id="bl-result")
        blind = gr.Plot(label="Blind-matching accuracy vs seed pairs", elem_id="bl-curve")
        anchors = gr.Plot(label="Linear bridge: retrieval vs anchors", elem_id="bl-anchors")
        table = gr.Dataframe(label="At the chosen number of seed pairs (mean and SD over splits)", interactive=False,
                             headers=["tower", "seed pairs", "accuracy (mean)", "SD over splits", "chance",
                                      "n_items", "n_splits"])

    @page.guard
    def do_view(tower, state, k):
        return B.blind_view(engine, tower, state, k)

    inputs, outputs = [tower, state, seeds], [md, blind, anchors, table]
    btn.click(do_view, inputs=inputs, outputs=outputs, api_name="applications_blind", **page.compute_kw)
    seeds.release(do_view, inputs=inputs, outputs=outputs, api_name="applications_blind_seeds", **page.compute_kw)
    tab.select(do_view, inputs=inputs, outputs=outputs, api_name="applications_blind_on_view", **page.compute_kw)
