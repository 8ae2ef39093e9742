"""The research module's Theory tab: why, when, neuroscience parallels and the mathematical framework, each with
a live measurement (one function per sub-tab)."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from . import compute as C  # noqa: E402
from . import content  # noqa: E402
from .ui import Page  # noqa: E402

TAB = ("theory", "Theory")


def theory_tab(page: Page) -> gr.Tab:
    """Four sub-tabs; their three live tables are computed together when the tab is first viewed."""
    with gr.Tab(TAB[1], id=TAB[0]) as tab:
        with gr.Tabs(overflow_behavior="wrap"):
            why_subtab()
            when = when_subtab(page)
            neuro = neuro_subtab(page)
            math = math_subtab(page)

    @page.guard
    def do_theory():  # the three live theory tables at once (no nested guard: one compute slot)
        return C.convergence_by_layer(page.engine), neuro_md(), C.invariance_demo()

    tab.select(do_theory, outputs=[when, neuro, math], api_name="theory_on_view", **page.compute_kw)
    return tab


def why_subtab() -> None:
    with gr.Tab("Why convergence happens"):
        gr.Markdown(content.THEORY_WHY, latex_delimiters=content.LATEX)


def when_subtab(page: Page):
    with gr.Tab("When it occurs"):
        gr.Markdown(content.THEORY_WHEN, latex_delimiters=content.LATEX)
        btn = gr.Button("Measure layer by layer now")
        table = gr.Dataframe(label="Linear CKA per layer, toy digits MLPs (measured live)", interactive=False,
                             headers=["layer", "trained seed 0 vs trained seed 1"])
    btn.click(page.guard(lambda: C.convergence_by_layer(page.engine)), outputs=[table], api_name="theory_when",
              **page.compute_kw)
    return table


def neuro_md() -> str:
    lo, hi = C.noise_ceiling_live()
    return (f"**Measured now** from the four human subjects' IT RDMs (Kriegeskorte et al. 2008 data; each "
            f"subject = mean of two sessions): noise ceiling lower bound **{lo:.3f}**, upper bound "
            f"**{hi:.3f}** (Spearman ρ on rank-pooled RDMs, leave one subject out for the lower bound: "
            "Nili et al. 2014, computed as rsatoolbox's boot_noise_ceiling).")


def neuro_subtab(page: Page):
    with gr.Tab("Neuroscience parallels"):
        gr.Markdown(content.THEORY_NEURO, latex_delimiters=content.LATEX)
        btn = gr.Button("Measure the noise ceiling now")
        md = gr.Markdown()
    btn.click(page.guard(neuro_md), outputs=[md], api_name="theory_noise_ceiling", **page.compute_kw)
    return md


def math_subtab(page: Page):
    with gr.Tab("The mathematical framework"):
        gr.Markdown(content.THEORY_MATH, latex_delimiters=content.LATEX, elem_id="theory-math")
        btn = gr.Button("Measure the invariances now")
        table = gr.Dataframe(label="Each measure between X and a transformed X (measured live)", interactive=False,
                             headers=["Y", "linear_cka", "rsa", "cca"])
    btn.click(page.guard(lambda: C.invariance_demo()), outputs=[table], api_name="theory_invariances",
              **page.compute_kw)
    return table
