"""Embeddings export: a tiny zoo model and MiniLM on a small shapes set, written, loaded back, equal arrays,
complete metadata, corruption caught by the manifest's sha256, atomic writes, the CLI."""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from unireps.data import load_dataset
from unireps.data.embeddings import (
    EmbeddingsIntegrityError,
    load_embeddings,
    parse_dataset_spec,
)
from unireps.export import export_embeddings

ZOO = "zoo:tiny-cnn8-bow-infonce-s0"
MODELS = [ZOO, "minilm"]
N = 24


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("emb-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNIREPS_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def export(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "emb"
    path = export_embeddings(out, MODELS, [f"shapes:n={N},seed=3"], preset=None, device="cpu")
    return path


def _fixed_size_module():
    """An encoder that takes 32 x 32 images only (a Linear on the flattened pixels): it fails on the 92 objects."""
    from collections import OrderedDict

    import torch
    from torch import nn

    from unireps.models import from_module

    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict(flatten=nn.Flatten(), fc=nn.Linear(3 * 32 * 32, 8)))
    return from_module(net, layers=["fc"], name="fixed32", device="cpu")


def _direct(name, modality):
    """What unireps.models.extract gives without the export (no cache)."""
    import unireps.zoo  # noqa: F401 - registers zoo:<name>
    from unireps.models import extract, load_model

    enc = load_model(name, device="cpu")
    ds = load_dataset("shapes", n=N, seed=3)
    return enc, extract(enc, ds, modality=modality, layers=["embedding", *enc.layer_names[modality]], cache=False)


def test_round_trip_arrays_equal(export):
    emb = load_embeddings(export)
    assert set(emb.models) == set(MODELS) and emb.datasets == ["shapes"]
    for name, modality in [(ZOO, "image"), (ZOO, "text"), ("minilm", "text")]:
        enc, direct = _direct(name, modality)
        got = emb.arrays(name, "shapes", modality=modality)
        assert list(got) == list(direct) == ["embedding", *enc.layer_names[modality]]
        for layer, arr in direct.items():
            assert got[layer].dtype == np.float32 and got[layer].shape == (N, arr.shape[1])
            np.testing.assert_array_equal(got[layer], np.asarray(arr))
            np.testing.assert_array_equal(emb.get(name, "shapes", layer, modality=modality), got[layer])
    # the two ways of naming a tower, and the embedding by default
    np.testing.assert_array_equal(emb[ZOO, "shapes", "image:embedding"], emb.get(ZOO, "shapes", modality="image"))
    np.testing.assert_array_equal(emb["minilm", "shapes"], emb.get("minilm", "shapes", "embedding"))
    assert np.allclose(np.linalg.norm(emb["minilm", "shapes"], axis=1), 1.0, atol=1e-5)


def test_metadata_complete(export):
    emb = load_embeddings(export)
    m = json.loads((export / "manifest.json").read_text())
    assert m["format"] == "unireps-embeddings" and m["format_version"] == 1
    for name in MODELS:
        enc, _ = _direct(name, "text")
        info = emb.model_info(name)
        assert info["weights_sha256"] == enc.weights_sha256 and len(info["weights_sha256"]) == 64
        assert info["weight_files"] and info["layer_names"] == enc.layer_names
        assert info["family"] == enc.family and info["licence"] and info["default_pooling"]
    assert emb.model_info(ZOO)["licence"].startswith("MIT")
    assert emb.model_info(ZOO)["zoo_card"]["objective"] == "infonce"
    assert emb.model_info("minilm")["licence"] == "apache-2.0"  # read from the model card shipped with it
    ds = load_dataset("shapes", n=N, seed=3)
    d = emb.dataset_info("shapes")
    assert d["content_hash"] == ds.content_hash and d["n"] == N and d["licence"] and d["citation"]
    assert d["loader_kwargs"] == {"n": N, "seed": 3}
    assert emb.source_dataset("shapes").content_hash == ds.content_hash
    items = emb.items("shapes")
    assert items["caption"].tolist() == ds.captions and items["label"].tolist() == ds.labels.tolist()
    assert {"shape", "colour", "size"} <= set(items.columns)
    idx = emb.index()
    assert set(idx.columns) >= {"model", "dataset", "modality", "layer", "pooling", "n", "dim"}
    assert (idx["n"] == N).all() and idx["pooling"].notna().all()
    assert set(idx.loc[idx.model == "minilm", "pooling"]) == {"mean", "norm1"}
    # every file listed with a correct sha256 and size, nothing unlisted but the two descriptions
    import hashlib

    on_disk = {p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file()}
    assert on_disk == set(m["files"]) | {"manifest.json", "datasheet.md"}
    for rel, rec in m["files"].items():
        data = (export / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rec["sha256"] and len(data) == rec["bytes"]
    sheet = emb.datasheet
    for needle in (ZOO, "minilm", "shapes", "apache-2.0", ds.content_hash[:16], "## Collection process"):
        assert needle in sheet
    assert m["how"]["provenance"]["packages"]["torch"] and m["how"]["seconds"] >= 0
    mask = os.umask(0)
    os.umask(mask)
    for p in (export / "manifest.json", export / rel):  # shareable: not the 0600 of temp files
        assert stat.S_IMODE(p.stat().st_mode) == 0o644 & ~mask
    emb.verify()


def test_corrupted_shard_detected(export, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(export, copy)
    shard = next(iter(sorted((copy / "shards").rglob("*.parquet"))))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    rel = shard.relative_to(copy).as_posix()
    emb = load_embeddings(copy)  # lazy: opening works, reading the bad shard does not
    row = next(r for r in emb.manifest["arrays"] if rel in r["files"])
    with pytest.raises(EmbeddingsIntegrityError, match="sha256"):
        emb.get(row["model"], row["dataset"], row["layer"], modality=row["modality"])
    with pytest.raises(EmbeddingsIntegrityError, match=rel):
        emb.verify()
    with pytest.raises(EmbeddingsIntegrityError):
        load_embeddings(copy, verify="eager")
    shard.unlink()
    with pytest.raises(EmbeddingsIntegrityError, match="missing"):
        load_embeddings(copy).verify()


def test_sharding_and_atomic_overwrite(cache, export, tmp_path):
    out = tmp_path / "sharded"
    export_embeddings(out, [ZOO], [f"shapes:n={N},seed=3"], preset=None, shard_rows=10, device="cpu",
                      modalities=("image",))
    emb = load_embeddings(out, verify="eager")
    files = {f for r in emb.manifest["arrays"] for f in r["files"]}
    assert len(files) == 3  # 24 rows in shards of 10
    ref = load_embeddings(export)
    for layer in emb.layers(ZOO, "shapes"):
        np.testing.assert_array_equal(emb.get(ZOO, "shapes", layer), ref.get(ZOO, "shapes", layer, modality="image"))
    # refuses to clobber, replaces only an earlier export, leaves no staging folders behind
    with pytest.raises(ValueError, match="not empty"):
        export_embeddings(out, [ZOO], ["shapes:n=8"], preset=None)
    export_embeddings(out, [ZOO], ["shapes:n=8"], preset=None, overwrite=True, layers="embedding")
    emb = load_embeddings(out)
    assert emb.index()["layer"].unique().tolist() == ["embedding"] and emb.dataset_info("shapes")["n"] == 8
    other = tmp_path / "not-an-export"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an embeddings export"):
        export_embeddings(other, [ZOO], ["shapes:n=8"], preset=None, overwrite=True)
    assert (other / "keep.txt").read_text() == "mine"
    # a failing export leaves nothing: no folder, no partial
    with pytest.raises(ValueError):
        export_embeddings(tmp_path / "bad", [ZOO], ["shapes:n=8", "nosuchdataset"], preset=None)
    with pytest.raises(RuntimeError):  # the module's own error: strict stops at it
        export_embeddings(tmp_path / "strict", [_fixed_size_module()], ["kriegeskorte92:n=4"], preset=None,
                          strict=True)
    assert not (tmp_path / "bad").exists() and not (tmp_path / "strict").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_skipped_recorded_and_encoders_accepted(cache, tmp_path):
    # an Encoder object is exported under its name; what it cannot extract (175 px images) is recorded as skipped
    enc = _fixed_size_module()
    out = export_embeddings(tmp_path / "k", [enc], ["shapes:n=6", "kriegeskorte92:n=4"], preset=None)
    emb = load_embeddings(out)
    assert emb.models == ["fixed32"] and emb.dataset_info("kriegeskorte92")["first_n"] == 4
    assert emb.layers("fixed32", "shapes") == ["embedding", "fc", "output"]
    np.testing.assert_allclose(emb.get("fixed32", "shapes", "fc"),
                               enc.image_layers(load_dataset("shapes", n=6).images, layers=["fc"])["fc"], rtol=1e-6)
    info = emb.model_info("fixed32")
    assert info["load"] is None and info["licence"].startswith("unknown") and info["weights_sha256"]
    sk = emb.skipped
    assert sk[["model", "dataset", "modality"]].values.tolist() == [["fixed32", "kriegeskorte92", "image"]]
    assert "RuntimeError" in sk["reason"].iloc[0]
    with pytest.raises(KeyError, match="not exported"):
        emb.get("fixed32", "kriegeskorte92")
    assert "Not exported" in emb.datasheet


def test_lookup_errors(export):
    emb = load_embeddings(export)
    with pytest.raises(ValueError, match="modality="):
        emb.get(ZOO, "shapes", "embedding")  # both towers have one
    with pytest.raises(KeyError, match="no layer"):
        emb.get(ZOO, "shapes", "nope", modality="image")
    with pytest.raises(KeyError, match="no model"):
        emb.get("zoo:other", "shapes")
    with pytest.raises(KeyError, match="no dataset"):
        emb.get(ZOO, "digits", modality="image")
    assert emb.get("tiny-cnn8-bow-infonce-s0", "shapes", modality="text").shape[0] == N  # zoo: prefix optional
    with pytest.raises(FileNotFoundError, match="not an embeddings export"):
        load_embeddings(export / "items")


def test_parse_dataset_spec():
    assert parse_dataset_spec("shapes:n=500,seed=0") == ("shapes", {"n": 500, "seed": 0})
    assert parse_dataset_spec("Digits:image_size=32,n=10") == ("digits", {"image_size": 32, "n": 10})
    assert parse_dataset_spec("folder:path=/a/b") == ("folder", {"path": "/a/b"})
    with pytest.raises(ValueError, match="key=value"):
        parse_dataset_spec("shapes:500")


def test_cli(cache, tmp_path, capsys):
    from unireps.cli import cmd_export

    parser = argparse.ArgumentParser(prog="unireps")
    cmd_export.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli"
    args = parser.parse_args(["export-embeddings", ZOO, "--preset", "none", "--dataset", "shapes:n=8",
                              "--modality", "image", "--layers", "embedding,conv1", "--out", str(out), "--json",
                              "--licence", f"{ZOO}=CC0-1.0"])
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["arrays"] == 2 and summary["models"] == 1 and summary["skipped"] == []
    emb = load_embeddings(Path(summary["out"]))
    assert emb.layers(ZOO, "shapes") == ["embedding", "conv1"]
    assert emb.model_info(ZOO)["licence"] == "CC0-1.0"
    args = parser.parse_args(["export-embeddings", "--verify", "--out", str(out), "--json"])
    assert args.func(args) == 0 and json.loads(capsys.readouterr().out)["verified"] is True


def test_layer_named_item(tmp_path):
    """A layer called 'item' does not collide with the row-index column."""
    import torch
    from torch import nn

    from unireps.models import from_module

    torch.manual_seed(0)
    net = nn.Sequential()
    net.add_module("item", nn.Conv2d(3, 4, 3))
    enc = from_module(net, layers=["item"], name="itemnet", device="cpu")
    out = export_embeddings(tmp_path / "e", [enc], ["shapes:n=5"], preset=None)
    emb = load_embeddings(out, verify="eager")
    want = enc.image_layers(load_dataset("shapes", n=5).images, layers=["item"])["item"]
    np.testing.assert_allclose(emb.get("itemnet", "shapes", "item"), want, rtol=1e-6)
