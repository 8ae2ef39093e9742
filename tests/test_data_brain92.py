"""The 92-object set: images, captions, RDMs, the known monkey-vs-human IT answer, checksums."""

import shutil

import numpy as np
import pytest
from scipy.spatial.distance import squareform
from scipy.stats import pearsonr, spearmanr

from unireps.data import BrainDataset, brain_rdms, load_dataset
from unireps.data.brain92 import SHA256, default_dir


@pytest.fixture(scope="module")
def k92():
    return load_dataset("kriegeskorte92")


def test_images_captions_labels(k92):
    assert isinstance(k92, BrainDataset) and len(k92) == 92
    assert k92.images.shape == (92, 175, 175, 3) and k92.images.dtype == np.uint8
    assert len(k92.captions) == 92 and all(c.strip() for c in k92.captions)
    assert len(set(k92.captions)) == 92
    assert k92.labels.shape == (92,) and len(k92.metadata["label_names"]) == 6
    assert k92.factors["category"].value_counts()["human face"] == 12
    assert "Neuron 60(6)" in k92.metadata["citation"] and "MIT" in k92.metadata["licence"]


def test_known_answer_monkey_vs_human_it(k92):
    m, h = k92.condensed("monkey_IT"), k92.condensed("human_IT")
    assert m.shape == h.shape == (4186,)
    assert round(spearmanr(m, h)[0], 3) == 0.439
    assert round(pearsonr(m, h)[0], 3) == 0.491


def test_square_rdms(k92):
    r = k92.rdms
    assert len([k for k in r if k.startswith("human_IT/")]) == 8
    assert len([k for k in r if k.startswith("behaviour/")]) == 16
    assert {k.split("/")[1] for k in r if k.startswith("model/")} == {
        "animacy", "FaceBodyManmadeNatobj", "monkeyIT", "EVA", "HMAX", "V1", "Silhouette", "RADON"}
    for k, v in r.items():
        assert v.shape == (92, 92) and np.allclose(v, v.T) and np.allclose(np.diag(v), 0), k
    # the condensed fig-1 vector maps to the square matrix in squareform order: the square
    # monkeyIT model RDM shipped separately equals it
    assert np.allclose(r["model/monkeyIT"], r["monkey_IT"])
    assert np.allclose(squareform(r["human_IT"], checks=False), k92.condensed("human_IT"))


def test_brain_rdms_function(k92):
    d = brain_rdms("kriegeskorte92")
    assert set(d) == set(k92.rdms) and np.array_equal(d["human_IT"], k92.rdms["human_IT"])
    with pytest.raises(ValueError, match="has no brain RDMs.*kriegeskorte92"):
        brain_rdms("digits")


def test_corrupt_or_missing_file_is_refused(tmp_path):
    for f in default_dir().iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    (tmp_path / "92_modelRDMs.mat").chmod(0o644)
    with open(tmp_path / "92_modelRDMs.mat", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    expected = SHA256["92_modelRDMs.mat"]
    with pytest.raises(ValueError, match=f"92_modelRDMs.mat is corrupt or modified.*expected {expected}"):
        load_dataset("kriegeskorte92", data_dir=tmp_path)
    (tmp_path / "92_behavRDMs.mat").unlink()
    with pytest.raises(FileNotFoundError, match="92_behavRDMs.mat is missing"):
        load_dataset("kriegeskorte92", data_dir=tmp_path)


def test_photos_at_a_network_resolution():
    ds = load_dataset("kriegeskorte92", image_size=240)
    assert ds.images.shape == (92, 240, 240, 3) and ds.images.dtype == np.uint8
    assert ds.content_hash != load_dataset("kriegeskorte92").content_hash
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("kriegeskorte92", image_size=2)
