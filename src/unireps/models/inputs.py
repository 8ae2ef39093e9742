"""Normalise user inputs (images, texts) and fingerprint them.

Images: a numpy ``uint8`` array ``(n, H, W, 3)`` (or ``(H, W, 3)`` for one image, ``(n, H, W)``
grey), or a sequence of PIL images / ``(H, W, 3)`` arrays (sizes may differ). Texts: a
sequence of ``str``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np


def n_items(items: Any) -> int:
    return int(items.shape[0]) if isinstance(items, np.ndarray) else len(items)


def check_images(images: Any) -> Any:
    """Validate an image collection; return something indexable by a slice or an index array."""
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"images must be (n, H, W, 3) uint8; got an array of shape {images.shape}")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (0..255); got dtype {images.dtype}")
        if images.ndim == 4 and images.shape[-1] not in (1, 3, 4):
            raise ValueError(f"images must be channels-last (n, H, W, 3); got shape {images.shape}")
        return images
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        raise TypeError("images must be a numpy uint8 array (n, H, W, 3) or a list of PIL images / arrays")
    return images


def check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not a single string (wrap it: [text])")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(
                f"texts[{i}] is {type(t).__name__}, not str (for several captions per image, flatten them first)"
            )
    return texts


def take(items: Any, index: np.ndarray | slice) -> Any:
    """Select items by a slice or an integer index array."""
    if isinstance(items, np.ndarray):
        return items[index]
    if isinstance(index, slice):
        return items[index]
    return [items[int(i)] for i in index]


def to_rgb_arrays(images: Any) -> list[np.ndarray]:
    """Convert a batch of images to a list of ``(H, W, 3)`` uint8 arrays."""
    out = []
    for im in images if not isinstance(images, np.ndarray) else list(images):
        if hasattr(im, "convert") and hasattr(im, "size"):  # PIL image
            arr = np.asarray(im.convert("RGB"))
        else:
            arr = np.asarray(im)
            if arr.dtype != np.uint8:
                raise ValueError(f"image arrays must be uint8; got {arr.dtype}")
            if arr.ndim == 2:
                arr = np.repeat(arr[:, :, None], 3, axis=2)
            elif arr.ndim == 3 and arr.shape[-1] == 1:
                arr = np.repeat(arr, 3, axis=2)
            elif arr.ndim == 3 and arr.shape[-1] == 4:
                arr = arr[:, :, :3]
            if arr.ndim != 3 or arr.shape[-1] != 3:
                raise ValueError(f"each image must be (H, W, 3); got shape {arr.shape}")
        out.append(np.ascontiguousarray(arr))
    return out


def hash_images(images: Any) -> str:
    """sha256 of the pixels (and shapes) of an image collection."""
    h = hashlib.sha256(b"unireps-images-v1")
    if isinstance(images, np.ndarray):
        h.update(repr((images.shape, str(images.dtype))).encode())
        h.update(np.ascontiguousarray(images).data)
        return h.hexdigest()
    for arr in to_rgb_arrays(images):
        h.update(repr(arr.shape).encode())
        h.update(arr.data)
    return h.hexdigest()


def hash_texts(texts: Sequence[str]) -> str:
    h = hashlib.sha256(b"unireps-texts-v1")
    h.update(json.dumps(list(texts), ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


def stable_hash(obj: Any) -> str:
    """sha256 of a JSON-able object (keys sorted, non-JSON values through ``repr``)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode("utf-8")).hexdigest()
