"""describe_model / model_kind: the one place that says what a model is (real weights, stand-in, twin)."""

from __future__ import annotations

import pytest

from unireps.models import ModelInfo, describe_model, list_models, model_kind


def test_every_listed_model_says_what_it_is():
    vocabulary = ("pretrained on ImageNet (real weights)", "pretrained MiniLM sentence encoder (real weights)",
                  "real pretrained weights", "stand-in for ", "untrained twin", "small model trained here",
                  "real image tower + real text tower joined by a linear map fit here (not CLIP)")
    for info in list_models():
        if info.source_kind not in ("hub", "package", "zoo", "toy"):  # registered by another test at run time
            continue
        text = describe_model(info)
        assert text.startswith(vocabulary), (info.name, text)
        if info.source_kind == "zoo":
            assert "real weights" not in text and "synthetic shapes" in text or "untrained twin" in text


def test_labels_of_the_models_the_issue_names():
    assert model_kind("efficientnet-lite2") == "pretrained on ImageNet (real weights)"
    assert model_kind("efficientnet-lite2-untrained").startswith("untrained twin")
    assert model_kind("minilm") == "pretrained MiniLM sentence encoder (real weights)"
    assert describe_model("zoo:clip-s0").startswith("stand-in for CLIP, trained here on synthetic shapes: a small ")
    assert describe_model("zoo:blip-s0").startswith("stand-in for BLIP, trained here")
    assert model_kind("zoo:cnn16-gru-infonce-s0-ckpt25").endswith("a checkpoint part-way through training")
    assert model_kind("clip-vit-b32").startswith("real pretrained weights (Hugging Face hub")
    assert "untrained twin of zoo:clip-s0" in describe_model("zoo:clip-s0-untrained")
    assert describe_model("bridge:lite0-minilm").startswith("real image tower + real text tower joined by a linear "
                                                            "map fit here (not CLIP): ")


def test_user_models_and_unknown_names():
    mine = ModelInfo("my-net", "unknown", ("image",), "/tmp/x", "local", True, "a ResNet I trained")
    assert describe_model(mine) == "a local model folder: a ResNet I trained"
    assert model_kind(ModelInfo("f", "unknown", ("image",), "", "other", True)) == "registered by the user"
    toy = ModelInfo("toy:digits-mlp-s0", "module", ("image",), "", "toy", True, "digits MLP, trained, seed 0")
    assert describe_model(toy).startswith("small model trained here on scikit-learn digits")
    with pytest.raises(ValueError, match="unireps models"):
        describe_model("no-such-model")


def test_cli_tables_carry_the_description(capsys):
    from unireps.cli import main

    assert main(["models", "--json"]) == 0
    import json

    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["efficientnet-lite0"]["description"].startswith("pretrained on ImageNet (real weights)")
    assert rows["zoo:clip-s0"]["description"].startswith("stand-in for CLIP")
    assert main(["zoo", "--json"]) == 0
    zoo = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert zoo["clip-s0"]["description"].startswith("stand-in for CLIP, trained here on synthetic shapes")
    assert zoo["clip-s0-untrained"]["description"].startswith("untrained twin")


def test_names_are_described_from_one_listing_that_follows_the_registry(monkeypatch):
    """Describing many models by name lists the registry once (a listing checks every zoo model's files: the app's
    menus described 256 names in 23 s when each name listed them all), and a model registered, replaced or removed
    afterwards is described as it is now."""
    from unireps.models import describe, register_model, unregister_model

    listings = []
    real = describe.list_models
    monkeypatch.setattr(describe, "list_models", lambda: listings.append(1) or real())
    names = [m.name for m in real() if m.source_kind in ("zoo", "package")]
    kinds = [model_kind(n) for n in names]
    assert len(names) > 100 and len(listings) <= 1
    assert kinds == [model_kind(m) for m in real() if m.source_kind in ("zoo", "package")]
    register_model("my-describe-net", "/nonexistent", family="efficientnet-lite", source_kind="local")
    try:
        assert model_kind("my-describe-net") == "pretrained on ImageNet (real weights)"
        register_model("my-describe-net", "/nonexistent", family="unknown", source_kind="local", overwrite=True)
        assert model_kind("my-describe-net") == "a local model folder"
    finally:
        unregister_model("my-describe-net")
    with pytest.raises(ValueError, match="unireps models"):
        model_kind("my-describe-net")
