"""The research module (route ``/unireps-multimodal``): the puzzle, the convergence explorer, cross-model
comparison of your own inputs, the 92-object brain comparison, theory, and applications."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402

from ..metrics import list_metrics  # noqa: E402
from . import compute as C  # noqa: E402
from . import content  # noqa: E402
from .analytics import Analytics  # noqa: E402
from .engine import MAX_MEASURES, MAX_MODELS, REFERENCE_SETS, Engine, InputError  # noqa: E402
from .figures import LINKED_CLASS, image_html, placeholder  # noqa: E402
from .inputs import load_image, parse_texts  # noqa: E402
from .ui import OPT_IN_LABEL, Tracker, event_options, make_guard, nav_html, start_session  # noqa: E402

ROUTE = "/unireps-multimodal"
TABS = [("puzzle", "The puzzle"), ("explorer", "Convergence explorer"), ("cross", "Cross-model comparison"),
        ("brain", "Brain"), ("theory", "Theory"), ("applications", "Applications")]
DEFAULT_MEASURES = ["linear_cka", "mutual_knn"]


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


def build_research(engine: Engine, analytics: Analytics | None = None) -> gr.Blocks:
    analytics = analytics or Analytics(engine.config.analytics_db)
    track = Tracker(analytics, ROUTE)
    guard = make_guard(engine.slots)
    cfg = engine.config
    compute_kw, light_kw = event_options(cfg)
    all_models = engine.names()
    image_models = engine.names("image")
    default_models, default_ds = _defaults(engine)
    metric_names = [m.name for m in list_metrics()]

    with gr.Blocks(title="unireps — representational convergence (research module)",
                   delete_cache=tuple(cfg.delete_cache)) as demo:
        session = gr.State(None)
        tabstate = gr.State(None)
        gr.HTML(nav_html([("../multimodal/", "How one model, CLIP, works (student primer)")],
                         "unireps research module"))
        gr.Markdown(content.RESEARCH_INTRO, latex_delimiters=content.LATEX)
        zoo_md = gr.Markdown(engine.zoo_status(), elem_id="zoo-status")
        optin = gr.Checkbox(False, label=OPT_IN_LABEL, elem_id="analytics-optin")

        with gr.Tabs() as tabs:
            # ---------------------------------------------------------------- 1. puzzle
            with gr.Tab(TABS[0][1], id=TABS[0][0]) as tab_puzzle:
                gr.Markdown(content.PUZZLE)
                puzzle_md = gr.Markdown("*Computing the live result…*", elem_id="puzzle-result")
                puzzle_fig = gr.Plot(label="Linear CKA between the models and baselines")
                puzzle_table = gr.Dataframe(label="All pairs: value, 95% CI, shuffled-pairing baseline",
                                            interactive=False, headers=["model_a", "model_b", "metric", "value"])
                puzzle_btn = gr.Button("Show the live result again", variant="secondary")

            # ---------------------------------------------------------------- 2. explorer
            with gr.Tab(TABS[1][1], id=TABS[1][0]) as tab_explorer:
                gr.Markdown(content.EXPLORER_HELP)
                with gr.Row():
                    with gr.Column(scale=2, min_width=280):
                        ex_models = gr.Dropdown(all_models, value=default_models, multiselect=True,
                                                max_choices=MAX_MODELS, label=f"Models (choose 2–{MAX_MODELS})",
                                                elem_id="ex-models")
                        ex_measures = gr.CheckboxGroup(metric_names, value=DEFAULT_MEASURES,
                                                       label=f"Measures (up to {MAX_MEASURES})")
                    with gr.Column(scale=1, min_width=240):
                        ex_ds = gr.Dropdown(list(REFERENCE_SETS), value=default_ds, label="Reference set")
                        ex_mod = gr.Radio(["image", "text"], value="image", label="Modality")
                        ex_base = gr.Checkbox(False, label="Add baselines (untrained twins, raw input)")
                        ex_btn = gr.Button("Compare", variant="primary", elem_id="ex-compare")
                ex_status = gr.Markdown()
                with gr.Row():
                    ex_h = [gr.Plot(label=f"Heatmap {i + 1}", visible=i == 0, min_width=300)
                            for i in range(MAX_MEASURES)]
                ex_panels = gr.Plot(label="Linked 2-D views of each model's space", elem_classes=[LINKED_CLASS],
                                    elem_id="ex-panels")
                ex_table = gr.Dataframe(label="Pairs: value and 95% bootstrap CI", interactive=False,
                                        headers=["model_a", "model_b", "metric", "value", "ci_low", "ci_high"])
                gr.Markdown("### Nearest neighbours of one item in each model")
                with gr.Row():
                    items0 = C.item_labels(engine, default_ds)
                    ex_item = gr.Dropdown(items0, value=items0[0], type="index",
                                          label="Item", scale=3)
                    ex_k = gr.Slider(1, 20, value=5, step=1, label="Neighbours (k)", scale=1)
                    ex_nn_btn = gr.Button("Show neighbours", scale=1)
                ex_nn = gr.Dataframe(label="Nearest neighbours (cosine) per model", interactive=False,
                                     headers=["model", "rank", "item", "group", "cosine", "shared by all models"])
                gr.Markdown("### Layer × layer map")
                with gr.Row():
                    ex_la = gr.Dropdown(all_models, value=default_models[0] if default_models else None,
                                        label="Model A (rows)")
                    ex_lb = gr.Dropdown(all_models, value=default_models[1] if len(default_models) > 1 else None,
                                        label="Model B (columns)")
                    ex_lm = gr.Dropdown(metric_names, value="linear_cka", label="Measure")
                    ex_l_btn = gr.Button("Layer map")
                ex_lfig = gr.Plot(label="Layer × layer similarity")
                ex_lnote = gr.Markdown()
                ex_ltable = gr.Dataframe(label="Best-matching layer of B for each layer of A", interactive=False,
                                         headers=["metric", "layer_a", "best_layer_b", "value", "is_counterpart"])

            # ---------------------------------------------------------------- 3. cross-model
            with gr.Tab(TABS[2][1], id=TABS[2][0]) as tab_cross:
                gr.Markdown(content.CROSS_HELP)
                with gr.Row():
                    with gr.Column(min_width=260):
                        cm_file = gr.File(label="Image to compare (PNG, JPEG, GIF, WebP, BMP)", file_types=["image"],
                                          type="filepath", elem_id="cm-image")
                        cm_preview = gr.HTML(label="Your image, as the models see it", elem_id="cm-preview")
                    with gr.Column(min_width=260):
                        cm_texts = gr.Textbox(label="Texts (one per line, at most 16)", lines=5,
                                              value="a small red circle\na big blue square", elem_id="cm-texts")
                        cm_models = gr.Dropdown(all_models, value=default_models, multiselect=True,
                                                max_choices=MAX_MODELS, label=f"Models (1–{MAX_MODELS})")
                        with gr.Row():
                            cm_ds = gr.Dropdown(list(REFERENCE_SETS), value=default_ds, label="Reference set")
                            cm_metric = gr.Dropdown(metric_names, value="linear_cka", label="Measure")
                        cm_btn = gr.Button("Compare my inputs", variant="primary", elem_id="cm-compare")
                cm_status = gr.Markdown()
                with gr.Row():
                    cm_heat_img = gr.Plot(label="Models compared over the image set", elem_id="cm-heat-image",
                                          min_width=300)
                    cm_heat_txt = gr.Plot(label="Models compared over the text set", min_width=300)
                cm_var = gr.Plot(label="Variance across models")
                cm_sims = gr.Dataframe(label="Image–text cosine similarity per model", interactive=False,
                                       headers=["model", "text", "cosine(image, text)"])
                cm_emb = gr.Dataframe(label="Embeddings (dimension and first values)", interactive=False,
                                      headers=["model", "item", "dim", "first values"])

            # ---------------------------------------------------------------- 4. brain
            with gr.Tab(TABS[3][1], id=TABS[3][0]) as tab_brain:
                gr.Markdown(content.BRAIN)
                with gr.Row():
                    br_model = gr.Dropdown(image_models, value=default_models[0] if default_models else None,
                                           label="Model (image tower)")
                    br_btn = gr.Button("Compare with the brain", variant="primary")
                br_md = gr.Markdown()
                with gr.Row():
                    br_human = gr.Plot(label="RSA with human IT", min_width=300)
                    br_monkey = gr.Plot(label="RSA with monkey IT", min_width=300)
                br_table = gr.Dataframe(label="All scores", interactive=False,
                                        headers=["model", "layer", "kind", "target", "value", "ci_low", "ci_high"])

            # ---------------------------------------------------------------- 5. theory
            with gr.Tab(TABS[4][1], id=TABS[4][0]) as tab_theory:
                with gr.Tabs():
                    with gr.Tab("Why convergence happens"):
                        gr.Markdown(content.THEORY_WHY, latex_delimiters=content.LATEX)
                    with gr.Tab("When it occurs"):
                        gr.Markdown(content.THEORY_WHEN, latex_delimiters=content.LATEX)
                        th_when_btn = gr.Button("Measure layer by layer now")
                        th_when = gr.Dataframe(label="Linear CKA per layer, toy digits MLPs (measured live)",
                                               interactive=False, headers=["layer", "trained seed 0 vs trained seed 1"])
                    with gr.Tab("Neuroscience parallels"):
                        gr.Markdown(content.THEORY_NEURO, latex_delimiters=content.LATEX)
                        th_neuro_btn = gr.Button("Measure the noise ceiling now")
                        th_neuro = gr.Markdown()
                    with gr.Tab("The mathematical framework"):
                        gr.Markdown(content.THEORY_MATH, latex_delimiters=content.LATEX, elem_id="theory-math")
                        th_math_btn = gr.Button("Measure the invariances now")
                        th_math = gr.Dataframe(label="Each measure between X and a transformed X (measured live)",
                                               interactive=False, headers=["Y", "linear_cka", "rsa", "cca"])

            # ---------------------------------------------------------------- 6. applications
            with gr.Tab(TABS[5][1], id=TABS[5][0]) as tab_apps:
                gr.Markdown("Each section runs a small live computation with the library's demos "
                            "(precomputed at startup and cached on disk).")
                ap_btn = gr.Button("Show the live results", variant="primary")
                ap_status = gr.Markdown()
                gr.Markdown(content.APPLICATIONS["stitching"])
                ap_stitch = gr.Dataframe(label="Stitching penalties (test accuracy points)", interactive=False,
                                         headers=["arch", "width", "cut_a", "cut_b", "method", "penalty",
                                                  "penalty_random_bottom"])
                ap_zoo = gr.Dataframe(label="Zoo: dual-encoder stitching (retrieval through a linear map)",
                                      interactive=False, headers=["pairing", "method"])
                gr.Markdown(content.APPLICATIONS["merging"])
                ap_merge = gr.Plot(label="Interpolation curves before and after alignment")
                gr.Markdown(content.APPLICATIONS["transfer"])
                ap_transfer = gr.Plot(label="Probe transfer accuracy")
                gr.Markdown(content.APPLICATIONS["development"])
                ap_dev = gr.Dataframe(label="Distillation and CKA with the teacher", interactive=False,
                                      headers=["student", "layer", "linear_cka", "accuracy", "agreement"])

        with gr.Accordion("Server status", open=False):
            st_btn = gr.Button("Refresh status")
            st_table = gr.Dataframe(label="Background precomputation", interactive=False,
                                    headers=["task", "state", "seconds", "message"])

        # ==================================================================== handlers
        @guard
        def do_puzzle():
            md, fig, table = C.puzzle_view(engine)
            return md, fig, table

        @guard
        def do_compare(models, dskey, measures, modality, baselines, opted_in, sid, progress=gr.Progress()):  # noqa: B008
            progress(0.05, desc="embedding the reference set")
            res = C.explorer_compare(engine, models, dskey, measures, modality, bool(baselines))
            track.models(opted_in, sid, models)
            measures = C.check_measures(measures)
            figs, panels = C.explorer_figures(engine, res, dskey, measures)
            slots = [gr.update(value=figs[i], visible=True) if i < len(figs) else gr.update(value=None, visible=False)
                     for i in range(MAX_MEASURES)]
            cols = [c for c in ("model_a", "model_b", "metric", "value", "ci_low", "ci_high", "shuffled", "n",
                                "n_boot") if c in res["table"]]
            n = len(engine.dataset(dskey))
            boots = sorted({int(b) for b in res["table"]["n_boot"]}) if "n_boot" in res["table"] else []
            status = (f"{len(models)} models on {n} `{dskey}` {modality}s; {', '.join(measures)} with 95% bootstrap "
                      f"CIs over stimuli ({'/'.join(map(str, boots))} resamples per pair).")
            labels = C.item_labels(engine, dskey)
            items = gr.update(choices=labels, value=labels[0])
            return [status, *slots, panels, res["table"][cols].round(4), items]

        @guard
        def do_neighbours(models, dskey, modality, item, k):
            models = C.check_models(engine, models, modality, lo=1)
            df = C.neighbours(engine, models, dskey, modality, item, int(k))
            panels = placeholder("Choose at least two models and press Compare to see the linked views.")
            if len(models) >= 2:
                from ..viz import pca_2d, procrustes_align_2d

                coords = procrustes_align_2d({m: pca_2d(engine.embedding(m, dskey, modality)) for m in models})
                from .figures import linked_panels

                ds = engine.dataset(dskey)
                panels = linked_panels(coords, list(ds.captions), engine.groups(dskey), highlight=int(item))
            return df, panels

        @guard
        def do_layers(a, b, dskey, modality, metric, progress=gr.Progress()):  # noqa: B008
            progress(0.05, desc="extracting every layer")
            return C.layer_map(engine, a, b, dskey, modality, metric)

        @guard
        def do_cross(file, texts, models, dskey, metric, opted_in, sid, progress=gr.Progress()):  # noqa: B008
            image = load_image(file, cfg.max_image_pixels)
            texts = parse_texts(texts, cfg.max_texts, cfg.max_text_chars)
            if image is None and not texts:
                raise InputError("upload an image or type at least one text (one per line)")
            if image is not None:
                track.upload(opted_in, sid, "image")
            if texts:
                track.upload(opted_in, sid, "texts")
            track.models(opted_in, sid, models or [])
            progress(0.1, desc="embedding your items and the reference set")
            res = C.cross_model(engine, image, texts, models, dskey, metric)
            hi, ht, var = C.cross_model_figures(res, metric)
            status = (f"{'1 image' if image is not None else 'no image'} and {len(texts)} text(s) compared with "
                      f"{res['n_reference']} `{dskey}` reference items in {len(models)} model(s).")
            preview = (image_html(res["image"], f"your image, resized to the {dskey} reference size")
                       if res["image"] is not None else "<p>No image uploaded.</p>")
            return status, preview, hi, ht, var, res["similarities"], res["embeddings"]

        @guard
        def do_brain(model, progress=gr.Progress()):  # noqa: B008
            res = C.brain(engine, model, progress)
            from ..viz import brain_plot

            t = res["table"]
            return (C.brain_summary(res), brain_plot(t, "human_IT"), brain_plot(t, "monkey_IT"),
                    t.round(4))

        def neuro_md():
            lo, hi = C.noise_ceiling_live()
            return (f"**Measured now** from the four human subjects' IT RDMs (Kriegeskorte et al. 2008 data; each "
                    f"subject = mean of two sessions): noise ceiling lower bound **{lo:.3f}**, upper bound "
                    f"**{hi:.3f}** (Spearman ρ; Nili et al. 2014 definitions).")

        @guard
        def do_when():
            return C.convergence_by_layer(engine)

        @guard
        def do_neuro():
            return neuro_md()

        @guard
        def do_math():
            return C.invariance_demo()

        @guard
        def do_theory():  # the three live theory tables at once (no nested guard: one compute slot)
            return C.convergence_by_layer(engine), neuro_md(), C.invariance_demo()

        @guard
        def do_apps(progress=gr.Progress()):  # noqa: B008
            progress(0.05, desc="stitching (cached after the first run)")
            st = C.app_stitching(engine)
            progress(0.3, desc="merging")
            merge = C.merging_figure(C.app_merging(engine))
            progress(0.5, desc="transfer")
            tr = C.transfer_figure(C.app_transfer(engine))
            progress(0.8, desc="distillation")
            dev = C.app_development(engine)
            zoo = C.app_zoo_stitching(engine)
            if zoo is None:
                zoo = pd.DataFrame({"note": ["Needs two zoo image–text models: build the zoo with "
                                             "`unireps zoo build`."]})
            return ("All four computed on this machine (digits MLPs of `unireps.stitch.toy`, seeds 0 and 1; "
                    "zoo models where noted).", st.round(4), zoo.round(4), merge, tr, dev.round(4))

        def do_status():
            return engine.task_table()

        # ==================================================================== events
        demo.load(start_session(TABS[0][1]), outputs=[session, tabstate], api_name="research_session",
                  **light_kw)
        puzzle_out = [puzzle_md, puzzle_fig, puzzle_table]
        demo.load(do_puzzle, outputs=puzzle_out, api_name="puzzle_on_load", **compute_kw)
        puzzle_btn.click(do_puzzle, outputs=puzzle_out, api_name="puzzle", **compute_kw)
        ex_btn.click(do_compare, inputs=[ex_models, ex_ds, ex_measures, ex_mod, ex_base, optin, session],
                     outputs=[ex_status, *ex_h, ex_panels, ex_table, ex_item], api_name="explorer_compare",
                     **compute_kw)
        ex_nn_btn.click(do_neighbours, inputs=[ex_models, ex_ds, ex_mod, ex_item, ex_k], outputs=[ex_nn, ex_panels],
                        api_name="explorer_neighbours", **compute_kw)
        ex_l_btn.click(do_layers, inputs=[ex_la, ex_lb, ex_ds, ex_mod, ex_lm], outputs=[ex_lfig, ex_lnote, ex_ltable],
                       api_name="explorer_layers", **compute_kw)
        cm_btn.click(do_cross, inputs=[cm_file, cm_texts, cm_models, cm_ds, cm_metric, optin, session],
                     outputs=[cm_status, cm_preview, cm_heat_img, cm_heat_txt, cm_var, cm_sims, cm_emb],
                     api_name="crossmodel_compare", **compute_kw)
        br_btn.click(do_brain, inputs=[br_model], outputs=[br_md, br_human, br_monkey, br_table], api_name="brain_rsa",
                     **compute_kw)
        th_when_btn.click(do_when, outputs=[th_when], api_name="theory_when", **compute_kw)
        th_neuro_btn.click(do_neuro, outputs=[th_neuro], api_name="theory_noise_ceiling", **compute_kw)
        th_math_btn.click(do_math, outputs=[th_math], api_name="theory_invariances", **compute_kw)
        ap_btn.click(do_apps, outputs=[ap_status, ap_stitch, ap_zoo, ap_merge, ap_transfer, ap_dev],
                     api_name="applications", **compute_kw)
        st_btn.click(do_status, outputs=[st_table], api_name="research_status", **light_kw)
        for tab, (tid, title) in zip((tab_puzzle, tab_explorer, tab_cross, tab_brain, tab_theory, tab_apps), TABS):
            tab.select(track.tab_handler(title), inputs=[optin, session, tabstate], outputs=[session, tabstate],
                       api_name=f"research_tab_{tid}", **light_kw)
        tab_theory.select(do_theory, outputs=[th_when, th_neuro, th_math], api_name="theory_on_view", **compute_kw)
        tab_apps.select(do_apps, outputs=[ap_status, ap_stitch, ap_zoo, ap_merge, ap_transfer, ap_dev],
                        api_name="applications_on_view", **compute_kw)
        del zoo_md, tabs
    return demo
