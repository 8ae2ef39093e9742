"""extract(): streaming to disk, cache hits, corruption detection."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest

from unireps.models import default_cache_dir, extract, load_model
from unireps.models.testing import make_tiny_model


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNIREPS_CACHE", str(tmp_path_factory.mktemp("memo")))
        yield load_model(str(make_tiny_model("clip", tmp_path_factory.mktemp("clip"))), batch_size=4)


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)


class Dataset:
    def __init__(self, images, captions, content_hash):
        self.images, self.captions, self.content_hash = images, captions, content_hash


def test_rerun_reads_cache(enc, images, tmp_path):
    first = extract(enc, images, "image", layers="all", cache_dir=tmp_path)
    calls = enc.forward_calls
    assert calls > 0 and not any(first.from_cache.values())
    assert list(first) == enc.layer_names["image"]
    second = extract(enc, images, "image", layers="all", cache_dir=tmp_path)
    assert enc.forward_calls == calls  # the model was not called
    assert all(second.from_cache.values())
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
    # the arrays are what image_layers returns
    direct = enc.image_layers(images)
    for k in direct:
        np.testing.assert_allclose(second[k], direct[k], atol=1e-6)
    # files are plain safetensors with a manifest
    from safetensors.numpy import load_file

    f = first.entry_dir / "block.0.cls.safetensors"
    np.testing.assert_array_equal(load_file(str(f))["block.0"], first["block.0"])
    man = json.loads((first.entry_dir / "block.0.cls.json").read_text())
    assert man["shape"] == [10, 32] and man["dtype"] == "float32" and len(man["sha256"]) == 64
    assert man["key"]["model"]["weights_sha256"] == enc.weights_sha256 and man["unireps_version"]


def test_embedding_default_and_partial_reuse(enc, images, tmp_path):
    r = extract(enc, images, "image", cache_dir=tmp_path)
    assert list(r) == ["embedding"]
    np.testing.assert_allclose(r["embedding"], enc.encode_images(images), atol=1e-6)
    calls = enc.forward_calls
    r2 = extract(enc, images, "image", layers=["embedding", "block.1"], cache_dir=tmp_path)
    assert r2.from_cache == {"embedding": True, "block.1": False}
    assert enc.forward_calls == calls + 3  # 10 images / batch 4: only the missing layer is computed
    r3 = extract(enc, images, "image", layers=["block.1"], pooling="mean", cache_dir=tmp_path)
    assert r3.from_cache == {"block.1": False}  # another pooling is another entry


def _entry_file(res, layer="block.0", pooling="cls"):
    return res.entry_dir / f"{layer}.{pooling}.safetensors"


@pytest.mark.parametrize("damage", ["flip", "truncate", "manifest_missing", "manifest_garbage", "data_missing"])
def test_corruption_is_detected_and_recomputed(enc, images, tmp_path, damage):
    first = extract(enc, images, "image", layers=["block.0", "final_norm"], cache_dir=tmp_path)
    ref = np.array(first["block.0"])
    f = _entry_file(first)
    m = f.with_suffix(".json")
    del first
    if damage == "flip":
        data = bytearray(f.read_bytes())
        data[-5] ^= 0xFF
        f.write_bytes(bytes(data))
    elif damage == "truncate":
        f.write_bytes(f.read_bytes()[:-16])
    elif damage == "manifest_missing":
        m.unlink()
    elif damage == "manifest_garbage":
        m.write_text("{not json")
    else:
        f.unlink()
    calls = enc.forward_calls
    with pytest.warns(UserWarning, match="invalid"):
        again = extract(enc, images, "image", layers=["block.0", "final_norm"], cache_dir=tmp_path)
    assert enc.forward_calls > calls
    assert again.from_cache == {"block.0": False, "final_norm": True}
    np.testing.assert_allclose(again["block.0"], ref, atol=1e-6)
    third = extract(enc, images, "image", layers=["block.0"], cache_dir=tmp_path)
    assert third.from_cache == {"block.0": True}


def test_dataset_object_and_texts(enc, images, tmp_path):
    caps = [f"a photo number {i}" for i in range(10)]
    ds = Dataset(images, caps, "abc123")
    r = extract(enc, ds, "text", layers="all", cache_dir=tmp_path, batch_size=3)
    assert list(r) == enc.layer_names["text"] and r["projection"].shape == (10, 16)
    assert r.content_hash.startswith("abc123")
    direct = enc.text_layers(caps)
    np.testing.assert_allclose(r["final_norm"], direct["final_norm"], atol=1e-5)
    # text batches are grouped by length; rows still land in input order
    np.testing.assert_allclose(extract(enc, caps, "text", cache_dir=tmp_path)["embedding"],
                               enc.encode_texts(caps), atol=1e-6)
    img = extract(enc, ds, "image", layers=["block.1"], cache_dir=tmp_path)
    assert img["block.1"].shape == (10, 32)
    # another dataset hash -> another entry
    calls = enc.forward_calls
    extract(enc, Dataset(images, caps, "other"), "image", layers=["block.1"], cache_dir=tmp_path)
    assert enc.forward_calls > calls


def test_no_cache_and_default_dir(enc, images, tmp_path, monkeypatch):
    monkeypatch.setenv("UNIREPS_CACHE", str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    r = extract(enc, images, "image", layers=["block.0"], cache=False)
    assert r.entry_dir is None and isinstance(r["block.0"], np.ndarray)
    assert not (tmp_path / "envcache" / "activations").exists()
    r = extract(enc, images, "image", layers=["block.0"])
    assert str(r.entry_dir).startswith(str(tmp_path / "envcache"))


def test_bad_arguments(enc, images, tmp_path):
    with pytest.raises(ValueError, match="valid choices"):
        extract(enc, images, "image", layers="all", pooling="avg", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown image layer"):
        extract(enc, images, "image", layers=["nope"], cache_dir=tmp_path)
    with pytest.raises(ValueError, match="uint8"):
        extract(enc, images.astype(np.float32), "image", cache_dir=tmp_path)
