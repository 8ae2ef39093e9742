"""The student primer (route ``/multimodal``): how one image–text model (CLIP, or the zoo's CLIP stand-in) works —
matching, the two towers and the contrastive objective, explanations, ethics and an alt-text aid."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from . import compute as C  # noqa: E402
from . import content  # noqa: E402
from .analytics import Analytics  # noqa: E402
from .engine import Engine, InputError  # noqa: E402
from .figures import bar, image_html, occlusion_figure, placeholder  # noqa: E402
from .inputs import load_image, parse_caption, parse_texts  # noqa: E402
from .ui import OPT_IN_LABEL, Tracker, event_options, make_guard, nav_html, start_session  # noqa: E402

ROUTE = "/multimodal"
TABS = [("try", "1. Try it"), ("how", "2. How it works"), ("why", "3. Why this match?"),
        ("ethics", "4. Ethics & accessibility"), ("more", "5. Ready for more?")]
SHAPES_CAPTIONS = "a blue triangle\na red circle\na green square\na yellow star\na purple heart"
PHOTO_CAPTIONS = "a photo of a face\na photo of an animal\na photo of a fruit\na photo of a tool\na photo of a building"


def examples(engine: Engine) -> list[tuple[str, np.ndarray]]:
    """A few example images from the reference sets (label, RGB array)."""
    def build():
        out = []
        shapes = engine.dataset("shapes")
        for i in range(4):
            out.append((f"shapes #{i}: {shapes.captions[i]}", shapes.images[i]))
        objs = engine.dataset("kriegeskorte92")
        for i in (0, 30, 60, 80):
            out.append((f"92 objects #{i}: {objs.captions[i]}", objs.images[i]))
        return out

    return engine.memo(("edu_examples",), build)


def build_educational(engine: Engine, analytics: Analytics | None = None) -> gr.Blocks:
    analytics = analytics or Analytics(engine.config.analytics_db)
    track = Tracker(analytics, ROUTE)
    guard = make_guard(engine.slots)
    cfg = engine.config
    compute_kw, light_kw = event_options(cfg)
    model = engine.clip_model()
    choices = [n for n in engine.names() if {"image", "text"} <= set(engine.entry(n).modalities)
               and not engine.entry(n).is_twin]
    tau0, tau_src = C.temperature(engine, model) if model else (C.CLIP_INIT_TEMPERATURE, "")
    ex_labels = [label for label, _ in examples(engine)]
    default_caps = PHOTO_CAPTIONS if model and engine.entry(model).kind == "hub" else SHAPES_CAPTIONS

    def pick_image(file, example, required=True):
        img = load_image(file, cfg.max_image_pixels)
        if img is None and example is not None and example != "":
            idx = int(example)
            exs = examples(engine)
            if not 0 <= idx < len(exs):
                raise InputError("unknown example image")
            img = np.asarray(exs[idx][1])
        if img is None and required:
            raise InputError("upload an image or pick an example image")
        return img

    def example_label(example) -> str:
        try:
            return ex_labels[int(example)]
        except (TypeError, ValueError, IndexError):
            return ""

    def need_model(name):
        if not name:
            raise InputError("no image–text model is available offline: build the zoo with `unireps zoo build` (it "
                             "trains a small CLIP stand-in), or place a CLIP checkpoint in the Hugging Face cache")
        return name

    with gr.Blocks(title="How an image–text model works — unireps primer",
                   delete_cache=tuple(cfg.delete_cache)) as demo:
        session = gr.State(None)
        tabstate = gr.State(None)
        gr.HTML(nav_html([("../unireps-multimodal/", "Research module: do different models converge?")],
                         "How one image–text model works"))
        gr.Markdown(content.EDU_INTRO)
        model_note = (f"**Model used on this page:** `{model}` (temperature from {tau_src})." if model else
                      "**No image–text model is available yet.** Build the small model zoo with `unireps zoo build` "
                      "(it trains a CLIP stand-in on this machine), then restart the app.")
        gr.Markdown(model_note, elem_id="edu-model")
        edu_model = gr.Dropdown(choices, value=model, label="Image–text model")
        optin = gr.Checkbox(False, label=OPT_IN_LABEL)

        with gr.Tabs():
            with gr.Tab(TABS[0][1], id=TABS[0][0]) as tab_try:
                gr.Markdown("## Match an image against captions (zero-shot classification)")
                with gr.Row():
                    with gr.Column(min_width=260):
                        m_file = gr.File(label="Upload an image (PNG, JPEG, GIF, WebP, BMP)", file_types=["image"],
                                         type="filepath", elem_id="edu-image")
                        m_example = gr.Dropdown(ex_labels, value=ex_labels[0], type="index",
                                                label="…or pick an example image")
                        m_preview = gr.HTML(label="The image being matched", elem_id="edu-preview")
                    with gr.Column(min_width=260):
                        m_caps = gr.Textbox(label="Candidate captions (one per line, at most 16)", lines=6,
                                            value=default_caps, elem_id="edu-captions")
                        m_tau = gr.Slider(0.005, 1.0, value=round(float(tau0), 4), step=0.005,
                                          label="Temperature τ (lower = more confident)")
                        m_btn = gr.Button("Match", variant="primary", elem_id="edu-match")
                m_md = gr.Markdown()
                m_fig = gr.Plot(label="Softmax over the captions")
                m_table = gr.Dataframe(label="Cosine similarity and probability per caption", interactive=False,
                                       headers=["caption", "cosine", "probability"])
                gr.Markdown("## Search a gallery with a caption")
                with gr.Row():
                    g_caption = gr.Textbox(label="Caption to search for", value="a small red circle", scale=3)
                    g_btn = gr.Button("Search", scale=1)
                g_gallery = gr.Gallery(label="Closest images", columns=4, height=420, object_fit="contain",
                                       elem_id="edu-gallery")
                g_table = gr.Dataframe(label="Closest images and their cosine similarity", interactive=False,
                                       headers=["set", "index", "caption of the image", "cosine"])

            with gr.Tab(TABS[1][1], id=TABS[1][0]) as tab_how:
                gr.Markdown(content.EDU_HOW, latex_delimiters=content.LATEX, elem_id="edu-how")
                h_btn = gr.Button("Draw the picture")
                h_md = gr.Markdown()
                h_fig = gr.Plot(label="Images and captions before and after training", elem_id="edu-training")

            with gr.Tab(TABS[2][1], id=TABS[2][0]) as tab_why:
                gr.Markdown(content.EDU_EXPLAIN)
                with gr.Row():
                    with gr.Column(min_width=260):
                        x_file = gr.File(label="Upload an image", file_types=["image"], type="filepath")
                        x_example = gr.Dropdown(ex_labels, value=ex_labels[0], type="index",
                                                label="…or pick an example image")
                    with gr.Column(min_width=260):
                        x_caption = gr.Textbox(label="Caption", value="a tiny blue triangle")
                        x_btn = gr.Button("Explain the match", variant="primary")
                x_md = gr.Markdown()
                with gr.Row():
                    x_occ = gr.Plot(label="Occlusion map", min_width=300, elem_id="edu-occlusion")
                    x_words = gr.Plot(label="Word importance", min_width=300, elem_id="edu-words")

            with gr.Tab(TABS[3][1], id=TABS[3][0]) as tab_ethics:
                gr.Markdown(content.EDU_ETHICS)
                gr.Markdown(content.ALT_HELP)
                with gr.Row():
                    with gr.Column(min_width=260):
                        a_file = gr.File(label="Upload an image to describe", file_types=["image"], type="filepath")
                        a_example = gr.Dropdown(ex_labels, value=ex_labels[4], type="index",
                                                label="…or pick an example image")
                        a_btn = gr.Button("Suggest alt text", variant="primary")
                        a_preview = gr.HTML(label="The image being described", elem_id="edu-alt-preview")
                    with gr.Column(min_width=260):
                        a_text = gr.Textbox(label="Suggested alt text (check and edit before use)", lines=2,
                                            interactive=True, elem_id="edu-alt")
                        a_table = gr.Dataframe(label="Caption-bank suggestions, best first", interactive=False,
                                               headers=["suggestion", "cosine"])

            with gr.Tab(TABS[4][1], id=TABS[4][0]) as tab_more:
                gr.Markdown(content.READY_FOR_MORE)
                gr.HTML('<p><a class="unireps-cta" href="../unireps-multimodal/" id="ready-for-more">'
                        'Ready for more? Open the research module →</a></p>'
                        '<p class="unireps-note">It compares many models (and brains) on the same inputs, with '
                        'confidence intervals and baselines.</p>')

        gr.HTML('<p class="unireps-note">Ready for more? <a href="../unireps-multimodal/">The research module</a> '
                'asks whether different models learn the same representations.</p>')

        # ==================================================================== handlers
        @guard
        def do_match(name, file, example, caps, tau, opted_in, sid):
            name = need_model(name)
            img = pick_image(file, example)
            captions = parse_texts(caps, cfg.max_texts, cfg.max_text_chars, required=True)
            if len(captions) < 2:
                raise InputError("type at least two captions (one per line) so the model has a choice")
            if file:
                track.upload(opted_in, sid, "image")
            df = C.match_image(engine, name, img, captions, float(tau))
            top = df.iloc[0]
            md = (f"Best match: **{top.caption}** (cosine {top.cosine:.3f}, probability {top.probability:.2%} at "
                  f"τ = {float(tau):g}).  Lower τ sharpens the probabilities; the ranking never changes.")
            fig = bar(df, "caption", "probability", "softmax(cosine / τ) over your captions", yrange=(0, 1))
            preview = image_html(img, "the image being matched" + (" (your upload)" if file else
                                                                   f" (example: {example_label(example)})"))
            return preview, md, fig, df

        @guard
        def do_gallery(name, caption):
            name = need_model(name)
            caption = parse_caption(caption, cfg.max_text_chars)
            df = C.match_caption(engine, name, caption)
            items = [(engine.dataset(r["set"]).images[int(r["index"])],
                      f"{r['cosine']:.3f} · {r['caption of the image']}") for r in df.to_dict("records")]
            return items, df

        @guard
        def do_how(name):
            name = need_model(name)
            fig, stats = C.training_picture(engine, name)
            if len(stats) < 2:
                md = ("This model has no registered untrained twin, so only the trained state is drawn. Mean cosine "
                      "of matched image–caption pairs: " + "; ".join(f"{k}: {v:.3f}" for k, v in stats.items()))
            else:
                md = ("**Measured now** — mean cosine similarity of the 12 matched image–caption pairs: " +
                      "; ".join(f"{k}: **{v:.3f}**" for k, v in stats.items()) + ".")
            return md, fig

        @guard
        def do_explain(name, file, example, caption, opted_in, sid):
            name = need_model(name)
            img = pick_image(file, example)
            caption = parse_caption(caption, cfg.max_text_chars)
            if file:
                track.upload(opted_in, sid, "image")
            small, heat, cos = C.occlusion(engine, name, img, caption)
            occ = occlusion_figure(small, heat, f"Occlusion: drop in cosine (full image: {cos:.3f})")
            try:
                words = C.leave_one_word_out(engine, name, img, caption)
                wfig = bar(words, "word", "drop in cosine",
                           "Leave one word out: drop in cosine when the word is removed")
            except InputError as e:
                wfig = placeholder(str(e))
            md = (f"cosine(image, “{caption}”) = **{cos:.3f}**.  Positive values: removing that patch or word lowers "
                  "the match, so it supports it.")
            return md, occ, wfig

        @guard
        def do_alt(name, file, example, opted_in, sid):
            name = need_model(name)
            img = pick_image(file, example)
            if file:
                track.upload(opted_in, sid, "image")
            df = C.alt_text(engine, name, img)
            note = ""
            if engine.entry(name).kind == "zoo":
                note = (" This small model was trained only on the shapes world, so its suggestions for photographs "
                        "are wrong, which is itself the lesson: a model describes the world it was trained on.")
            preview = image_html(img, "the image being described") + f'<p class="unireps-note">{note}</p>'
            return df.iloc[0].suggestion, df, preview

        # ==================================================================== events
        demo.load(start_session(TABS[0][1]), outputs=[session, tabstate], api_name="edu_session", **light_kw)
        m_btn.click(do_match, inputs=[edu_model, m_file, m_example, m_caps, m_tau, optin, session],
                    outputs=[m_preview, m_md, m_fig, m_table], api_name="edu_match_image", **compute_kw)
        g_btn.click(do_gallery, inputs=[edu_model, g_caption], outputs=[g_gallery, g_table],
                    api_name="edu_match_caption", **compute_kw)
        h_btn.click(do_how, inputs=[edu_model], outputs=[h_md, h_fig], api_name="edu_training_picture", **compute_kw)
        tab_how.select(do_how, inputs=[edu_model], outputs=[h_md, h_fig], api_name="edu_training_picture_on_view",
                       **compute_kw)
        x_btn.click(do_explain, inputs=[edu_model, x_file, x_example, x_caption, optin, session],
                    outputs=[x_md, x_occ, x_words], api_name="edu_explain", **compute_kw)
        a_btn.click(do_alt, inputs=[edu_model, a_file, a_example, optin, session], outputs=[a_text, a_table, a_preview],
                    api_name="edu_alt_text", **compute_kw)
        for tab, (tid, title) in zip((tab_try, tab_how, tab_why, tab_ethics, tab_more), TABS):
            tab.select(track.tab_handler(title), inputs=[optin, session, tabstate], outputs=[session, tabstate],
                       api_name=f"edu_tab_{tid}", **light_kw)
    return demo
