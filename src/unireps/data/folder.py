"""`folder`: the user's own images with captions, resized and centre-cropped to a common size."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .base import Dataset
from .folder_captions import IMAGE_EXTS, find_images, read_captions


def _open_rgb(path: Path, max_pixels: int | None) -> Image.Image:
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else int(max_pixels)
    bomb = (f"image {path} is larger than the {limit:,}-pixel limit that guards against decompression bombs; "
            "downscale it, or if you trust the file raise the limit (max_pixels=..., and "
            "PIL.Image.MAX_IMAGE_PIXELS for very large files).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if limit and im.size[0] * im.size[1] > limit:
                    raise ValueError(bomb)
                im = ImageOps.exif_transpose(im)
                im.load()
                if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                    rgba = im.convert("RGBA")
                    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)),
                                                 rgba).convert("RGB")
                return im.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(bomb) from None
    except (OSError, SyntaxError) as e:
        raise ValueError(f"cannot read image {path} ({type(e).__name__}: {e}); the file is corrupt or not "
                         "an image: re-export it or remove it (and its caption).") from None


def _labels(raw: list) -> tuple[np.ndarray | None, list[str] | None]:
    if all(r is None for r in raw):
        return None, None
    if any(r is None for r in raw):
        raise ValueError("some captions have a label and some do not; give a label for every image or none.")
    text = [str(r).strip() for r in raw]
    if all(t.lstrip("-").isdigit() for t in text):
        return np.array([int(t) for t in text], dtype=np.int64), None
    names = sorted(set(text))
    return np.array([names.index(t) for t in text], dtype=np.int64), names


def load_folder(path: str | Path, image_size: int = 224, keep_originals: bool = False,
                max_pixels: int | None = None) -> Dataset:
    """Load every image under ``path`` with its caption (see `folder_captions.read_captions`).

    Images are resized so the short side is ``image_size`` then centre-cropped to a square; with
    ``keep_originals`` the uncropped RGB arrays are kept in ``metadata["originals"]``. An optional
    ``label`` column/key gives ``labels`` (ints as given, or names coded in sorted order).
    """
    if not isinstance(image_size, int | np.integer) or not 8 <= image_size <= 4096:
        raise ValueError(f"folder: image_size must be an integer from 8 to 4096, got {image_size!r}.")
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"folder: {root} does not exist; pass path= a folder of images with "
                                "captions.")
    if not root.is_dir():
        raise ValueError(f"folder: {root} is not a folder; pass path= the folder that holds the images.")
    images = find_images(root)
    if not images:
        raise ValueError(f"folder: no images ({', '.join(IMAGE_EXTS)}) found in {root}; add images and "
                         "their captions.")
    rows, source = read_captions(root, images)
    arrays, originals = [], []
    for rel, _, _ in rows:
        im = _open_rgb(root / rel, max_pixels)
        if keep_originals:
            originals.append(np.asarray(im, dtype=np.uint8))
        arrays.append(np.asarray(ImageOps.fit(im, (image_size, image_size), Image.Resampling.BICUBIC),
                                 dtype=np.uint8))
    labels, label_names = _labels([r[2] for r in rows])
    meta = {"path": str(root.resolve()), "source": source, "files": [r[0] for r in rows],
            "image_size": int(image_size), "citation": "", "licence": "as given by the owner of the images"}
    if label_names is not None:
        meta["label_names"] = label_names
    if keep_originals:
        meta["originals"] = originals
    return Dataset(name="folder", images=np.stack(arrays), captions=[r[1] for r in rows], labels=labels,
                   metadata=meta)
