"""Validation of what visitors upload and type: every problem becomes an :class:`InputError` with a message
meant for the page (the server keeps serving)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from .engine import InputError

DEFAULT_MAX_PIXELS = 40_000_000
MAX_SIDE_KEPT = 1024  # images are reduced to at most this side after validation (models see 32-224 px)


def set_pil_limit(max_pixels: int) -> None:
    """PIL's decompression-bomb guard for this process (PIL warns above the limit and refuses above twice it)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = int(max_pixels)


def _path_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    for attr in ("path", "name"):
        p = getattr(value, attr, None)
        if isinstance(p, str):
            return p
    if isinstance(value, dict):
        return value.get("path") or value.get("name")
    return None


def load_image(value: Any, max_pixels: int = DEFAULT_MAX_PIXELS, required: bool = False) -> np.ndarray | None:
    """An uploaded file (path or file object) -> RGB uint8 (H, W, 3), reduced to at most ``MAX_SIDE_KEPT`` px.

    Refuses: files that are not images, images over ``max_pixels`` pixels (checked from the header, before any
    decoding: decompression bombs), damaged files, animated or multi-frame files are read at their first frame.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(value, np.ndarray):
        arr = value
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=-1)
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise InputError("the image must have height, width and 3 colour channels")
        return np.ascontiguousarray(arr[..., :3].astype(np.uint8))
    path = _path_of(value)
    if not path:
        if required:
            raise InputError("upload an image first")
        return None
    if not os.path.isfile(path):
        raise InputError("the uploaded file could not be found on the server; please upload it again")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise InputError(f"the image is too large: {w}×{h} = {w * h:,} pixels; the limit is "
                                     f"{max_pixels:,} pixels (about {int(max_pixels ** 0.5):,}² ). Please resize it.")
                if w < 1 or h < 1:
                    raise InputError("the image is empty (zero width or height)")
                im.draft("RGB", (MAX_SIDE_KEPT, MAX_SIDE_KEPT))  # JPEG: decode at reduced size when possible
                im.seek(0)
                rgb = im.convert("RGB")
                if max(rgb.size) > MAX_SIDE_KEPT:
                    rgb.thumbnail((MAX_SIDE_KEPT, MAX_SIDE_KEPT), Image.BILINEAR)
                return np.asarray(rgb, dtype=np.uint8).copy()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"the image is too large (it declares more than {max_pixels:,} pixels and could be a "
                         "decompression bomb); please upload a smaller image") from None
    except UnidentifiedImageError:
        raise InputError("this file is not an image this app can read; upload a PNG, JPEG, GIF, WebP or BMP "
                         "image") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise InputError(f"the image file is damaged or truncated and cannot be decoded ({type(e).__name__})"
                         ) from None


def parse_texts(value: Any, max_texts: int = 16, max_chars: int = 300, required: bool = False) -> list[str]:
    """One text per line; blank lines dropped.  Too many texts or too long a text is refused, not truncated."""
    if value is None:
        value = ""
    if isinstance(value, (list, tuple)):
        lines = [str(v) for v in value]
    else:
        lines = str(value).replace("\r\n", "\n").split("\n")
    texts = [" ".join(t.split()) for t in lines]
    texts = [t for t in texts if t]
    if required and not texts:
        raise InputError("type at least one text (one per line)")
    if len(texts) > max_texts:
        raise InputError(f"too many texts: {len(texts)}; at most {max_texts} (one per line)")
    long = [i + 1 for i, t in enumerate(texts) if len(t) > max_chars]
    if long:
        raise InputError(f"text {long[0]} is longer than {max_chars} characters; please shorten it")
    return texts


def parse_caption(value: Any, max_chars: int = 300) -> str:
    texts = parse_texts(value, max_texts=1, max_chars=max_chars, required=True)
    return texts[0]
