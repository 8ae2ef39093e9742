"""`shapes`: a procedurally generated image-caption world with known generative factors.

Each image shows one (or two) coloured shapes on a plain background, placed in a cell of a 3x3 grid
with a little jitter. Factors: shape (7), colour (8), size (3), position (9 cells), and for two
objects the second object's factors plus the spatial relation of object 1 to object 2.
``factors`` columns: shape, colour, size, x, y (centre as a fraction of the width/height, y down),
position, [shape2, colour2, size2, x2, y2, position2, relation], template.
Captions come from several paraphrase templates; shape and colour words are always the canonical
ones, size words may be synonyms ("tiny", "big"), see `SIZE_WORDS`.

Compositional split: the (shape, colour) pairs in `HELD_OUT` never occur in ``split="train"``;
in ``split="test"`` the first object is always one of them (a second object may be any pair).
Every shape and every colour still occurs in train, only these combinations are new.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..sizing import available_memory, check_memory
from .base import Dataset
from .shapes_render import SHAPE_TESTS, draw_shape

SHAPES = tuple(SHAPE_TESTS)  # circle, square, triangle, diamond, star, cross, heart
COLOURS = {
    "red": (220, 40, 40), "orange": (245, 140, 30), "yellow": (240, 220, 40), "green": (40, 170, 60),
    "cyan": (40, 200, 220), "blue": (50, 90, 230), "purple": (145, 65, 205), "pink": (245, 135, 190),
}
SIZES = {"small": 0.09, "medium": 0.12, "large": 0.15}  # bounding radius / image size
SIZE_WORDS = {"small": ("small", "tiny", "little"), "medium": ("medium", "medium-sized", "mid-sized"),
              "large": ("large", "big")}
ROWS, COLS = ("top", "center", "bottom"), ("left", "center", "right")
POSITIONS = tuple("center" if r == c else f"{r} {c}" for r in ROWS for c in COLS)  # "top left" ... "center"
HELD_OUT = (("circle", "blue"), ("square", "red"), ("triangle", "green"), ("diamond", "yellow"),
            ("star", "purple"), ("cross", "orange"), ("heart", "cyan"))
BACKGROUNDS = {"black": (0, 0, 0), "grey": (128, 128, 128), "white": (255, 255, 255)}
JITTER = 0.015  # max centre offset from the cell centre, as a fraction of image size

ONE = ("{obj} in the {pos}", "there is {obj} at the {pos}", "{POS}: {obj}",
       "{obj}, located in the {pos} of the image", "in the {pos} there is {obj}")
TWO = ("{a} {rel} {b}", "there is {a} {rel} {b}", "{b} {inv} {a}", "an image showing {a} {rel} {b}")
RELATIONS = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}
INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _relation(cell1: int, cell2: int) -> str:
    (r1, c1), (r2, c2) = divmod(cell1, 3), divmod(cell2, 3)
    if abs(c1 - c2) >= abs(r1 - r2):
        return "left of" if c1 < c2 else "right of"
    return "above" if r1 < r2 else "below"


def _sample_objects(rng, n: int, pairs: list[tuple[str, str]], cell: np.ndarray) -> dict[str, np.ndarray]:
    pair = rng.integers(len(pairs), size=n)
    jitter = rng.uniform(-JITTER, JITTER, size=(n, 2))
    return {
        "shape": np.array([pairs[i][0] for i in pair]),
        "colour": np.array([pairs[i][1] for i in pair]),
        "size": np.array(list(SIZES))[rng.integers(3, size=n)],
        "x": (cell % 3 * 2 + 1) / 6 + jitter[:, 0],
        "y": (cell // 3 * 2 + 1) / 6 + jitter[:, 1],
        "position": np.array(POSITIONS)[cell],
        "size_word": rng.integers(6, size=n),  # index into SIZE_WORDS[size], taken modulo its length
    }


def _render(objs: list[dict], size_px: int, background: str, ss: int) -> np.ndarray:
    n = len(objs[0]["shape"])
    images = np.empty((n, size_px, size_px, 3), np.uint8)
    bg = np.array(BACKGROUNDS[background], float)
    rgb = {c: np.array(v, float) for c, v in COLOURS.items()}
    for i in range(n):
        img = np.broadcast_to(bg, (size_px, size_px, 3)).copy()
        for o in objs:
            draw_shape(img, o["shape"][i], o["x"][i] * size_px, o["y"][i] * size_px,
                       SIZES[o["size"][i]] * size_px, rgb[o["colour"][i]], ss)
        images[i] = np.clip(np.rint(img), 0, 255)
    return images


def _phrase(o: dict, i: int) -> str:
    words = SIZE_WORDS[o["size"][i]]
    return _article(f"{words[o['size_word'][i] % len(words)]} {o['colour'][i]} {o['shape'][i]}")


def _caption(objs: list[dict], relation: str | None, template: int, i: int) -> str:
    if relation is None:
        pos = objs[0]["position"][i]
        return ONE[template].format(obj=_phrase(objs[0], i), pos=pos, POS=pos.replace(" ", "-"))
    return TWO[template].format(a=_phrase(objs[0], i), b=_phrase(objs[1], i), rel=RELATIONS[relation],
                                inv=RELATIONS[INVERSE[relation]])


def _validate(n, image_size, split, n_objects, supersample, background) -> None:
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"shapes: n must be a positive integer, got {n!r}.")
    if not isinstance(image_size, int | np.integer) or not 32 <= image_size <= 64:
        raise ValueError(f"shapes: image_size must be an integer from 32 to 64 pixels, got "
                         f"{image_size!r}; the world is designed for small images (resize afterwards "
                         "if you need larger ones).")
    if split not in ("train", "test", "all"):
        raise ValueError(f"shapes: split must be 'train', 'test' or 'all', got {split!r}.")
    if n_objects not in (1, 2):
        raise ValueError(f"shapes: n_objects must be 1 or 2, got {n_objects!r}.")
    if not isinstance(supersample, int | np.integer) or not 1 <= supersample <= 8:
        raise ValueError(f"shapes: supersample must be an integer from 1 to 8, got {supersample!r}.")
    if background not in BACKGROUNDS:
        raise ValueError(f"shapes: background must be one of {list(BACKGROUNDS)}, got {background!r}.")


def load_shapes(n: int = 1000, seed: int = 0, image_size: int = 32, split: str = "all",
                n_objects: int = 1, supersample: int = 4, background: str = "black") -> Dataset:
    """Generate ``n`` shapes images with captions; identical arguments give byte-identical output.

    ``labels`` is the index of the (first) object's shape in `SHAPES`.
    """
    _validate(n, image_size, split, n_objects, supersample, background)
    per_item = image_size * image_size * 3 + 600  # the uint8 image, its caption, factors and label
    check_memory(f"shapes: n={n:,} images of {image_size}x{image_size}", n * per_item,
                 f"choose n <= {max(1, int(0.5 * (available_memory() or 0) / per_item)):,} (--n on the command line)")
    rng = np.random.default_rng([int(seed), ("all", "train", "test").index(split), n_objects])
    every = [(s, c) for s in SHAPES for c in COLOURS]
    allowed = every if split == "all" else [p for p in every if (p in HELD_OUT) == (split == "test")]
    cells = [rng.integers(9, size=n)]
    objs = [_sample_objects(rng, n, allowed, cells[0])]
    if n_objects == 2:
        cells.append((cells[0] + 1 + rng.integers(8, size=n)) % 9)
        objs.append(_sample_objects(rng, n, every if split == "test" else allowed, cells[1]))
    templates = rng.integers(len(ONE if n_objects == 1 else TWO), size=n)
    relations = [_relation(a, b) for a, b in zip(*cells)] if n_objects == 2 else [None] * n

    images = _render(objs, int(image_size), background, int(supersample))
    captions = [_caption(objs, relations[i], int(templates[i]), i) for i in range(n)]
    keys = ("shape", "colour", "size", "x", "y", "position")
    cols = {f"{k}{'2' if j else ''}": o[k] for j, o in enumerate(objs) for k in keys}
    if n_objects == 2:
        cols["relation"] = relations
    factors = pd.DataFrame({**cols, "template": templates})
    labels = np.array([SHAPES.index(s) for s in objs[0]["shape"]], dtype=np.int64)
    meta = {
        "generator": "unireps.data.shapes", "seed": int(seed), "image_size": int(image_size), "split": split,
        "n_objects": n_objects, "supersample": int(supersample), "background": background,
        "held_out": [list(p) for p in HELD_OUT], "label_names": list(SHAPES),
        "templates": list(ONE if n_objects == 1 else TWO), "licence": "MIT (generated by unireps)",
        "citation": "unireps shapes world (this package)",
    }
    return Dataset("shapes", images, captions, labels=labels, factors=factors, metadata=meta)
