"""Where representations come from: a model (name, path or Encoder) run on a dataset, precomputed arrays, or
the raw-input baselines (pixels, bag of words).  Analyses only see {layer: (n, d) array}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

EMBEDDING = "embedding"


def is_array_like(model: Any) -> bool:
    """A numpy array, torch tensor or other array-like (not an Encoder): a precomputed representation."""
    return isinstance(model, np.ndarray) or (hasattr(model, "__array__") and not hasattr(model, "encode_images"))


def _as_array(value: Any, name: str) -> np.ndarray:
    from ._checks import as_array

    return as_array(value, name)


def model_label(model: Any) -> str:
    if isinstance(model, str):
        return model
    name = getattr(model, "name", None)
    return str(name) if name else type(model).__name__


def load(model: Any, device=None):
    """An Encoder from a name/path (offline unless the name's loader allows more) or the Encoder itself."""
    from ..models import Encoder, load_model

    if isinstance(model, Encoder):
        return model
    return load_model(model, device=device)


def representations(model: Any, dataset: Any, modality: str = "image", layers: Any = None, pooling: str | None = None,
                    cache_dir=None, progress: bool | None = False, engine: str = "local",
                    engine_kwargs: dict | None = None) -> dict[str, np.ndarray]:
    """{layer: (n, d)} for ``model`` on ``dataset``.

    ``model``: a registry name, path, Encoder, an (n, d) array (one layer called 'embedding'), or a dict of
    arrays (used as is). ``layers``: None = the shared embedding only, "all", or a list of layer names.
    ``engine``: ``"local"`` (``unireps.models.extract``) or ``"ray"`` (``extract_ray``; the arrays stay
    memory-mapped from the cache so that Ray tasks re-open them by file name); ``engine_kwargs`` go to that
    function (e.g. ``batch_size``).
    """
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray'; got {engine!r}")
    if isinstance(model, Mapping):
        if not model:
            raise ValueError("the dict of representations is empty; pass {layer name: (n, d) array}")
        return {str(k): _as_array(v, f"layer {k!r}") for k, v in model.items()}
    if is_array_like(model):
        return {EMBEDDING: _as_array(model, "the representation")}
    if isinstance(model, list | tuple):
        raise TypeError(f"model is a {type(model).__name__}; pass a model name, an Encoder, an (n, d) numpy array / "
                        "torch tensor, or a dict {layer name: (n, d) array}")
    from ..models import extract

    if engine == "ray":
        from ..models.ray_engine import extract_ray

        ex = extract_ray(model, dataset, modality, layers=layers, pooling=pooling, cache_dir=cache_dir,
                         **(engine_kwargs or {}))
        return dict(ex)
    by_name = isinstance(model, str) and not engine_kwargs
    if by_name:  # what an earlier run extracted for this name, read without loading the model
        from ..models.named_cache import lookup

        hit = lookup(model, dataset, modality, layers=layers, pooling=pooling, cache_dir=cache_dir)
        if hit is not None:
            return {k: np.asarray(v) for k, v in hit.items()}
    ex = extract(load(model), dataset, modality=modality, layers=layers, pooling=pooling, cache_dir=cache_dir,
                 progress=progress, **(engine_kwargs or {}))
    if by_name:
        from ..models.named_cache import remember

        remember(model, dataset, ex, modality, layers=layers, pooling=pooling, cache_dir=cache_dir)
    return {k: np.asarray(v) for k, v in ex.items()}


def embedding(model: Any, dataset: Any, modality: str = "image", **kw) -> np.ndarray:
    reps = representations(model, dataset, modality, layers=None, **kw)
    return reps[EMBEDDING] if EMBEDDING in reps else next(iter(reps.values()))


def raw_input(dataset: Any, modality: str = "image") -> np.ndarray:
    """The raw-input baseline: flattened pixels in [0, 1], or bag-of-words counts of the captions."""
    if modality not in ("image", "text"):
        raise ValueError(f"unknown modality={modality!r}; accepted values: 'image', 'text'")
    if modality == "text" and not any(str(c).strip() for c in (getattr(dataset, "captions", None) or [])):
        raise ValueError(f"dataset {getattr(dataset, 'name', '')!r} has no captions, so there is no bag-of-words "
                         "baseline for modality='text'; use a dataset with captions or baselines=False")
    if modality == "image":
        imgs = np.asarray(dataset.images)
        return imgs.reshape(len(imgs), -1).astype(np.float64) / 255.0
    from sklearn.feature_extraction.text import CountVectorizer

    bow = CountVectorizer(token_pattern=r"[A-Za-z]+").fit_transform(list(dataset.captions))
    return bow.toarray().astype(np.float64)


def untrained_twin(model: Any) -> str | None:
    """The registry name of the random-init twin of a model, when one is registered (zoo models have one)."""
    if not isinstance(model, str):
        twin = getattr(model, "untrained_twin", None)
        name = getattr(model, "name", None)  # a loaded Encoder: look its registry name up
        if twin is not None or not isinstance(name, str) or not name:
            return twin
        model = name
    from ..models import list_models

    names = {m.name for m in list_models()}
    for cand in (f"{model}-untrained", f"{model}:untrained"):
        if cand in names:
            return cand
    return None
