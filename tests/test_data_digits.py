"""scikit-learn digits as an image-caption dataset."""

import re

import numpy as np
import pytest

from unireps.data import load_dataset
from unireps.data.digits import WORDS


def test_digits_images_and_captions_match_labels():
    ds = load_dataset("digits")
    assert ds.images.shape == (1797, 8, 8, 3) and ds.images.dtype == np.uint8
    assert ds.images.max() == 255 and ds.images.min() == 0
    assert set(ds.labels.tolist()) == set(range(10))
    for cap, y in zip(ds.captions, ds.labels):
        numbers = [w for w in WORDS if w in re.findall(r"[a-z]+", cap)]
        assert numbers == [WORDS[y]] and "hand" in cap, cap
    assert ds.content_hash == load_dataset("digits").content_hash


def test_digits_upsampling_is_nearest():
    small, big = load_dataset("digits"), load_dataset("digits", image_size=32)
    assert big.images.shape == (1797, 32, 32, 3)
    assert np.array_equal(big.images[:, ::4, ::4], small.images)
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("digits", image_size=4)
