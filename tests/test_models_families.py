"""Tiny random models of every family, saved with save_pretrained and loaded through the production path."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import torch

from unireps.models import ModalityError, list_models, load_model, register_model, unregister_model
from unireps.models.testing import make_tiny_model

FAMILIES = ["clip", "siglip", "siglip2", "align", "blip", "blip-model", "flava"]
EXPECTED = {  # family -> (image layers, text layers) for the 2-layer tiny models
    "clip": (["embeddings", "block.0", "block.1", "final_norm", "projection"],
             ["embeddings", "block.0", "block.1", "final_norm", "projection"]),
    "siglip": (["embeddings", "block.0", "block.1", "final_norm", "head"],
               ["embeddings", "block.0", "block.1", "final_norm", "projection"]),
    "align": (["embeddings", "block.0", "block.1", "pooler"], ["embeddings", "block.0", "block.1", "projection"]),
    "blip": (["embeddings", "block.0", "block.1", "final_norm", "projection"],
             ["embeddings", "block.0", "block.1", "projection"]),
    "flava": (["embeddings", "block.0", "block.1", "final_norm", "projection"],
              ["embeddings", "block.0", "block.1", "final_norm", "projection"]),
}
EXPECTED["siglip2"] = EXPECTED["siglip"]
EXPECTED["blip-model"] = EXPECTED["blip"]
TEXTS = ["a photo of a cat", "two dogs", "the man is eating bread on the street near a red car", "x"]


@pytest.fixture(autouse=True)
def _cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIREPS_CACHE", str(tmp_path / "unireps-cache"))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {f: make_tiny_model(f, root / f) for f in FAMILIES}


@pytest.fixture(scope="module")
def encoders(folders, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNIREPS_CACHE", str(tmp_path_factory.mktemp("memo")))
        yield {f: load_model(str(p), batch_size=3) for f, p in folders.items()}


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 40, 48, 3), dtype=np.uint8)


@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_layers_metadata(encoders, images, family):
    enc = encoders[family]
    img_layers, txt_layers = EXPECTED[family]
    assert enc.layer_names == {"image": img_layers, "text": txt_layers}
    assert enc.family == family.replace("blip-model", "blip")
    e_img, e_txt = enc.encode_images(images), enc.encode_texts(TEXTS)
    assert e_img.dtype == np.float32 and e_img.shape == (5, enc.embedding_dim)
    assert e_txt.shape == (4, enc.embedding_dim)
    li = enc.image_layers(images)
    lt = enc.text_layers(TEXTS)
    assert list(li) == img_layers and list(lt) == txt_layers  # ordered input -> output
    assert all(v.shape[0] == 5 and v.dtype == np.float32 for v in li.values())
    assert all(v.shape[0] == 4 for v in lt.values())
    md = enc.metadata()
    assert md["weights_sha256"] and len(md["weights_sha256"]) == 64
    assert md["weight_files"] == {"model.safetensors": md["weights_sha256"]}
    assert md["source"].startswith("local:") and md["embedding_dim"] == enc.embedding_dim
    # the layer named as the embedding layer, L2-normalised, is the shared embedding
    emb_layer = md["embedding_layer"]["image"]
    raw = li[emb_layer] if family != "siglip2" else li["head"]
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), e_img, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_normalisation(encoders, images, family):
    enc = encoders[family]
    for fn, x in ((enc.encode_images, images), (enc.encode_texts, TEXTS)):
        e = fn(x)
        np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
        raw = fn(x, normalize=False)
        assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-3)
        np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), e, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("pooling", [None, "mean", "cls", "last"])
def test_padding_mask_pooling(encoders, family, pooling):
    """A padded batch gives each text the same vectors as running it alone (no padding)."""
    enc = encoders[family]
    batched = enc.text_layers(TEXTS, pooling=pooling, batch_size=4)
    singles = [enc.text_layers([t], pooling=pooling) for t in TEXTS]
    for name, arr in batched.items():
        alone = np.concatenate([s[name] for s in singles])
        np.testing.assert_allclose(arr, alone, atol=2e-5, err_msg=f"{family} {name} {pooling}")
    np.testing.assert_allclose(
        enc.encode_texts(TEXTS, batch_size=4), np.concatenate([enc.encode_texts([t]) for t in TEXTS]), atol=2e-5
    )


def test_batch_size_and_input_types_do_not_change_results(encoders, images):
    from PIL import Image

    enc = encoders["clip"]
    a = enc.encode_images(images, batch_size=2)
    b = enc.encode_images([Image.fromarray(x) for x in images], batch_size=5)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(enc.encode_images(images), enc.encode_images(images))  # deterministic


def test_clip_conventions_match_the_model(encoders, folders, images):
    """EOS/CLS positions and last-layer semantics agree with CLIPModel itself."""
    from transformers import CLIPModel

    enc = encoders["clip"]
    m = CLIPModel.from_pretrained(folders["clip"]).eval()
    lt = enc.text_layers(TEXTS, pooling="eos")
    tok = enc._prepare("text", TEXTS)  # the adapter's own tokenisation (truncated at 32 tokens)
    assert (tok["input_ids"] == m.config.text_config.eos_token_id).any(1).all()
    with torch.inference_mode():
        out = m.get_text_features(**tok, output_hidden_states=True)
        assert tok["input_ids"].shape[1] == 32
        ref = out.pooler_output if not torch.is_tensor(out) else out
        np.testing.assert_allclose(enc.encode_texts(TEXTS, normalize=False), ref.numpy(), atol=1e-5)
        # final_norm (after final LN) at EOS, projected, is the shared embedding
        proj = m.text_projection(torch.from_numpy(lt["final_norm"])).numpy()
        np.testing.assert_allclose(proj, ref.numpy(), atol=1e-5)
        # block.{L-1} is hidden_states[-1] (before the final LayerNorm)
        eos = (tok["input_ids"] == m.config.text_config.eos_token_id).int().argmax(-1)
        hs_last = out.hidden_states[-1][torch.arange(4), eos].numpy()
        np.testing.assert_allclose(lt["block.1"], hs_last, atol=1e-5)
        li = enc.image_layers(images)
        pix = enc._prepare("image", images)["pixel_values"]
        vo = m.get_image_features(pixel_values=pix, output_hidden_states=True)
        np.testing.assert_allclose(li["block.1"], vo.hidden_states[-1][:, 0].numpy(), atol=1e-5)
        np.testing.assert_allclose(
            m.visual_projection(torch.from_numpy(li["final_norm"])).numpy(), vo.pooler_output.numpy(), atol=1e-5
        )


def test_siglip_fixed_padding_allows_flatten(encoders):
    enc = encoders["siglip"]
    flat = enc.text_layers(TEXTS, pooling="flatten", layers=["block.0"])["block.0"]
    assert flat.shape == (4, 16 * 32)  # max_length 16 x hidden 32
    with pytest.raises(ValueError, match="fixed sequence length"):
        encoders["clip"].text_layers(TEXTS, pooling="flatten")
    with pytest.raises(ValueError, match="no CLS"):
        enc.image_layers(np.zeros((1, 32, 32, 3), np.uint8), pooling="cls")


def test_pooling_choices(encoders, images):
    enc = encoders["clip"]
    with pytest.raises(ValueError, match="valid choices are: cls, mean, eos, last, spatial_mean, flatten"):
        enc.image_layers(images, pooling="max")
    sm = enc.image_layers(images, pooling="spatial_mean", layers=["block.0"])["block.0"]
    fl = enc.image_layers(images, pooling="flatten", layers=["block.0"])["block.0"]
    assert fl.shape == (5, 17 * 32)
    np.testing.assert_allclose(sm, fl.reshape(5, 17, 32)[:, 1:].mean(1), atol=1e-5)  # patch tokens only
    with pytest.raises(ValueError, match="text"):
        enc.image_layers(images, pooling="eos")
    with pytest.raises(ValueError, match="unknown image layer"):
        enc.image_layers(images, layers=["block.9"])
    conv = encoders["align"].image_layers(images, pooling="flatten", layers=["block.1"])["block.1"]
    assert conv.shape[0] == 5 and conv.shape[1] > 32


def test_modality_error(encoders):
    from unireps.models import from_module

    enc = from_module(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)), layers=["1"])
    with pytest.raises(ModalityError, match="no text tower"):
        enc.encode_texts(["a"])


def test_registry_name_pointing_at_local_dir(folders, images):
    register_model("zoo:test-tiny-clip", folders["clip"], family="clip", description="tiny")
    try:
        info = {m.name: m for m in list_models()}["zoo:test-tiny-clip"]
        assert info.available and info.source_kind == "zoo" and info.family == "clip"
        enc = load_model("zoo:test-tiny-clip")
        assert enc.name == "zoo:test-tiny-clip" and enc.family == "clip"
        ref = load_model(str(folders["clip"]))
        np.testing.assert_allclose(enc.encode_images(images), ref.encode_images(images), atol=1e-6)
        with pytest.raises(ValueError, match="already registered"):
            register_model("zoo:test-tiny-clip", folders["clip"])
        # a loader function returning a folder path goes through the same adapters
        register_model("zoo:test-fn", lambda **kw: folders["flava"], family="flava")
        assert load_model("zoo:test-fn").family == "flava"
    finally:
        unregister_model("zoo:test-tiny-clip")
        unregister_model("zoo:test-fn")


def test_blip_projection_weights_are_never_left_random(folders, tmp_path):
    """A BlipModel checkpoint declared as BlipForImageTextRetrieval lacks vision_proj/text_proj: refuse it."""
    import json
    import shutil

    bad = tmp_path / "bad-blip"
    shutil.copytree(folders["blip-model"], bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["architectures"] = ["BlipForImageTextRetrieval"]
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="vision_proj|text_proj"):
        load_model(str(bad))


def test_weights_file_inside_folder_and_missing_processor(folders, tmp_path):
    import shutil

    enc = load_model(str(folders["align"] / "model.safetensors"))
    assert enc.family == "align"
    bare = tmp_path / "no-processor"
    shutil.copytree(folders["clip"], bare)
    (bare / "preprocessor_config.json").unlink()
    enc = load_model(str(bare))
    with pytest.raises(RuntimeError, match="image processor"):
        enc.encode_images(np.zeros((1, 32, 32, 3), np.uint8))
    assert enc.encode_texts(["a"]).shape == (1, 16)
