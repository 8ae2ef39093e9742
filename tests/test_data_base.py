"""Registry, the Dataset container, subset and content_hash."""

import numpy as np
import pandas as pd
import pytest

from unireps.data import BrainDataset, Dataset, DatasetInfo, list_datasets, load_dataset


def _tiny(n=4, name="tiny"):
    imgs = np.arange(n * 2 * 2 * 3, dtype=np.uint8).reshape(n, 2, 2, 3)
    return Dataset(name, imgs, [f"item {i}" for i in range(n)], labels=np.arange(n),
                   factors=pd.DataFrame({"k": list(range(n))}), metadata={"a": 1})


def test_list_datasets_names_and_fields():
    infos = list_datasets()
    assert [i.name for i in infos] == ["shapes", "kriegeskorte92", "digits", "folder"]
    for i in infos:
        assert isinstance(i, DatasetInfo) and i.description and i.licence and i.citation
        assert "image" in i.modalities and "text" in i.modalities
    assert {i.name: i.n for i in infos}["kriegeskorte92"] == 92


def test_unknown_name_lists_accepted_names():
    with pytest.raises(ValueError, match="Unknown dataset 'nope'.*shapes, kriegeskorte92, digits, folder"):
        load_dataset("nope")


def test_unknown_and_missing_options():
    with pytest.raises(ValueError, match="unknown option.*'colour'.*accepted options"):
        load_dataset("shapes", colour="red")
    with pytest.raises(ValueError, match="needs option.*path"):
        load_dataset("folder")


def test_validation_errors():
    imgs = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8 RGB"):
        Dataset("x", imgs.astype(float), ["a", "b"])
    with pytest.raises(ValueError, match="2 images but 1 captions"):
        Dataset("x", imgs, ["a"])
    with pytest.raises(ValueError, match="labels"):
        Dataset("x", imgs, ["a", "b"], labels=np.array([0.5, 1.0]))


def test_subset_and_hash():
    ds = _tiny()
    sub = ds.subset([3, 1])
    assert len(sub) == 2 and sub.captions == ["item 3", "item 1"]
    assert sub.labels.tolist() == [3, 1] and sub.factors["k"].tolist() == [3, 1]
    assert sub.metadata["a"] == 1 and sub.metadata["subset_indices"] == [3, 1]
    assert ds.subset(np.array([True, False, False, True])).captions == ["item 0", "item 3"]
    assert ds.subset(range(4)).content_hash == ds.content_hash
    assert sub.content_hash != ds.content_hash
    h = ds.content_hash
    assert len(h) == 64 and h == _tiny().content_hash
    other = _tiny()
    other.captions[0] = "changed"
    assert other.content_hash != h
    nolab = Dataset("tiny", ds.images, ds.captions)
    assert nolab.content_hash != h
    with pytest.raises(ValueError, match="out of range"):
        ds.subset([4])
    assert "n=4" in repr(ds)


def test_brain_subset_restricts_rdms():
    ds = _tiny()
    rdm = np.arange(16, dtype=float).reshape(4, 4)
    b = BrainDataset("b", ds.images, ds.captions, rdms={"r": rdm})
    s = b.subset([2, 0])
    assert isinstance(s, BrainDataset)
    assert s.rdms["r"].tolist() == [[10.0, 8.0], [2.0, 0.0]]
    with pytest.raises(ValueError, match="no RDM named"):
        b.condensed("missing")
