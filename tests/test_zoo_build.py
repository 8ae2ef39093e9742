"""unireps.zoo: the tiny preset trains above chance, caches, reloads identically, is deterministic."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

import unireps.zoo as zoo
from unireps.zoo.catalog import entry, preset_entries
from unireps.zoo.data import zoo_data
from unireps.zoo.store import atomic_dir
from unireps.zoo.train import deterministic, make_task

PLAIN = "tiny-cnn8-bow-infonce-s0"
HF = "tiny-clip-s0"

CARD_FIELDS = {
    "name", "architecture", "objective", "parameters", "data", "steps", "seed", "retrieval",
    "retrieval_compositional", "probe", "train_time_s", "eval_time_s", "variant", "recipe_hash",
    "weights_sha256", "summary", "untrained_twin",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny preset, built once into a fresh cache (UNIREPS_CACHE-style root: <root>/zoo)."""
    root = tmp_path_factory.mktemp("cache")
    t0 = time.perf_counter()
    result = zoo.build("tiny", cache_dir=root / "zoo", progress=False, workers=1)
    return {"root": root, "zoo": root / "zoo", "result": result, "seconds": time.perf_counter() - t0}


@pytest.fixture
def cache_env(tiny, monkeypatch):
    monkeypatch.setenv("UNIREPS_CACHE", str(tiny["root"]))
    return tiny


def test_tiny_build_makes_every_model(tiny):
    r = tiny["result"]
    names = {e.name for e in preset_entries("tiny")}
    assert set(r.built) == names and not r.skipped
    assert r.trained_runs == 3  # two plain seeds and the CLIP stand-in; twins need no training
    assert {f"{PLAIN}-untrained", f"{PLAIN}-ckpt50", f"{HF}-untrained"} <= names
    rows = {row["name"]: row for row in zoo.list_zoo("tiny", cache_dir=tiny["zoo"])}
    assert set(rows) == names and all(row["built"] for row in rows.values())


def test_training_beats_chance_and_untrained_twin(tiny):
    card = zoo.load_card(PLAIN, cache_dir=tiny["zoo"])
    twin = zoo.load_card(f"{PLAIN}-untrained", cache_dir=tiny["zoo"])
    chance = card["retrieval"]["chance_r1"]
    for way in ("i2t_r1", "t2i_r1"):
        assert card["retrieval"][way] > max(10 * chance, 0.15), card["retrieval"]
        assert card["retrieval"][way] > twin["retrieval"][way] + 0.1
    assert card["probe"]["accuracy"]["colour"] > card["probe"]["chance"]["colour"] + 0.15
    assert twin["steps"] == 0 and twin["variant"] == "untrained" and card["steps"] == card["total_steps"] == 60
    ckpt = zoo.load_card(f"{PLAIN}-ckpt50", cache_dir=tiny["zoo"])
    assert ckpt["steps"] == 30 and ckpt["percent_trained"] == 50


def test_card_has_required_fields(tiny):
    for name in (PLAIN, HF, f"{PLAIN}-untrained"):
        card = zoo.load_card(name, cache_dir=tiny["zoo"])
        assert CARD_FIELDS <= set(card), CARD_FIELDS - set(card)
        assert card["data"]["dataset"] == "shapes" and len(card["data"]["content_hash"]) == 64
        assert card["data"]["n"] == 512 and card["parameters"]["total"] > 0
        assert set(card["probe"]["accuracy"]) >= {"shape", "colour"}
        assert card["retrieval"]["convention"].startswith("factor-identical")
        assert json.loads(json.dumps(card)) == card  # plain JSON
    assert zoo.load_card(HF, cache_dir=tiny["zoo"])["architecture"]["transformers_class"] == "CLIPModel"


def test_second_build_is_cached(tiny):
    before = {p.name: p.stat().st_mtime_ns for p in tiny["zoo"].glob("*/model.safetensors")}
    t0 = time.perf_counter()
    again = zoo.build("tiny", cache_dir=tiny["zoo"], progress=False)
    assert again.trained_runs == 0 and not again.built
    assert sorted(again.skipped) == sorted(e.name for e in preset_entries("tiny"))
    assert time.perf_counter() - t0 < 2.0
    assert before == {p.name: p.stat().st_mtime_ns for p in tiny["zoo"].glob("*/model.safetensors")}


def test_reload_gives_identical_embeddings_and_card_numbers(cache_env):
    from unireps.models import load_model
    from unireps.zoo.evaluate import retrieval

    data = zoo_data(512, 200, 400)
    a, b = load_model(f"zoo:{PLAIN}"), load_model(f"zoo:{PLAIN}")
    assert a.modalities == ("image", "text") and a.embedding_dim == 64
    assert a.layer_names["image"][-1] == "output" and a.layer_names["text"][0] == "embed"
    ia, ta = a.encode_images(data.eval.images), a.encode_texts(data.eval.captions)
    np.testing.assert_array_equal(ia, b.encode_images(data.eval.images))
    np.testing.assert_array_equal(ta, b.encode_texts(data.eval.captions))
    card = zoo.load_card(PLAIN)
    again = retrieval(ia, ta, data.eval)
    assert abs(again["i2t_r1"] - card["retrieval"]["i2t_r1"]) <= 0.01
    assert abs(again["t2i_r1"] - card["retrieval"]["t2i_r1"]) <= 0.01
    layers = a.image_layers(data.eval.images[:4])
    assert list(layers) == a.layer_names["image"] and all(v.shape[0] == 4 for v in layers.values())


def test_hf_stand_in_loads_through_the_family_adapter(cache_env):
    from unireps.models import load_model
    from unireps.models.families.clip import CLIPEncoder

    enc = load_model(f"zoo:{HF}")
    assert isinstance(enc, CLIPEncoder) and enc.family == "clip" and enc.name == f"zoo:{HF}"
    data = zoo_data(512, 200, 400)
    img, txt = enc.encode_images(data.eval.images[:7]), enc.encode_texts(data.eval.captions[:7])
    assert img.shape == (7, 32) and txt.shape == (7, 32)  # tiny projection_dim
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1.0, atol=1e-5)
    # the same folder through the generic path, load_model(<folder>), gives the same vectors
    np.testing.assert_array_equal(load_model(str(cache_env["zoo"] / HF)).encode_images(data.eval.images[:7]), img)


def test_registry_lists_zoo_models(cache_env):
    from unireps.models import list_models

    zoo.register_zoo_models()
    infos = {m.name: m for m in list_models() if m.name.startswith("zoo:")}
    assert infos[f"zoo:{PLAIN}"].available and infos[f"zoo:{PLAIN}"].source_kind == "zoo"
    assert infos[f"zoo:{HF}"].family == "clip"
    assert not infos["zoo:clip-s0-untrained"].available  # default preset: not built in this cache


def test_same_seed_same_weights_different_seed_different():
    rec = entry(PLAIN).recipe
    data = zoo_data(rec.n_train, rec.n_eval, rec.n_probe)

    def train(seed: int) -> dict[str, torch.Tensor]:
        from dataclasses import replace

        r = replace(rec, seed=seed, steps=8)
        with deterministic():
            task = make_task(r, data)
            model = task.build()
            task.train(model, 8, set())
        return model.state_dict()

    a, b, c = train(0), train(0), train(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_rebuild_in_another_cache_is_bit_identical(tiny, tmp_path):
    name = "tiny-cnn8-bow-infonce-s1"
    r = zoo.build(names=[name, f"{name}-untrained"], cache_dir=tmp_path, progress=False)
    assert r.trained_runs == 1
    for n in (name, f"{name}-untrained"):
        assert zoo.load_card(n, cache_dir=tmp_path)["weights_sha256"] == \
            zoo.load_card(n, cache_dir=tiny["zoo"])["weights_sha256"]
    # the twin is exactly the initialisation training started from
    from safetensors.torch import load_file

    rec = entry(name).recipe
    with deterministic():
        init = make_task(rec, zoo_data(rec.n_train, rec.n_eval, rec.n_probe)).build().state_dict()
    saved = load_file(str(tmp_path / f"{name}-untrained" / "model.safetensors"))
    assert set(saved) == set(init) and all(torch.equal(saved[k], init[k]) for k in init)


def test_worker_processes_give_the_same_models(tiny, tmp_path):
    names = [f"{PLAIN}-untrained", f"{HF}-untrained"]  # two recipes, no training: quick
    r = zoo.build(names=names, cache_dir=tmp_path, progress=False, workers=2)
    assert sorted(r.built) == sorted(names) and r.trained_runs == 0
    for n in names:
        assert zoo.load_card(n, cache_dir=tmp_path)["weights_sha256"] == \
            zoo.load_card(n, cache_dir=tiny["zoo"])["weights_sha256"]


def test_atomic_dir_leaves_nothing_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "m") as tmp:
            (tmp / "model.safetensors").write_bytes(b"x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(tmp_path / "m") as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(tmp_path / "m") as tmp:  # replaces an existing folder
        (tmp / "b").write_text("2")
    assert [p.name for p in tmp_path.iterdir()] == ["m"] and [p.name for p in (tmp_path / "m").iterdir()] == ["b"]


def test_corrupted_weights_are_rebuilt(tiny, tmp_path):
    name = f"{PLAIN}-untrained"
    zoo.build(names=[name], cache_dir=tmp_path, progress=False)
    weights = tmp_path / name / "model.safetensors"
    sha = zoo.load_card(name, cache_dir=tmp_path)["weights_sha256"]
    weights.write_bytes(b"corrupt")
    with pytest.raises(FileNotFoundError):
        zoo.load_card(name, cache_dir=tmp_path)
    r = zoo.build(names=[name], cache_dir=tmp_path, progress=False)
    assert r.built == [name] and zoo.load_card(name, cache_dir=tmp_path)["weights_sha256"] == sha


def test_catalogue_and_errors(tmp_path):
    default = preset_entries("default")
    names = [e.name for e in default]
    assert len(names) == len(set(names))
    trained = [e for e in default if e.variant == "trained"]
    assert {f"{e.name}-untrained" for e in trained} <= set(names)
    assert {e.recipe.family for e in trained if e.recipe.kind == "hf"} == {"clip", "siglip", "align", "blip", "flava"}
    assert {e.recipe.objective for e in trained if e.recipe.kind == "plain"} == {
        "infonce", "sigmoid", "supervised", "reconstruction"}
    assert {e.name for e in preset_entries("default")} <= {e.name for e in preset_entries("full")}
    assert entry("zoo:clip-s0").recipe.hash() == entry("clip-s0").recipe.hash()
    with pytest.raises(ValueError, match="unknown zoo model"):
        entry("clip-s9")
    with pytest.raises(ValueError, match="preset"):
        zoo.build("huge", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not built"):
        zoo.load_card("clip-s0", cache_dir=tmp_path)


def test_zoo_dir_follows_unireps_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("UNIREPS_CACHE", str(tmp_path))
    assert zoo.zoo_dir() == tmp_path / "zoo"
    monkeypatch.delenv("UNIREPS_CACHE")
    assert zoo.zoo_dir().parts[-3:] == (".cache", "unireps", "zoo")
