"""Image preprocessing without torchvision: resize (shortest side), centre crop, normalise.

Used by adapters whose own libraries would preprocess with torchvision (open_clip, timm), so
that they work where torchvision is absent. Resizing goes through PIL with the named filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..inputs import to_rgb_arrays

_FILTERS = {"bicubic": 3, "bilinear": 2, "nearest": 0, "lanczos": 1, "box": 4, "hamming": 5}


def resize_crop_normalize(
    images: Any,
    size: int | Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    *,
    interpolation: str = "bicubic",
    crop_pct: float = 1.0,
) -> torch.Tensor:
    from PIL import Image

    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    scale_to = int(round(min(h, w) / crop_pct))
    resample = _FILTERS.get(str(interpolation).lower(), 3)
    out = []
    for arr in to_rgb_arrays(images):
        im = Image.fromarray(arr)
        iw, ih = im.size
        s = scale_to / min(iw, ih)
        im = im.resize((max(w, round(iw * s)), max(h, round(ih * s))), resample=resample)
        iw, ih = im.size
        left, top = (iw - w) // 2, (ih - h) // 2
        im = im.crop((left, top, left + w, top + h))
        out.append(np.asarray(im, dtype=np.float32) / 255.0)
    x = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    sd = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - m) / sd
