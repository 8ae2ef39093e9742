"""`digits`: scikit-learn's 8x8 handwritten digits as RGB images with captions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import Dataset

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEMPLATES = ("a handwritten {w}", "a handwritten digit {w}", "the digit {w}, written by hand",
             "a hand-drawn digit {w}")


def load_digits(image_size: int = 8, seed: int = 0) -> Dataset:
    """The 1,797 digits (white ink on black) as uint8 RGB, upsampled by nearest neighbour to ``image_size``.

    Intensities 0..16 map linearly to 0..255; the caption template per image is chosen by ``seed``.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    if not isinstance(image_size, int | np.integer) or not 8 <= image_size <= 1024:
        raise ValueError(f"digits: image_size must be an integer from 8 to 1024, got {image_size!r}.")
    raw = _sk_load_digits()
    grey = np.rint(raw.images * (255.0 / 16.0)).astype(np.uint8)
    idx = np.arange(image_size) * 8 // image_size
    grey = grey[:, idx][:, :, idx]
    labels = raw.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    templates = rng.integers(len(TEMPLATES), size=len(labels))
    captions = [TEMPLATES[t].format(w=WORDS[y]) for t, y in zip(templates, labels)]
    meta = {
        "citation": "Alpaydin E., Kaynak C. (1998). Optical Recognition of Handwritten Digits. "
                    "UCI Machine Learning Repository (as shipped with scikit-learn).",
        "licence": "CC BY 4.0 (UCI Machine Learning Repository)",
        "image_size": int(image_size), "seed": int(seed), "label_names": list(WORDS),
        "templates": list(TEMPLATES),
    }
    factors = pd.DataFrame({"digit": labels, "template": templates})
    return Dataset(name="digits", images=np.repeat(grey[..., None], 3, axis=-1), captions=captions,
                   labels=labels, factors=factors, metadata=meta)
