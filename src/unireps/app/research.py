"""The research module (route ``/unireps-multimodal``): the puzzle, the convergence explorer, cross-model
comparison of your own inputs, the 92-object brain comparison, theory, and applications.  One function per tab;
each builds its components and wires its events on the shared :class:`~unireps.app.ui.Page`."""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from ..metrics import list_metrics  # noqa: E402
from . import compute as C  # noqa: E402
from . import content  # noqa: E402
from .analytics import Analytics  # noqa: E402
from .applications import applications_tab  # noqa: E402
from .engine import MAX_MEASURES, MAX_MODELS, REFERENCE_SETS, Engine, InputError  # noqa: E402
from .figures import LINKED_CLASS, image_html, placeholder  # noqa: E402
from .inputs import load_image, parse_texts  # noqa: E402
from .realpuzzle import real_puzzle_view  # noqa: E402
from .theory import theory_tab  # noqa: E402
from .ui import OPT_IN_LABEL, Page, nav_html, new_page, session_outputs, start_session, track_tabs  # noqa: E402

ROUTE = "/unireps-multimodal"
TABS = [("puzzle", "The puzzle"), ("explorer", "Convergence explorer"), ("cross", "Cross-model comparison"),
        ("brain", "Brain"), ("theory", "Theory"), ("applications", "Applications")]
DEFAULT_MEASURES = ["linear_cka", "mutual_knn"]


@dataclass
class Choices:
    """The research page's menus: every model, the image models, the measures, the default models and set."""

    models: list[str]
    image_models: list[str]
    metrics: list[str]
    default_models: list[str]
    default_set: str

    def default(self, i: int) -> str | None:
        return self.default_models[i] if len(self.default_models) > i else None


def _defaults(engine: Engine) -> tuple[list[str], str]:
    """Default explorer models (the puzzle pair plus, in the zoo, one model of another architecture) and set."""
    try:
        a, b, dskey = C.puzzle_pair(engine)
    except InputError:
        return engine.names("image", twins=False)[:2], "shapes"
    models = [a, b]
    if dskey == "shapes":
        others = [n for n in engine.names("image", twins=False, kinds=("zoo",))
                  if n not in models and "-ckpt" not in n and not n.startswith("zoo:tiny-")]
        models += others[:1]
    return models, dskey


def choices(engine: Engine) -> Choices:
    models, dskey = _defaults(engine)
    return Choices(engine.names(), engine.names("image"), [m.name for m in list_metrics()], models, dskey)


def build_research(engine: Engine, analytics: Analytics | None = None) -> gr.Blocks:
    page = new_page(engine, analytics, ROUTE)
    ch = choices(engine)
    with gr.Blocks(title="unireps — representational convergence (research module)",
                   delete_cache=tuple(engine.config.delete_cache)) as demo:
        page.demo, page.session, page.tabstate = demo, gr.State(None), gr.State(None)
        gr.HTML(nav_html([("../multimodal/", "How one model, CLIP, works (student primer)")],
                         "unireps research module"))
        gr.Markdown(content.RESEARCH_INTRO, latex_delimiters=content.LATEX)
        gr.Markdown(engine.zoo_status(), elem_id="zoo-status")
        page.optin = gr.Checkbox(False, label=OPT_IN_LABEL, elem_id="analytics-optin")
        with gr.Tabs(overflow_behavior="wrap"):
            tabs = [puzzle_tab(page), explorer_tab(page, ch), crossmodel_tab(page, ch), brain_tab(page, ch),
                    theory_tab(page), applications_tab(page, ch)]
        status_panel(page)
        demo.load(start_session(page, TABS[0][1]), outputs=session_outputs(page), api_name="research_session",
                  **page.light_kw)
        track_tabs(page, [(tab, tid, title) for tab, (tid, title) in zip(tabs, TABS)], "research")
    return demo


def puzzle_tab(page: Page) -> gr.Tab:
    """The real pretrained networks on the 92 photographs beside their untrained twins and the shuffled-pairing
    null (precomputed at startup, cached on disk), then the same question on the stand-ins (two seeds vs an
    untrained twin vs raw pixels)."""
    with gr.Tab(TABS[0][1], id=TABS[0][0]) as tab:
        gr.Markdown(content.PUZZLE)
        real_md = gr.Markdown("*Computing the result on the real networks…*", elem_id="puzzle-real")
        real_fig = gr.Plot(label="Linear CKA between the real networks and their untrained twins",
                           elem_classes=["unireps-heat"])
        real_table = gr.Dataframe(label="Every pair: value, 95% CI, shuffled-pairing null, estimator and n",
                                  interactive=False, headers=["model_a", "model_b", "estimator", "n", "value"])
        gr.Markdown(content.PUZZLE_STANDINS)
        md = gr.Markdown("*Computing the live result…*", elem_id="puzzle-result")
        fig = gr.Plot(label="Linear CKA between the stand-ins and baselines", elem_classes=["unireps-heat"])
        table = gr.Dataframe(label="All pairs: value, 95% CI, shuffled-pairing baseline", interactive=False,
                             headers=["model_a", "model_b", "metric", "value"])
        btn = gr.Button("Show the results again", variant="secondary")

    @page.guard
    def do_puzzle():
        return (*real_puzzle_view(page.engine), *C.puzzle_view(page.engine))

    outputs = [real_md, real_fig, real_table, md, fig, table]
    page.demo.load(do_puzzle, outputs=outputs, api_name="puzzle_on_load", **page.compute_kw)
    btn.click(do_puzzle, outputs=outputs, api_name="puzzle", **page.compute_kw)
    return tab


def explorer_tab(page: Page, ch: Choices) -> gr.Tab:
    """Model × model heatmaps with CIs, linked 2-D views, nearest neighbours and the layer × layer map."""
    engine = page.engine
    with gr.Tab(TABS[1][1], id=TABS[1][0]) as tab:
        gr.Markdown(content.EXPLORER_HELP)
        with gr.Row():
            with gr.Column(scale=2, min_width=280):
                models = gr.Dropdown(engine.menu(ch.models), value=ch.default_models, multiselect=True,
                                     max_choices=MAX_MODELS, label=f"Models (choose 2–{MAX_MODELS})",
                                     elem_id="ex-models")
                measures = gr.CheckboxGroup(ch.metrics, value=DEFAULT_MEASURES,
                                            label=f"Measures (up to {MAX_MEASURES})")
            with gr.Column(scale=1, min_width=240):
                dskey = gr.Dropdown(list(REFERENCE_SETS), value=ch.default_set, label="Reference set")
                modality = gr.Radio(["image", "text"], value="image", label="Modality")
                baselines = gr.Checkbox(False, label="Add baselines (untrained twins, raw input)")
                btn = gr.Button("Compare", variant="primary", elem_id="ex-compare")
        status = gr.Markdown()
        with gr.Row():
            heats = [gr.Plot(label=f"Heatmap {i + 1}", visible=i == 0, min_width=300, elem_classes=["unireps-heat"])
                     for i in range(MAX_MEASURES)]
        panels = gr.Plot(label="Linked 2-D views of each model's space", elem_classes=[LINKED_CLASS],
                         elem_id="ex-panels")
        table = gr.Dataframe(label="Pairs: value and 95% CI (method in ci_method)", interactive=False,
                             headers=["model_a", "model_b", "metric", "value", "ci_low", "ci_high"])
        gr.Markdown("### Nearest neighbours of one item in each model")
        with gr.Row():
            items0 = C.item_labels(engine, ch.default_set)
            item = gr.Dropdown(items0, value=items0[0], type="index", label="Item", scale=3)
            k = gr.Slider(1, 20, value=5, step=1, label="Neighbours (k)", scale=1)
            nn_btn = gr.Button("Show neighbours", scale=1)
        nn = gr.Dataframe(label="Nearest neighbours (cosine) per model", interactive=False,
                          headers=["model", "rank", "item", "group", "cosine", "shared by all models"])
        layer_a, layer_b = _layer_map_section(page, ch, dskey, modality)

    @page.guard
    def do_compare(models, dskey, measures, modality, baselines, opted_in, sid):
        res, figs, panels = C.explorer_view(engine, models, dskey, measures, modality, bool(baselines))
        page.track.models(opted_in, sid, models)
        measures = C.check_measures(measures)
        slots = [gr.update(value=figs[i], visible=True) if i < len(figs) else gr.update(value=None, visible=False)
                 for i in range(MAX_MEASURES)]
        cols = [c for c in ("model_a", "model_b", "metric", "value", "ci_low", "ci_high", "ci_method", "shuffled",
                            "n", "n_boot") if c in res["table"]]
        n = len(engine.dataset(dskey))
        status = (f"{len(models)} models on {n} `{dskey}` {modality}s; {', '.join(measures)} with 95% CIs over "
                  f"stimuli: {C.ci_text(res['table'])}.")
        labels = C.item_labels(engine, dskey)
        return [status, *slots, panels, res["table"][cols].round(4), gr.update(choices=labels, value=labels[0])]

    @page.guard
    def do_neighbours(models, dskey, modality, item, k):
        models = C.check_models(engine, models, modality, lo=1)
        df = C.neighbours(engine, models, dskey, modality, item, int(k))
        panels = placeholder("Choose at least two models and press Compare to see the linked views.")
        if len(models) >= 2:
            panels = C.neighbour_panels(engine, models, dskey, modality, int(item))
        return df, panels

    btn.click(do_compare, inputs=[models, dskey, measures, modality, baselines, page.optin, page.session],
              outputs=[status, *heats, panels, table, item], api_name="explorer_compare", **page.compute_kw)
    nn_btn.click(do_neighbours, inputs=[models, dskey, modality, item, k], outputs=[nn, panels],
                 api_name="explorer_neighbours", **page.compute_kw)
    models.change(lambda m, a, b: follow_models(m, a, b, engine), inputs=[models, layer_a, layer_b],
                  outputs=[layer_a, layer_b],
                  api_name="explorer_layer_models", **page.light_kw)
    return tab


def follow_models(models, a: str | None, b: str | None, engine: Engine | None = None):
    """The layer-map menus after the explorer's model choice changed: their choices become the chosen models
    (all models while fewer than two are chosen; labelled by ``engine``), keeping a current value still offered."""
    chosen = [m for m in (models or []) if m]
    if len(chosen) < 2:
        return gr.update(), gr.update()
    a = a if a in chosen else chosen[0]
    b = b if b in chosen and b != a else next((m for m in chosen if m != a), chosen[0])
    menu = engine.menu(chosen) if engine is not None else chosen
    return gr.update(choices=menu, value=a), gr.update(choices=menu, value=b)


def _layer_map_section(page: Page, ch: Choices, dskey, modality):
    """The layer × layer map of two models (the model menus follow the models chosen above)."""
    gr.Markdown("### Layer × layer map")
    with gr.Row():
        a = gr.Dropdown(page.engine.menu(ch.models), value=ch.default(0), label="Model A (rows)", elem_id="ex-la")
        b = gr.Dropdown(page.engine.menu(ch.models), value=ch.default(1), label="Model B (columns)",
                        elem_id="ex-lb")
        metric = gr.Dropdown(ch.metrics, value="linear_cka", label="Measure")
        btn = gr.Button("Layer map")
    fig = gr.Plot(label="Layer × layer similarity", elem_classes=["unireps-heat"])
    note = gr.Markdown()
    table = gr.Dataframe(label="Best-matching layer of B for each layer of A", interactive=False,
                         headers=["metric", "layer_a", "best_layer_b", "value", "is_counterpart"])

    @page.guard
    def do_layers(a, b, dskey, modality, metric, progress=gr.Progress()):  # noqa: B008
        progress(0.05, desc="extracting every layer")
        return C.layer_map(page.engine, a, b, dskey, modality, metric)

    btn.click(do_layers, inputs=[a, b, dskey, modality, metric], outputs=[fig, note, table],
              api_name="explorer_layers", **page.compute_kw)
    return a, b


def crossmodel_tab(page: Page, ch: Choices) -> gr.Tab:
    """The visitor's own image and texts embedded by several models and compared across them."""
    engine, cfg = page.engine, page.config
    with gr.Tab(TABS[2][1], id=TABS[2][0]) as tab:
        gr.Markdown(content.CROSS_HELP)
        with gr.Row():
            with gr.Column(min_width=260):
                file = gr.File(label="Image to compare (PNG, JPEG, GIF, WebP, BMP)", file_types=["image"],
                               type="filepath", elem_id="cm-image")
                preview = gr.HTML(label="Your image, as the models see it", elem_id="cm-preview")
            with gr.Column(min_width=260):
                texts = gr.Textbox(label="Texts (one per line, at most 16)", lines=5,
                                   value="a small red circle\na big blue square", elem_id="cm-texts")
                models = gr.Dropdown(page.engine.menu(ch.models), value=ch.default_models, multiselect=True,
                                     max_choices=MAX_MODELS,
                                     label=f"Models (1–{MAX_MODELS})")
                with gr.Row():
                    dskey = gr.Dropdown(list(REFERENCE_SETS), value=ch.default_set, label="Reference set")
                    metric = gr.Dropdown(ch.metrics, value="linear_cka", label="Measure")
                btn = gr.Button("Compare my inputs", variant="primary", elem_id="cm-compare")
        status = gr.Markdown()
        with gr.Row():
            heat_img = gr.Plot(label="Models compared over the image set", elem_id="cm-heat-image", min_width=300,
                               elem_classes=["unireps-heat"])
            heat_txt = gr.Plot(label="Models compared over the text set", min_width=300, elem_classes=["unireps-heat"])
        var = gr.Plot(label="Variance across models")
        sims = gr.Dataframe(label="Image–text cosine similarity per model", interactive=False,
                            headers=["model", "text", "cosine(image, text)"])
        emb = gr.Dataframe(label="Embeddings (dimension and first values)", interactive=False,
                           headers=["model", "item", "dim", "first values"])

    @page.guard
    def do_cross(file, texts, models, dskey, metric, opted_in, sid, progress=gr.Progress()):  # noqa: B008
        image = load_image(file, cfg.max_image_pixels)
        texts = parse_texts(texts, cfg.max_texts, cfg.max_text_chars)
        if image is None and not texts:
            raise InputError("upload an image or type at least one text (one per line)")
        if image is not None:
            page.track.upload(opted_in, sid, "image")
        if texts:
            page.track.upload(opted_in, sid, "texts")
        page.track.models(opted_in, sid, models or [])
        progress(0.1, desc="embedding your items and the reference set")
        res = C.cross_model(engine, image, texts, models, dskey, metric)
        hi, ht, vfig = C.cross_model_figures(res, metric)
        status = (f"{'1 image' if image is not None else 'no image'} and {len(texts)} text(s) compared with "
                  f"{res['n_reference']} `{dskey}` reference items in {len(models)} model(s).")
        shown = (image_html(res["image"], f"your image, resized to the {dskey} reference size")
                 if res["image"] is not None else "<p>No image uploaded.</p>")
        return status, shown, hi, ht, vfig, res["similarities"], res["embeddings"]

    btn.click(do_cross, inputs=[file, texts, models, dskey, metric, page.optin, page.session],
              outputs=[status, preview, heat_img, heat_txt, var, sims, emb], api_name="crossmodel_compare",
              **page.compute_kw)
    return tab


def brain_tab(page: Page, ch: Choices) -> gr.Tab:
    """RSA of every layer of one model with human and monkey IT (92 objects), with the noise ceiling."""
    with gr.Tab(TABS[3][1], id=TABS[3][0]) as tab:
        gr.Markdown(content.BRAIN)
        with gr.Row():
            model = gr.Dropdown(page.engine.menu(ch.image_models), value=ch.default(0), label="Model (image tower)")
            btn = gr.Button("Compare with the brain", variant="primary")
        md = gr.Markdown()
        with gr.Row():
            human = gr.Plot(label="RSA with human IT", min_width=300)
            monkey = gr.Plot(label="RSA with monkey IT", min_width=300)
        table = gr.Dataframe(label="All scores", interactive=False,
                             headers=["model", "layer", "kind", "target", "value", "ci_low", "ci_high"])

    @page.guard
    def do_brain(model, progress=gr.Progress()):  # noqa: B008
        from ..viz import brain_plot

        res = C.brain(page.engine, model, progress)
        t = res["table"]
        return C.brain_summary(res), brain_plot(t, "human_IT"), brain_plot(t, "monkey_IT"), t.round(4)

    btn.click(do_brain, inputs=[model], outputs=[md, human, monkey, table], api_name="brain_rsa", **page.compute_kw)
    return tab


def status_panel(page: Page) -> None:
    """The background precomputation's progress (an accordion under the tabs)."""
    with gr.Accordion("Server status", open=False):
        btn = gr.Button("Refresh status")
        table = gr.Dataframe(label="Background precomputation", interactive=False,
                             headers=["task", "state", "seconds", "message"])
    btn.click(page.engine.task_table, outputs=[table], api_name="research_status", **page.light_kw)
