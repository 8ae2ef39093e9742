"""The procedurally generated shapes world: determinism, captions vs factors, held-out combinations."""

import re

import numpy as np
import pytest

from unireps.data import load_dataset
from unireps.data.shapes import COLOURS, HELD_OUT, INVERSE, ONE, POSITIONS, SHAPES, SIZE_WORDS, TWO

SIZE_OF = {w: s for s, words in SIZE_WORDS.items() for w in words}
OBJ = re.compile(r"\ban? (\S+) (" + "|".join(COLOURS) + r") (" + "|".join(SHAPES) + r")\b")
REL = re.compile(r"to the left of|to the right of|above|below")
REL_NAME = {"to the left of": "left of", "to the right of": "right of", "above": "above", "below": "below"}


def test_same_seed_same_bytes_other_seed_differs():
    a = load_dataset("shapes", n=50, seed=3)
    b = load_dataset("shapes", n=50, seed=3)
    c = load_dataset("shapes", n=50, seed=4)
    assert a.content_hash == b.content_hash and a.captions == b.captions
    assert np.array_equal(a.images, b.images)
    assert a.content_hash != c.content_hash
    assert a.images.shape == (50, 32, 32, 3) and a.images.dtype == np.uint8


def test_one_object_captions_match_factors_for_every_template():
    ds = load_dataset("shapes", n=400, seed=1, image_size=40)
    f = ds.factors
    assert set(f["template"]) == set(range(len(ONE)))
    assert set(f["position"]) == set(POSITIONS)
    for cap, row in zip(ds.captions, f.itertuples()):
        objs = OBJ.findall(cap)
        assert len(objs) == 1, cap
        size_word, colour, shape = objs[0]
        assert (SIZE_OF[size_word], colour, shape) == (row.size, row.colour, row.shape), cap
        assert row.position in cap.replace("-", " "), cap
        assert SHAPES[ds.labels[row.Index]] == row.shape


def test_two_object_captions_match_factors_for_every_template():
    ds = load_dataset("shapes", n=300, seed=2, n_objects=2)
    f = ds.factors
    assert {"shape2", "colour2", "size2", "x2", "y2", "position2", "relation"} <= set(f.columns)
    assert set(f["template"]) == set(range(len(TWO)))
    for cap, row in zip(ds.captions, f.itertuples()):
        rel = REL_NAME[REL.search(cap).group(0)]
        got = [(SIZE_OF[w], c, s) for w, c, s in OBJ.findall(cap)]
        o1, o2 = (row.size, row.colour, row.shape), (row.size2, row.colour2, row.shape2)
        # either "o1 <relation> o2" or the paraphrase "o2 <inverse relation> o1"
        assert (rel, got) in [(row.relation, [o1, o2]), (INVERSE[row.relation], [o2, o1])], cap
    # the relation agrees with the positions
    dx, dy = f["x"] - f["x2"], f["y"] - f["y2"]
    assert (dx[f["relation"] == "left of"] < 0).all() and (dx[f["relation"] == "right of"] > 0).all()
    assert (dy[f["relation"] == "above"] < 0).all() and (dy[f["relation"] == "below"] > 0).all()


def test_held_out_pairs_absent_from_train_present_in_test():
    held = set(HELD_OUT)
    train = load_dataset("shapes", n=2000, seed=0, split="train", n_objects=2).factors
    pairs1 = set(zip(train["shape"], train["colour"]))
    pairs2 = set(zip(train["shape2"], train["colour2"]))
    assert not (pairs1 | pairs2) & held
    assert set(train["shape"]) == set(SHAPES) and set(train["colour"]) == set(COLOURS)
    test = load_dataset("shapes", n=300, seed=0, split="test").factors
    assert set(zip(test["shape"], test["colour"])) == held
    allsplit = load_dataset("shapes", n=3000, seed=0).factors
    assert held <= set(zip(allsplit["shape"], allsplit["colour"]))


def test_objects_drawn_where_factors_say():
    ds = load_dataset("shapes", n=30, seed=5, image_size=48, n_objects=2)
    for img, row in zip(ds.images, ds.factors.itertuples()):
        for x, y, c in ((row.x, row.y, row.colour), (row.x2, row.y2, row.colour2)):
            px = img[int(y * 48), int(x * 48)].astype(int)
            assert np.abs(px - np.array(COLOURS[c])).max() <= 2, (row, px)


@pytest.mark.parametrize("kwargs, match", [
    ({"image_size": 16}, "image_size must be an integer from 32 to 64"),
    ({"image_size": 65}, "image_size"),
    ({"n": 0}, "n must be a positive integer"),
    ({"split": "val"}, "split must be"),
    ({"n_objects": 3}, "n_objects must be 1 or 2"),
    ({"background": "plaid"}, "background must be one of"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("shapes", **kwargs)
