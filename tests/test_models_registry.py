"""Registry, offline failures, from_module, weight files, optional open_clip."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import torch
from torch import nn

from unireps.models import ModelNotAvailableError, from_module, list_models, load_model


@pytest.fixture(autouse=True)
def _cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIREPS_CACHE", str(tmp_path / "unireps-cache"))


def _run_with_timeout(fn, timeout=60):
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"did not fail fast (still running after {timeout} s)"
    return box


def test_list_models_entries():
    names = {m.name: m for m in list_models()}
    for n in ["clip-vit-b32", "clip-vit-b16", "clip-vit-l14", "siglip-base", "siglip2-base", "align-base",
              "blip-itm-base-coco", "flava-full", "minilm"]:
        assert n in names
    clip = names["clip-vit-b32"]
    assert clip.family == "clip" and clip.modalities == ("image", "text") and clip.source_kind == "hub"
    assert clip.source == "hub:openai/clip-vit-base-patch32"
    assert isinstance(clip.available, bool)
    assert names["blip-itm-base-coco"].source == "hub:Salesforce/blip-itm-base-coco"
    assert set(clip.to_dict()) >= {"name", "family", "modalities", "source", "available"}


@pytest.mark.parametrize("spec", ["clip-vit-b32", "hf:openai/clip-vit-base-patch32", "someone/absent-model"])
def test_offline_failure_is_fast_and_helpful(spec, tmp_path, monkeypatch):
    from huggingface_hub import constants

    empty = tmp_path / "empty-hf-cache"
    empty.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(empty))
    box = _run_with_timeout(lambda: load_model(spec), timeout=60)
    err = box.get("error")
    assert isinstance(err, ModelNotAvailableError), box
    msg = str(err)
    assert spec in msg  # names the model
    assert str(empty) in msg  # where it looked
    assert "allow_download=True" in msg and "--allow-download" in msg and "load_model('DIR')" in msg
    assert {m.name: m for m in list_models()}["clip-vit-b32"].available is False


def test_missing_local_path_and_unknown_name():
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        load_model("./no/such/folder")
    with pytest.raises(ValueError, match="Did you mean 'minilm'"):
        load_model("minilmm")


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(6, 5))

    def forward(self, x):
        return self.head(self.pool(self.features(x)))


def test_from_module_sequential():
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    enc = from_module(seq, layers=["0", "1", "4"], batch_size=2)
    imgs = np.random.default_rng(1).integers(0, 256, (5, 10, 10, 3), dtype=np.uint8)
    layers = enc.image_layers(imgs)
    assert list(layers) == ["0", "1", "4", "output"]
    assert layers["0"].shape == (5, 4) and layers["4"].shape == (5, 5)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255
    with torch.inference_mode():
        conv = seq[0](x)
        ref = seq(x)
    np.testing.assert_allclose(layers["0"], conv.mean((2, 3)).numpy(), atol=1e-5)  # spatial_mean default
    np.testing.assert_allclose(layers["4"], ref.numpy(), atol=1e-5)
    flat = enc.image_layers(imgs, pooling="flatten", layers=["0"])["0"]
    assert flat.shape == (5, 4 * 8 * 8)
    e = enc.encode_images(imgs)
    assert e.shape == (5, 5) and enc.embedding_dim == 5
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert len(enc.weights_sha256) == 64 and enc.family == "module"
    with pytest.raises(ValueError, match="unknown submodule"):
        from_module(seq, layers=["nope"])


def test_from_module_text_with_mask():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 8)
            self.mix = nn.Linear(8, 8)

        def forward(self, input_ids, attention_mask):
            return self.mix(self.emb(input_ids))

    def prep(texts):
        ids = [[(ord(c) % 49) + 1 for c in t] for t in texts]
        n = max(map(len, ids))
        return {
            "input_ids": torch.tensor([i + [0] * (n - len(i)) for i in ids]),
            "attention_mask": torch.tensor([[1] * len(i) + [0] * (n - len(i)) for i in ids]),
        }

    enc = from_module(Tiny(), layers=["emb"], preprocess=prep, modality="text")
    texts = ["abc", "a much longer text", "z"]
    batched = enc.text_layers(texts, batch_size=3)
    for i, t in enumerate(texts):
        alone = enc.text_layers([t])
        for k in batched:
            np.testing.assert_allclose(batched[k][i], alone[k][0], atol=1e-6)


def test_bare_weights_file_with_module(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = _Net()
    path = tmp_path / "net.safetensors"
    save_file(net.state_dict(), str(path))
    fresh = _Net()
    with pytest.raises(ValueError, match="module="):
        load_model(str(path))
    enc = load_model(str(path), module=fresh, layers=["features.0", "features", "pool"])
    imgs = np.random.default_rng(0).integers(0, 256, (3, 12, 12, 3), dtype=np.uint8)
    ref = from_module(net, layers=["features.0"]).encode_images(imgs)
    np.testing.assert_allclose(enc.encode_images(imgs), ref, atol=1e-6)
    assert list(enc.weight_files) == ["net.safetensors"]
    torch.save(net.state_dict(), tmp_path / "net.pt")
    enc2 = load_model(str(tmp_path / "net.pt"), module=_Net(), layers=["pool"])  # torch.load(weights_only=True)
    np.testing.assert_allclose(enc2.encode_images(imgs), ref, atol=1e-6)


def test_module_passed_to_load_model():
    enc = load_model(nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2)), layers=["1"])
    assert enc.encode_images(np.zeros((2, 4, 4, 3), np.uint8)).shape == (2, 2)


def test_open_clip_tiny(tmp_path):
    open_clip = pytest.importorskip("open_clip")
    import json

    cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2},
    }
    (tmp_path / "unireps-tiny.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(str(tmp_path / "unireps-tiny.json"))
    enc = load_model("open_clip:unireps-tiny", device="cpu")
    imgs = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    assert enc.encode_images(imgs).shape == (3, 16)
    assert enc.encode_texts(["a cat", "a dog"]).shape == (2, 16)
    layers = enc.image_layers(imgs)
    assert list(layers) == ["embeddings", "block.0", "block.1", "final_norm", "projection"]
    t = enc.text_layers(["a cat", "a much longer dog sentence"])
    assert list(t)[-1] == "projection"
