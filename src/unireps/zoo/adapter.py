"""Loading zoo models through :mod:`unireps.models`, and registering ``zoo:<name>`` there.

* Hugging Face stand-ins are ``save_pretrained`` folders: the registry loads them with the same
  family adapter as the real checkpoint (family from ``config.json``'s ``model_type``).
* Plain models are rebuilt from ``zoo_model.json``, get their weights from ``model.safetensors``
  and are wrapped tower by tower with :func:`unireps.models.from_module` (named layers, input to
  output, then ``output`` = the shared embedding). A two-tower model is one :class:`TwoTowerEncoder`
  that hands each modality to its tower's encoder (``from_module`` wraps one modality).

A model that is not built yet is built on first load (seconds to a minute; deterministic; a progress line says
so); ``build=False`` refuses instead, with :class:`~unireps.errors.ModelNotAvailableError`.

:func:`register_zoo_source` is the zoo's plug-in registration with :mod:`unireps.models` (``zoo:`` prefix);
:mod:`unireps.zoo` calls it on import, and ``unireps.models`` imports :mod:`unireps.zoo` by name the first time a
``zoo:`` name is loaded or listed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ModelNotAvailableError
from ..models.encoder import Encoder, auto_device
from ..models.registry import ModelInfo, load_folder, register_source
from .catalog import catalogue, entry
from .store import WEIGHTS, is_built, sha256_file, zoo_dir


class TwoTowerEncoder(Encoder):
    """An image and a text tower, each already an `Encoder` of one modality, as one encoder."""

    family = "zoo"

    def __init__(self, towers: dict[str, Encoder], *, name: str, source: str, embedding_dim: int, device,
                 batch_size: int = 32, weights_sha256: str | None = None, weight_files: dict | None = None,
                 progress: bool | None = None):
        self.towers = dict(towers)
        super().__init__(
            name=name, source=source, modalities=tuple(self.towers),
            layer_names={m: t.layer_names[m] for m, t in self.towers.items()},
            default_pooling={m: t.default_pooling[m] for m, t in self.towers.items()},
            embedding_dim=embedding_dim, embedding_layer={m: "output" for m in self.towers}, device=device,
            batch_size=batch_size, weights_sha256=weights_sha256, weight_files=weight_files, progress=progress,
        )

    def _prepare(self, modality, raw):
        return self.towers[modality]._prepare(modality, raw)

    def _forward(self, modality, inputs, layers):
        return self.towers[modality]._forward(modality, inputs, layers)

    def _capture_modules(self, modality):
        return self.towers[modality]._capture_modules(modality)

    def preprocess_fingerprint(self, modality):
        return self.towers[modality].preprocess_fingerprint(modality)


class ResizeImages:
    """``preprocess`` for the plain zoo image towers: any RGB batch resized (bilinear) to the training size, then
    the default uint8 -> float [0, 1] conversion. Inputs already at that size are untouched (no resampling)."""

    def __init__(self, size: int):
        self.size = int(size)
        self.id = f"zoo-resize{self.size}-v1"

    def __call__(self, images: Any):
        import numpy as np
        from PIL import Image

        from ..models.families.generic import default_image_preprocess
        from ..models.inputs import to_rgb_arrays

        arrays = [a if a.shape[:2] == (self.size, self.size) else
                  np.asarray(Image.fromarray(a).resize((self.size, self.size), Image.BILINEAR))
                  for a in to_rgb_arrays(images)]
        return default_image_preprocess(np.stack(arrays))


def load_plain(folder: str | Path, *, name: str | None = None, device=None, batch_size: int = 32,
               progress: bool | None = None, **_ignored: Any) -> Encoder:
    """A plain zoo model folder as an `Encoder` (image tower, plus text tower if it has one)."""
    from safetensors.torch import load_file

    from ..models import from_module
    from .plain import PlainModel
    from .tokenizer import TextPreprocess, vocab_hash

    folder = Path(folder)
    meta = json.loads((folder / "zoo_model.json").read_text())
    if meta.get("text") and meta.get("vocab_hash") != vocab_hash():
        raise RuntimeError(f"{folder}: saved with another zoo vocabulary ({meta.get('vocab_hash')}); rebuild it "
                           "with unireps.zoo.build(force=True)")
    model = PlainModel(meta["image"], meta["text"], meta["objective"], dim=meta["dim"])
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    model.eval().requires_grad_(False)
    sha = sha256_file(folder / WEIGHTS)
    name = name or f"zoo:{folder.name}"
    dev = auto_device(device)
    common = dict(name=name, device=dev, batch_size=batch_size, source=f"zoo:{folder}", weights_sha256=sha,
                  weight_files={WEIGHTS: sha}, progress=progress)
    from .data import IMAGE_SIZE

    resize = ResizeImages(meta.get("image_size", IMAGE_SIZE))
    towers = {"image": from_module(model.image, meta["layers"]["image"], resize, modality="image",
                                   num_prefix_tokens=meta["num_prefix_tokens"]["image"], preprocess_id=resize.id,
                                   **common)}
    if model.text is not None:
        tp = TextPreprocess()
        towers["text"] = from_module(model.text, meta["layers"]["text"], tp, modality="text", preprocess_id=tp.id,
                                     **common)
    if len(towers) == 1:
        enc = towers["image"]
        enc.family = "zoo"
        enc.embedding_dim = int(meta["dim"])
        return enc
    return TwoTowerEncoder(towers, name=name, source=f"zoo:{folder}", embedding_dim=int(meta["dim"]), device=dev,
                           batch_size=batch_size, weights_sha256=sha, weight_files={WEIGHTS: sha},
                           progress=progress)


def ensure_built(name: str, cache_dir=None, progress: bool | None = None) -> Path:
    """The folder of zoo model ``name``, building it (and its recipe's siblings) first if needed."""
    e = entry(name)
    folder = zoo_dir(cache_dir) / e.name
    if not is_built(folder, e.recipe.hash()):
        from .build import build

        build(names=[e.name], cache_dir=cache_dir, progress=bool(progress) if progress is not None else True)
    return folder


def load_zoo_model(name: str, *, device=None, cache_dir=None, batch_size: int = 32, progress: bool | None = None,
                   build: bool = True, **kw: Any) -> Encoder:
    """``zoo:<name>`` as an `Encoder` (what ``unireps.models.load_model('zoo:<name>')`` returns).

    ``build``: a model not built yet in ``cache_dir`` is trained first (True, the default) or refused (False)."""
    e = entry(name)
    if not build and not is_built(zoo_dir(cache_dir) / e.name, e.recipe.hash()):
        raise ModelNotAvailableError(
            f"zoo model {e.name!r} is not built in {zoo_dir(cache_dir)} and build=False; build it with "
            f"unireps.zoo.build(names=[{e.name!r}]) or `unireps zoo build`, or load it with build=True"
        )
    folder = ensure_built(e.name, cache_dir=cache_dir, progress=progress)
    if e.recipe.kind == "hf":
        return load_folder(folder, name=f"zoo:{e.name}", source=f"zoo:{folder}", device=device,
                           batch_size=batch_size, progress=progress, **kw)
    return load_plain(folder, name=f"zoo:{e.name}", device=device, batch_size=batch_size, progress=progress)


def _load_source(target: str, *, name: str, device=None, allow_download: bool = False, **kw: Any) -> Encoder:
    """The ``zoo:`` source's loader (``allow_download`` does not apply: zoo models are built here)."""
    return load_zoo_model(target, device=device, **kw)


def _stamp(target: str) -> str | None:
    """The ``zoo:`` source's stamp: its recipe's hash and every file of the built model's folder (path, size,
    modification time); None when it is not built (or not a zoo name)."""
    import hashlib

    try:
        e = entry(target)
    except (KeyError, ValueError):
        return None
    folder, recipe = zoo_dir() / e.name, e.recipe.hash()
    if not is_built(folder, recipe):
        return None
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    lines = [recipe, *(f"{p.relative_to(folder)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _available(name: str, cache_dir=None) -> bool:
    e = entry(name)
    return is_built(zoo_dir(cache_dir) / e.name, e.recipe.hash())


def zoo_model_infos() -> list[ModelInfo]:
    """One :class:`~unireps.models.ModelInfo` per catalogue model (built or not, as ``available``)."""
    return [
        ModelInfo(f"zoo:{e.name}", e.family, tuple(e.modalities), f"zoo:{zoo_dir() / e.name}", "zoo",
                  _available(e.name), e.description, {"presets": list(e.presets), "variant": e.variant, "base": e.base})
        for e in catalogue().values()
    ]


def register_zoo_source() -> list[str]:
    """Register the ``zoo:`` source with :func:`unireps.models.register_source` (idempotent); returns the names."""
    register_source("zoo", _load_source, list_models=zoo_model_infos, overwrite=True, stamp=_stamp,
                    description="small models trained here on the shapes world (unireps.zoo)")
    return [f"zoo:{name}" for name in catalogue()]


register_zoo_models = register_zoo_source  # the earlier name
