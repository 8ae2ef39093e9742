"""The registered image-text bridges ``bridge:lite{0,1,2}-minilm`` and the study on the real towers."""

from __future__ import annotations

import numpy as np
import pytest

from unireps.errors import UnknownModelError
from unireps.models import list_models, load_model
from unireps.models.families import efficientnet_lite, minilm


def _towers_installed() -> bool:
    return efficientnet_lite.available("efficientnet-lite0") and minilm.available()


needs_towers = pytest.mark.skipif(not _towers_installed(), reason="EfficientNet-Lite0 / MiniLM packages not installed")


def test_bridges_are_listed_and_labelled_as_what_they_are():
    info = {m.name: m for m in list_models()}
    for t in ("lite0-minilm", "lite1-minilm", "lite2-minilm"):
        m = info[f"bridge:{t}"]
        assert m.family == "bridge" and m.modalities == ("image", "text")
        assert "not CLIP" in m.description and "92 captioned photos" in m.description


def test_unknown_bridge_names_the_known_ones():
    with pytest.raises(UnknownModelError, match="bridge:lite0-minilm"):
        load_model("bridge:lite9-minilm")
    with pytest.raises(ValueError, match="accepted values"):
        load_model("bridge:lite0-minilm", method="svd")


@pytest.mark.slow
@needs_towers
def test_bridge_model_encodes_both_modalities_and_caches_its_map(tmp_path):
    from unireps.data import load_dataset

    ds = load_dataset("kriegeskorte92")
    enc = load_model("bridge:lite0-minilm", cache_dir=tmp_path)
    assert enc.family == "bridge" and "not CLIP" in enc.description
    files = list((tmp_path / "bridge").glob("*.npz"))
    assert len(files) == 1 and not list((tmp_path / "bridge").glob("*.tmp"))
    img = enc.encode_images(ds.images[:12])
    txt = enc.encode_texts(ds.captions)
    assert img.shape == (12, enc.embedding_dim) and txt.shape == (92, enc.embedding_dim)
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)
    # the map was fit on these 92 photos, so this is in-sample: most photos find their own caption
    assert np.mean((img @ txt.T).argmax(1) == np.arange(12)) >= 0.75
    again = load_model("bridge:lite0-minilm", cache_dir=tmp_path)  # read from the cache, not refit
    np.testing.assert_allclose(again.encode_images(ds.images[:12]), img, atol=1e-5)
    assert enc.image_layers(ds.images[:2], layers=["pooled"])["pooled"].shape == (2, 1280)


@pytest.mark.slow
@needs_towers
def test_study_on_real_towers_beats_its_baselines():
    from unireps.transfer import bridge_study, stratified_splits, summarize_bridge
    from unireps.transfer.bridge_study import real_tower_features

    reps, text, cats = real_tower_features(("efficientnet-lite0",))
    splits = stratified_splits(cats, n_splits=3)
    st = bridge_study(reps, text, splits, methods=("procrustes",), n_anchors=(0,), lit=False, seed_pairs=(10,))
    r = summarize_bridge(st)["retrieval"].set_index(["tower", "pairing"])["i2t_R@1_mean"]
    chance = 1 / len(splits[0][1])
    assert r[("efficientnet-lite0", "true")] > max(4 * chance, r[("efficientnet-lite0", "shuffled")] + 0.1)
    assert r[("efficientnet-lite0", "true")] > r[("efficientnet-lite0-untrained", "true")] + 0.1


def test_cli_bridge_refuses_bad_options_before_computing(capsys):
    from unireps.cli.main import main

    assert main(["bridge", "--test-fraction", "1.5"]) == 2
    assert "--test-fraction" in capsys.readouterr().err
    assert main(["bridge", "--splits", "0"]) == 2


@pytest.mark.slow
@needs_towers
def test_cli_bridge_prints_the_table_and_writes_json_and_markdown(tmp_path, capsys):
    import json

    from unireps.cli.main import main

    out = tmp_path / "run"
    assert main(["bridge", "--towers", "lite0", "--splits", "2", "--anchors", "0", "--seed-pairs", "0", "5",
                 "--no-lit", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "efficientnet-lite0-untrained" in text and "null i2t R@1" in text and "75.1" in text
    record = json.loads((out / "bridge.json").read_text())
    assert record["meta"]["n_test"] == 31 and record["meta"]["n_train"] == 61
    towers = {r["tower"] for r in record["retrieval"]}
    assert towers == {"efficientnet-lite0", "efficientnet-lite0-untrained"}
    assert "| tower |" in (out / "bridge.md").read_text()
    assert not list(out.glob(".*.tmp"))
