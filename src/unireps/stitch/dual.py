"""Stitching dual encoders: the image encoder of model 1 with the text encoder of model 2.

Works on plain embeddings.  A :class:`~unireps.transfer.LinearMap` from model 1's image space to model 2's text
space is fitted on paired training data (image i with its caption i), then retrieval between mapped images and
model 2's text embeddings is scored on held-out pairs and compared with each original model's own retrieval.
Recall@k counts the correct item among the k most cosine-similar (ties counted against it); retrieval is by
instance, so captions should be distinct within the test set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ..transfer.maps import MAP_METHODS, LinearMap, check_paired, pad_to
from ..transfer.probe import check_split
from ..transfer.retrieval import retrieval_recall


class DualEncoderStitch(BaseEstimator):
    """``fit(image_emb_1, text_emb_2)`` on paired training rows; ``transform(image_emb_1)`` -> model 2's text space;
    ``score(image_emb_1, text_emb_2, ks)`` -> recall@k both ways on held-out pairs.  Fitted attribute: ``map_``
    (the :class:`~unireps.transfer.LinearMap`)."""

    def __init__(self, method: str = "ridge", alpha: float = 1e-3):
        _check_method(method)
        self.method, self.alpha = method, alpha

    def fit(self, image_emb, text_emb) -> DualEncoderStitch:
        _check_method(self.method)
        x, y = check_paired(image_emb, text_emb, ("image_emb", "text_emb"))
        self.map_ = LinearMap(method=self.method, alpha=self.alpha).fit(x, y)
        return self

    def transform(self, image_emb) -> np.ndarray:
        if getattr(self, "map_", None) is None:
            raise NotFittedError("this DualEncoderStitch is not fitted yet; call .fit(image_emb, text_emb) on paired "
                                 "training data first")
        return self.map_.transform(image_emb)

    def score(self, image_emb, text_emb, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
        mapped = self.transform(image_emb)
        _, t = check_paired(mapped, text_emb, ("image_emb", "text_emb"))
        if t.shape[1] != self.map_.n_features_out_:
            raise ValueError(f"text_emb has {t.shape[1]} features but the map was fitted on text embeddings with "
                             f"{self.map_.n_features_out_}; pass model 2's text embeddings as in fit")
        return _both_ways(mapped, t, ks)


def _check_method(method) -> None:
    if method not in MAP_METHODS:
        raise ValueError(f"unknown method={method!r}; accepted values: {', '.join(repr(m) for m in MAP_METHODS)}")


def _both_ways(images, texts, ks) -> dict[str, float]:
    i2t = retrieval_recall(images, texts, ks)
    t2i = retrieval_recall(texts, images, ks)
    return {**{f"image_to_text {k}": v for k, v in i2t.items()}, **{f"text_to_image {k}": v for k, v in t2i.items()}}


def dual_encoder_retrieval(image_1, text_2, train_idx, test_idx, *, text_1=None, image_2=None,
                           methods: Sequence[str] = MAP_METHODS, ks: Sequence[int] = (1, 5),
                           alpha: float = 1e-3) -> pd.DataFrame:
    """Retrieval on the test pairs of: each original model (when ``text_1`` / ``image_2`` are given), model 1's images
    with model 2's texts without a map (zero-padded / truncated to the text width), and stitched through each map
    fitted on the train pairs.  One row per pairing and method; columns ``image_to_text R@k``, ``text_to_image R@k``.
    """
    i1, t2 = check_paired(image_1, text_2, ("image_1", "text_2"))
    tr, te = check_split(train_idx, test_idx, len(i1))
    if isinstance(methods, str):
        methods = (methods,)
    for m in methods:
        _check_method(m)
    rows = []
    if text_1 is not None:
        _, t1 = check_paired(i1, text_1, ("image_1", "text_1"))
        rows.append({"pairing": "model 1 (image 1 + text 1)", "method": "original", **_both_ways(i1[te], t1[te], ks)})
    if image_2 is not None:
        i2, _ = check_paired(image_2, t2, ("image_2", "text_2"))
        rows.append({"pairing": "model 2 (image 2 + text 2)", "method": "original", **_both_ways(i2[te], t2[te], ks)})
    rows.append({"pairing": "image 1 + text 2", "method": "no_map",
                 **_both_ways(pad_to(i1[te], t2.shape[1]), t2[te], ks)})
    for m in methods:
        st = DualEncoderStitch(method=m, alpha=alpha).fit(i1[tr], t2[tr])
        rows.append({"pairing": "image 1 + text 2", "method": m, **st.score(i1[te], t2[te], ks)})
    return pd.DataFrame(rows)


def synthetic_dual_encoders(n: int = 1000, latent: int = 16, widths: tuple[int, int] = (32, 48), noise: float = 0.5,
                            seed: int = 0) -> dict[str, np.ndarray]:
    """A synthetic sanity setting (not a trained model): n paired items with a shared latent z; model m embeds
    images as z R_m + noise and texts as z R_m + (other) noise, R_m a random (latent, width_m) matrix, so each model's
    own image and text spaces are aligned while the two models' spaces differ.  Keys image_1, text_1, image_2,
    text_2."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, latent))
    out = {}
    for m, w in enumerate(widths, start=1):
        R = rng.normal(size=(latent, w)) / np.sqrt(latent)
        out[f"image_{m}"] = z @ R + noise * rng.normal(size=(n, w))
        out[f"text_{m}"] = z @ R + noise * rng.normal(size=(n, w))
    return out
