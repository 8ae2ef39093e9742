"""unireps.models: load neural models and extract their representations.

Public API::

    list_models() -> list[ModelInfo]
    load_model(name_or_path, device=None, allow_download=False, **kw) -> Encoder
    register_model(name, loader_fn, **info)
    from_module(module, layers=None, preprocess=None, **kw) -> Encoder
    extract(encoder, data, modality="image", layers=None, pooling=None, cache_dir=None, batch_size=None)

An :class:`Encoder` has ``encode_images``, ``encode_texts``, ``image_layers``, ``text_layers``
and metadata (``family``, ``embedding_dim``, ``layer_names``, ``source``, ``revision``,
``weights_sha256``). Conventions per family: ``docs/models.md`` and each adapter's docstring
in :mod:`unireps.models.families`.
"""

from .cache import ActivationCache, default_cache_dir
from .encoder import EMBEDDING, Encoder, auto_device
from .errors import ModalityError, ModelNotAvailableError, WeightsMismatchError
from .extract import Extraction, extract
from .families.generic import from_module
from .pooling import POOLINGS
from .ray_engine import all_pairs_ray, extract_ray
from .registry import ModelInfo, list_models, load_model, register_model, unregister_model

__all__ = [
    "EMBEDDING",
    "POOLINGS",
    "ActivationCache",
    "Encoder",
    "Extraction",
    "ModalityError",
    "ModelInfo",
    "ModelNotAvailableError",
    "WeightsMismatchError",
    "all_pairs_ray",
    "extract_ray",
    "auto_device",
    "default_cache_dir",
    "extract",
    "from_module",
    "list_models",
    "load_model",
    "register_model",
    "unregister_model",
]
