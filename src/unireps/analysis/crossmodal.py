"""Cross-modal alignment: image tower vs text tower on paired data, and vision models vs a language model.

Competence is retrieval accuracy on the same pairs.  A caption often describes several images of the
procedural world, so image→text R@1 counts a hit when the retrieved caption's text equals the true caption
(text→image: when the retrieved image's caption equals the query).  The Platonic Representation Hypothesis
(Huh et al. 2024) predicts that alignment with a language model grows with competence; the table lets you
check that across trained models and their untrained twins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics import get_metric
from .reps import embedding, model_label, untrained_twin


def retrieval_at_1(img: np.ndarray, txt: np.ndarray, captions: list[str]) -> tuple[float, float]:
    """(image→text, text→image) R@1 by cosine, a hit when the retrieved item carries the same caption text."""
    a = img / np.linalg.norm(img, axis=1, keepdims=True)
    b = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    S = a @ b.T
    caps = np.asarray(captions)
    i2t = float(np.mean(caps[S.argmax(1)] == caps))
    t2i = float(np.mean(caps[S.argmax(0)] == caps))
    return i2t, t2i


def cross_modal_alignment(models, dataset, metrics=("mutual_knn", "linear_cka"), language_model="minilm",
                          include_untrained: bool = True, cache_dir=None, metric_kwargs: dict | None = None
                          ) -> pd.DataFrame:
    """One row per (model, measure): image-vs-own-text alignment, image-vs-language-model alignment, R@1.

    ``models``: names/Encoders with both an image and a text tower. ``language_model``: a text model run
    on the captions (None to skip).
    """
    metric_kwargs = metric_kwargs or {}
    captions = list(dataset.captions)
    lm = embedding(language_model, dataset, "text", cache_dir=cache_dir) if language_model else None
    entries = []
    for m in models:
        entries.append((model_label(m), m, "trained"))
        twin = untrained_twin(m) if include_untrained else None
        if twin is not None:
            entries.append((f"{model_label(m)} (untrained)", twin, "untrained"))
    rows = []
    for label, m, state in entries:
        img = embedding(m, dataset, "image", cache_dir=cache_dir)
        txt = embedding(m, dataset, "text", cache_dir=cache_dir)
        i2t, t2i = retrieval_at_1(img, txt, captions) if img.shape[1] == txt.shape[1] else (np.nan, np.nan)
        for metric in metrics:
            info, kw = get_metric(metric), metric_kwargs.get(metric, {})
            row = {"model": label, "state": state, "metric": metric, "image_vs_own_text": info(img, txt, **kw),
                   "r1_image_to_text": i2t, "r1_text_to_image": t2i}
            if lm is not None:
                row["image_vs_language_model"] = info(img, lm, **kw)
                row["text_vs_language_model"] = info(txt, lm, **kw)
            rows.append(row)
    return pd.DataFrame(rows)
