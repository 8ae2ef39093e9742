"""Cached activations found by model name without loading the model (unireps.models.named_cache): a hit returns
what the extraction gave, and every change of the model's files, the code, the data or the request loads it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unireps.analysis.reps import representations
from unireps.models import from_module, register_source, unregister_source
from unireps.models import named_cache as N

IMAGES = np.random.default_rng(0).integers(0, 256, size=(12, 8, 8, 3), dtype=np.uint8)


@pytest.fixture()
def source():
    """A source ``tiny:<seed>`` whose stamp is a mutable value and whose loads are counted."""
    state = {"stamp": "v1", "loads": 0}

    def load(target, *, name, **kw):
        state["loads"] += 1
        torch.manual_seed(int(target))
        net = nn.Sequential(nn.Flatten(), nn.Linear(8 * 8 * 3, 16), nn.ReLU(), nn.Linear(16, 4))
        return from_module(net, name=name)

    register_source("tiny", load, stamp=lambda target: state["stamp"])
    yield state
    unregister_source("tiny")


def test_a_second_extraction_by_name_loads_nothing_and_gives_the_same_arrays(source, tmp_path):
    first = representations("tiny:0", IMAGES, layers="all", cache_dir=tmp_path)
    again = representations("tiny:0", IMAGES, layers="all", cache_dir=tmp_path)
    assert source["loads"] == 1 and list(again) == list(first)
    for k in first:
        np.testing.assert_array_equal(again[k], first[k])
    emb = representations("tiny:0", IMAGES, cache_dir=tmp_path)  # another request: its own record
    assert source["loads"] == 2 and list(emb) == ["embedding"]
    representations("tiny:0", IMAGES, cache_dir=tmp_path)
    assert source["loads"] == 2


def test_changed_files_code_or_data_load_the_model_again(source, tmp_path, monkeypatch):
    representations("tiny:0", IMAGES, layers="all", cache_dir=tmp_path)
    source["stamp"] = "v2"  # the model's files changed (rebuilt)
    representations("tiny:0", IMAGES, layers="all", cache_dir=tmp_path)
    assert source["loads"] == 2
    representations("tiny:0", IMAGES[:6], layers="all", cache_dir=tmp_path)  # other data
    assert source["loads"] == 3
    monkeypatch.setattr(N, "package_digest", lambda: "edited code")
    representations("tiny:0", IMAGES, layers="all", cache_dir=tmp_path)
    assert source["loads"] == 4


def test_a_damaged_array_is_never_returned(source, tmp_path):
    first = {k: np.array(v) for k, v in representations("tiny:1", IMAGES, layers="all", cache_dir=tmp_path).items()}
    files = sorted((tmp_path / "activations").rglob("*.safetensors"))
    data = bytearray(files[0].read_bytes())
    data[-1] ^= 0xFF
    files[0].write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="sha256 mismatch"):
        assert N.lookup("tiny:1", IMAGES, "image", layers="all", cache_dir=tmp_path) is None
    with pytest.warns(UserWarning, match="sha256 mismatch"):
        again = representations("tiny:1", IMAGES, layers="all", cache_dir=tmp_path)  # recomputed: same values
    assert source["loads"] == 2
    for k in first:
        np.testing.assert_array_equal(again[k], first[k])


def test_names_without_a_stamp_get_no_record(tmp_path):
    register_source("plain", lambda target, **kw: from_module(nn.Sequential(nn.Flatten(), nn.Linear(192, 3)),
                                                              name=kw["name"]))
    try:
        representations("plain:x", IMAGES, cache_dir=tmp_path)
        assert not (tmp_path / "names").exists()
        assert N.lookup("plain:x", IMAGES, cache_dir=tmp_path) is None
    finally:
        unregister_source("plain")


def test_zoo_stamp_follows_the_model_folder(tmp_path, monkeypatch):
    from unireps.zoo import adapter

    monkeypatch.setenv("UNIREPS_CACHE", str(tmp_path))
    assert adapter._stamp("clip-s0") is None  # not built here
    assert adapter._stamp("no-such-model") is None
