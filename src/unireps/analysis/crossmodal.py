"""Cross-modal alignment: image tower vs text tower on paired data, and vision models vs a language model.

Competence is retrieval accuracy on the same pairs.  A caption often describes several images of the
procedural world, so image→text R@1 counts a hit when the retrieved caption's text equals the true caption
(text→image: when the retrieved image's caption equals the query).  The Platonic Representation Hypothesis
(Huh et al. 2024) predicts that alignment with a language model grows with competence; the table lets you
check that across trained models and their untrained twins.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..metrics import estimator_label, get_metric
from ._checks import as_array, as_names, check_metric_options, check_representation, check_same_rows
from .reps import embedding, is_array_like, model_label, untrained_twin


def retrieval_at_1(img: np.ndarray, txt: np.ndarray, captions: list[str]) -> tuple[float, float]:
    """(image→text, text→image) R@1 by cosine, a hit when the retrieved item carries the same caption text."""
    img, txt = np.asarray(img, dtype=float), np.asarray(txt, dtype=float)
    caps = np.asarray(list(captions))
    if img.ndim != 2 or txt.ndim != 2 or img.shape[1] != txt.shape[1]:
        raise ValueError(f"retrieval needs image and text embeddings in one space: (n, d) and (n, d), got "
                         f"{img.shape} and {txt.shape}")
    if not len(img) == len(txt) == len(caps):
        raise ValueError(f"{len(img)} image rows, {len(txt)} text rows and {len(caps)} captions; all must be the "
                         "same n paired items")
    a = img / np.maximum(np.linalg.norm(img, axis=1, keepdims=True), 1e-12)
    b = txt / np.maximum(np.linalg.norm(txt, axis=1, keepdims=True), 1e-12)
    S = a @ b.T
    i2t = float(np.mean(caps[S.argmax(1)] == caps))
    t2i = float(np.mean(caps[S.argmax(0)] == caps))
    return i2t, t2i


def cross_modal_alignment(models, dataset, metrics=("mutual_knn", "linear_cka"), language_model="minilm",
                          include_untrained: bool = True, cache_dir=None, metric_kwargs: dict | None = None
                          ) -> pd.DataFrame:
    """One row per (model, measure): image-vs-own-text alignment, image-vs-language-model alignment, R@1.

    ``models``: names/Encoders with both an image and a text tower, or (own embeddings) a dict {label: model} whose
    models may be dicts ``{"image": (n, d) array, "text": (n, d) array}``. ``language_model``: a text model run on
    the captions, an (n, d) array of its caption embeddings, or None to skip.
    """
    metrics = as_names(metrics)
    metric_kwargs = check_metric_options(metrics, metric_kwargs)
    captions = list(getattr(dataset, "captions", None) or [])
    if not captions or not any(str(c).strip() for c in captions):
        raise ValueError("cross_modal_alignment needs a dataset with one caption per image (the text side and the "
                         f"retrieval check use them); got {type(dataset).__name__} without captions")
    lm = None
    if language_model is not None and not (isinstance(language_model, str) and not language_model):
        lm = as_array(embedding(language_model, dataset, "text", cache_dir=cache_dir), "the language model")
        check_representation(lm, "the language model's caption embeddings")
    named = models.items() if isinstance(models, Mapping) else ((None, m) for m in models)
    entries = []
    for label, m in named:
        if is_array_like(m):
            raise TypeError("a single array has no image and text side; pass {label: {'image': image_embeddings, "
                            "'text': text_embeddings}} for precomputed embeddings")
        if isinstance(m, Mapping) and not {"image", "text"} <= set(m):
            raise ValueError(f"precomputed embeddings need the keys 'image' and 'text', got {sorted(m)}")
        label = str(label) if label is not None else model_label(m)
        entries.append((label, m, "trained"))
        twin = untrained_twin(m) if include_untrained and not isinstance(m, Mapping) else None
        if twin is not None:
            entries.append((f"{label} (untrained)", twin, "untrained"))
    rows = []
    for label, m, state in entries:
        if isinstance(m, Mapping):
            img, txt = as_array(m["image"], f"{label!r} image"), as_array(m["text"], f"{label!r} text")
        else:
            img = as_array(embedding(m, dataset, "image", cache_dir=cache_dir), f"{label!r} image")
            txt = as_array(embedding(m, dataset, "text", cache_dir=cache_dir), f"{label!r} text")
        sides = {f"{label!r} image embeddings": img, f"{label!r} text embeddings": txt}
        if lm is not None:
            sides["the language model's embeddings"] = lm
        for name, X in sides.items():
            check_representation(X, name)
        n = check_same_rows(sides, "embedding", expected=len(captions), source="the dataset's captions")
        check_metric_options(metrics, metric_kwargs, n)
        i2t, t2i = retrieval_at_1(img, txt, captions) if img.shape[1] == txt.shape[1] else (np.nan, np.nan)
        for metric in metrics:
            info, kw = get_metric(metric), metric_kwargs.get(metric, {})
            row = {"model": label, "state": state, "metric": metric, "estimator": estimator_label(metric, **kw),
                   "n": n, "image_vs_own_text": info(img, txt, **kw),
                   "r1_image_to_text": i2t, "r1_text_to_image": t2i}
            if lm is not None:
                row["image_vs_language_model"] = info(img, lm, **kw)
                row["text_vs_language_model"] = info(txt, lm, **kw)
            rows.append(row)
    return pd.DataFrame(rows)
