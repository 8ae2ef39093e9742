"""Explaining one image–text match: zero-shot probabilities over captions, occlusion sensitivity of the image, and
leave-one-word-out importance of the caption.  Model-agnostic: the caller supplies embeddings or a scoring
function (images -> cosine with the caption; captions -> cosine with the image)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .neighbours import unit_rows


def zero_shot(image_embedding, text_embeddings, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """(cosines, probabilities) of one image against c captions: p = softmax(cos / τ) (Radford et al. 2021, CLIP's
    zero-shot classifier; τ the temperature, CLIP's learned value is about 0.01, its initial one 0.07).

    >>> cos, p = zero_shot([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], tau=0.5)
    >>> cos.tolist(), round(float(p[0]), 4)
    ([1.0, 0.0], 0.8808)
    """
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"the temperature must be a positive number, got {tau!r}")
    img = unit_rows(np.atleast_2d(np.asarray(image_embedding, dtype=np.float64)))
    txt = unit_rows(np.atleast_2d(np.asarray(text_embeddings, dtype=np.float64)))
    if img.shape[0] != 1 or img.shape[1] != txt.shape[1]:
        raise ValueError(f"zero_shot needs one image embedding (d,) and caption embeddings (c, d); got {img.shape} "
                         f"and {txt.shape}")
    cos = txt @ img[0]
    logits = cos / float(tau)
    p = np.exp(logits - logits.max())
    return cos, p / p.sum()


def occlusion_images(image: np.ndarray, grid: int) -> np.ndarray:
    """The image followed by grid² copies, each with one cell covered by the image's mean colour (a neutral patch;
    Zeiler & Fergus 2014 occlude with grey, which on a black background would add an object): (1 + grid², H, W, C).

    >>> occlusion_images(np.zeros((4, 4, 3), np.uint8), 2).shape
    (5, 4, 4, 3)
    """
    img = np.asarray(image)
    if img.ndim != 3:
        raise ValueError(f"occlusion needs one (H, W, channels) image, got shape {img.shape}")
    h, w = img.shape[:2]
    g = int(grid)
    if not 1 <= g <= min(h, w):
        raise ValueError(f"grid must be between 1 and {min(h, w)} for a {h}×{w} image, got {grid}")
    ys, xs = np.linspace(0, h, g + 1).astype(int), np.linspace(0, w, g + 1).astype(int)
    fill = img.reshape(-1, img.shape[-1]).mean(0)
    fill = (fill.round() if img.dtype.kind in "iub" else fill).astype(img.dtype)
    batch = [img]
    for r in range(g):
        for c in range(g):
            x = img.copy()
            x[ys[r]:ys[r + 1], xs[c]:xs[c + 1]] = fill
            batch.append(x)
    return np.stack(batch)


def occlusion_map(image: np.ndarray, score: Callable[[np.ndarray], np.ndarray], grid: int = 8
                  ) -> tuple[np.ndarray, float]:
    """Occlusion sensitivity (Zeiler & Fergus 2014): ``score(images) -> one number per image`` (e.g. the cosine of
    each image with a caption) on the image and its :func:`occlusion_images`; returns (grid × grid drops in score,
    the full image's score).  Positive cells support the match.

    >>> img = np.zeros((4, 4, 1)); img[:2, :2] = 1.0
    >>> heat, full = occlusion_map(img, lambda b: b[:, :2, :2].mean(axis=(1, 2, 3)), grid=2)
    >>> heat.tolist(), full
    ([[0.75, 0.0], [0.0, 0.0]], 1.0)
    """
    batch = occlusion_images(image, grid)
    s = np.asarray(score(batch), dtype=np.float64).reshape(-1)
    if len(s) != len(batch):
        raise ValueError(f"score returned {len(s)} values for {len(batch)} images")
    return (s[0] - s[1:]).reshape(int(grid), int(grid)), float(s[0])


def word_importance(caption: str, score: Callable[[Sequence[str]], np.ndarray]) -> pd.DataFrame:
    """Leave-one-word-out (Li et al. 2016): ``score(captions) -> one number per caption`` on the caption and on each
    copy with one word removed; the table gives each word's ``drop in cosine`` (positive = the word supports it).

    >>> word_importance("red circle", lambda caps: np.array([c.count("red") for c in caps], float))
    ...                                      # doctest: +NORMALIZE_WHITESPACE
          word  drop in cosine
    0   1. red             1.0
    1  2. circle           0.0
    """
    words = str(caption).split()
    if len(words) < 2:
        raise ValueError("type a caption of at least two words to see which words drive the match")
    variants = [caption] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
    s = np.asarray(score(variants), dtype=np.float64).reshape(-1)
    return pd.DataFrame({"word": [f"{i + 1}. {w}" for i, w in enumerate(words)], "drop in cosine": s[0] - s[1:]})
