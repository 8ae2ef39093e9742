"""Layer-wise extraction with a streaming, verified on-disk cache.

``extract(encoder, data, modality, layers, pooling, ...)`` returns an :class:`Extraction`: a
dict ``{layer: float32 (n, d)}`` in the order asked, plus where each array came from. Rows are
streamed batch by batch into per-layer safetensors files (memory stays bounded by one batch's
activations); a re-run with the same model weights, data, preprocessing, layers and pooling
reads them back (memory-mapped) without running the model.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..literals import Modality, Pooling
from .cache import ActivationCache
from .encoder import EMBEDDING, Encoder
from .inputs import check_images, check_texts, hash_images, hash_texts, n_items


class Extraction(dict):
    """``{layer: array}`` plus ``from_cache`` ({layer: bool}), ``entry_dir``, ``content_hash``,
    ``modality``, ``pooling`` ({layer: method}), ``model`` (the encoder's metadata), ``entry_fields`` (what
    the cache entry's key hashes) and ``timings`` (seconds by stage; the Ray engine fills it)."""

    from_cache: dict[str, bool]
    entry_dir: Path | None
    content_hash: str
    modality: str
    pooling: dict[str, str]
    model: dict[str, Any]
    entry_fields: dict[str, Any]
    timings: dict[str, float]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timings = {}


def resolve_data(data: Any, modality: str) -> tuple[Any, str]:
    """(items, content hash). ``data`` is raw images/texts or an object with ``.images`` /
    ``.captions`` and optionally ``.content_hash``."""
    attr = "images" if modality == "image" else "captions"
    if hasattr(data, attr) and not isinstance(data, (list, tuple, np.ndarray)):
        items = getattr(data, attr)
        if items is None:
            raise ValueError(f"the dataset has no {attr}")
        ch = getattr(data, "content_hash", None)
        items = check_images(items) if modality == "image" else check_texts(items)
        if ch:
            return items, f"{ch}:{attr}"
    else:
        items = check_images(data) if modality == "image" else check_texts(data)
    return items, hash_images(items) if modality == "image" else hash_texts(items)


def resolve_layer_names(encoder: Encoder, modality: str, layers: Any) -> list[str]:
    """The layer names ``layers`` asks for: None -> the embedding; "all" -> every layer; a name or list of names."""
    encoder._check_modality(modality)
    if layers is None:
        return [EMBEDDING]
    if layers == "all":
        return encoder.resolve_layers(modality, "all")
    asked = [layers] if isinstance(layers, str) else list(layers)
    return [EMBEDDING if a == EMBEDDING else encoder.resolve_layers(modality, [a])[0] for a in asked]


def extract(
    encoder: Encoder,
    data: Any,
    modality: Modality = "image",
    layers: Any = None,
    pooling: Pooling | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int | None = None,
    *,
    cache: bool = True,
    normalize: bool = True,
    verify: str = "sha256",
    mmap: bool = True,
    progress: bool | None = None,
) -> Extraction:
    """Extract pooled activations, streaming to disk and reusing the cache.

    layers: ``None`` -> the shared embedding only (key ``"embedding"``, as ``encode_*``,
    L2-normalised unless ``normalize=False``); ``"all"`` -> every layer of the tower in order;
    a list -> those layers (``"embedding"`` may be among them).
    pooling: ``None`` -> the family default; one of ``cls, mean, eos, last, spatial_mean, flatten``.
    cache_dir: ``None`` -> ``$UNIREPS_CACHE`` or ``~/.cache/unireps``; ``cache=False`` computes
    without keeping anything (arrays are returned in memory).

    Example (any torch module, every layer, nothing cached):

    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from unireps.models import extract, from_module
    >>> _ = torch.manual_seed(0)
    >>> enc = from_module(nn.Sequential(nn.Flatten(), nn.Linear(8 * 8 * 3, 16), nn.ReLU(), nn.Linear(16, 4)))
    >>> images = np.random.default_rng(0).integers(0, 256, size=(10, 8, 8, 3), dtype=np.uint8)
    >>> acts = extract(enc, images, layers="all", cache=False)
    >>> {name: tuple(a.shape) for name, a in acts.items()}
    {'0': (10, 192), '1': (10, 16), '2': (10, 16), '3': (10, 4), 'output': (10, 4)}
    """
    names = resolve_layer_names(encoder, modality, layers)
    method = encoder.resolve_pooling(modality, pooling)
    items, content_hash = resolve_data(data, modality)
    n = n_items(items)
    if n == 0:
        raise ValueError("no inputs to extract")

    def layer_pool(name: str) -> str:
        return f"norm{int(normalize)}" if name == EMBEDDING else method

    entry_fields = {
        "model": encoder.identity(),
        "data": content_hash,
        "n": n,
        "modality": modality,
        "preprocess": encoder.preprocess_fingerprint(modality),
    }
    result = Extraction()
    result.from_cache, result.content_hash, result.modality = {}, content_hash, modality
    result.entry_fields = entry_fields
    result.pooling = {name: layer_pool(name) for name in names}
    result.model = encoder.metadata()

    with contextlib.ExitStack() as stack:
        if cache:
            store = ActivationCache(cache_dir, verify=verify)
            entry = store.entry_dir(entry_fields)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="unireps-extract-"))
            store = ActivationCache(tmp, verify="size")
            entry = Path(tmp) / "entry"
        result.entry_dir = entry if cache else None

        def key(name: str) -> dict[str, Any]:
            return {**entry_fields, "layer": name, "pooling": layer_pool(name)}

        arrays: dict[str, np.ndarray] = {}
        if cache:
            for name in names:
                arr = store.load(entry, name, layer_pool(name), key(name), n, mmap=mmap)
                if arr is not None:
                    arrays[name] = arr
        missing = [x for x in dict.fromkeys(names) if x not in arrays]
        if missing:
            _compute(encoder, store, entry, items, modality, missing, pooling, normalize, batch_size, progress,
                     key, layer_pool, n)
            fresh = ActivationCache(store.root, verify="size")  # just written and checksummed
            for name in missing:
                arr = fresh.load(entry, name, layer_pool(name), key(name), n, mmap=mmap and cache)
                if arr is None:  # pragma: no cover - just written
                    raise RuntimeError(f"failed to write activations for {name!r} under {entry}")
                arrays[name] = arr if cache else np.array(arr)
        for name in names:
            result[name] = arrays[name]
            result.from_cache[name] = name not in missing
    return result


def _compute(encoder, store, entry, items, modality, missing, pooling, normalize, batch_size, progress,
             key, layer_pool, n) -> None:
    want_emb = EMBEDDING in missing
    layer_list = [x for x in missing if x != EMBEDDING]
    writers: dict[str, Any] = {}
    try:
        for batch in encoder.iter_batches(
            modality, items, layers=layer_list, pooling=pooling, embedding=want_emb,
            normalize=normalize, batch_size=batch_size, progress=progress,
        ):
            rows = dict(batch.layers)
            if want_emb:
                rows[EMBEDDING] = batch.embedding
            for name, arr in rows.items():
                if name not in writers:
                    writers[name] = store.writer(entry, name, layer_pool(name), key(name), n, arr.shape[1])
                writers[name].write(batch.index, arr)
        for w in writers.values():
            w.commit()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
