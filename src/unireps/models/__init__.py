"""unireps.models: load neural models and extract their representations.

Public API::

    list_models() -> list[ModelInfo]
    load_model(name_or_path, device=None, allow_download=False, **kw) -> Encoder
    register_model(name, loader_fn, **info)
    register_source(prefix, load, list_models=None)   # plug-in hook: names "<prefix>:<target>"
    parse_name(name) -> ModelName                      # what load_model will do with a name
    from_module(module, layers=None, preprocess=None, **kw) -> Encoder
    extract(encoder, data, modality="image", layers=None, pooling=None, cache_dir=None, batch_size=None)

An :class:`Encoder` has ``encode_images``, ``encode_texts``, ``image_layers``, ``text_layers``
and metadata (``family``, ``embedding_dim``, ``layer_names``, ``source``, ``revision``,
``weights_sha256``). Conventions per family: ``docs/models.md`` and each adapter's docstring
in :mod:`unireps.models.families`.
"""

from .cache import ActivationCache, default_cache_dir
from .describe import describe_model, model_kind
from .encoder import EMBEDDING, Encoder, auto_device
from .errors import (
    AmbiguousModelNameError,
    ModalityError,
    ModelNotAvailableError,
    UnknownModelError,
    WeightsMismatchError,
)
from .extract import Extraction, extract
from .families.generic import from_module
from .names import ModelName, parse_model_name
from .pooling import POOLINGS
from .ray_engine import extract_ray
from .registry import (
    ModelInfo,
    ModelSource,
    list_models,
    load_model,
    model_sources,
    parse_name,
    register_model,
    register_source,
    unregister_model,
    unregister_source,
)

__all__ = [
    "EMBEDDING",
    "POOLINGS",
    "ActivationCache",
    "AmbiguousModelNameError",
    "Encoder",
    "Extraction",
    "ModalityError",
    "ModelInfo",
    "ModelName",
    "ModelNotAvailableError",
    "ModelSource",
    "UnknownModelError",
    "WeightsMismatchError",
    "auto_device",
    "default_cache_dir",
    "describe_model",
    "extract",
    "extract_ray",
    "from_module",
    "list_models",
    "load_model",
    "model_kind",
    "model_sources",
    "parse_model_name",
    "parse_name",
    "register_model",
    "register_source",
    "unregister_model",
    "unregister_source",
]
