"""``bridge:lite{0,1,2}-minilm``: a real image tower and a real text tower joined by a map fit here (not CLIP).

The image tower is EfficientNet-Lite (ImageNet weights, :mod:`unireps.models.families.efficientnet_lite`), the
text tower all-MiniLM-L6-v2 (:mod:`unireps.models.families.minilm`); both stay frozen. A
:class:`~unireps.transfer.bridge.LinearBridge` (``method``, default :data:`DEFAULT_METHOD`) takes the image
features of one layer into the text space; it is fit on the 92 captioned photographs (Kriegeskorte et al. 2008,
captions written for unireps), and the layer is the one with the highest linear CKA to the captions over those
same photographs. The fitted map is cached under ``<unireps cache>/bridge/`` (an ``.npz`` of float arrays, written
atomically, read with ``allow_pickle=False``) and refit when the towers, the data or this recipe change.

How well such a bridge retrieves *held-out* captions, with its baselines, is measured by
:func:`~unireps.transfer.bridge_study.bridge_study` (``unireps bridge``; ``docs/bridge.md``): the model loaded here
is fit on all 92 photographs, so those photographs are not a test set for it.

Importing this module registers the ``bridge:`` source with :func:`unireps.models.register_source`;
``unireps.models`` imports it by name the first time a ``bridge:`` name is loaded or listed.

>>> from unireps.models import parse_name
>>> parse_name("bridge:lite0-minilm").source
'bridge'
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UnknownModelError
from ..models.cache import default_cache_dir
from ..models.encoder import Encoder, auto_device
from ..models.registry import ModelInfo, register_source
from .bridge import BRIDGE_METHODS, LinearBridge

TOWERS = {"lite0-minilm": "efficientnet-lite0", "lite1-minilm": "efficientnet-lite1",
          "lite2-minilm": "efficientnet-lite2"}
TEXT_TOWER = "minilm"
DEFAULT_METHOD = "procrustes"
RECIPE = "bridge-v1: kriegeskorte92 all 92 photos; layer = max linear CKA to MiniLM captions; LinearBridge"
LABEL = ("real image tower + real text tower joined by a linear map fit here on {n} captioned photos (not CLIP): "
         "{tower} (ImageNet weights) -> all-MiniLM-L6-v2, {method}")


class BridgeEncoder(Encoder):
    """An image tower and a text tower (each an :class:`Encoder`) whose embeddings meet through a fitted bridge.

    ``encode_images``: the bridge's image transform of the tower's ``layer`` (spatial mean), ``encode_texts``: its
    text transform of the text tower's (L2-normalised) sentence embedding; both L2-normalised by the engine.
    Layers (``extract``, ``image_layers``, ``text_layers``) are the towers' own.
    """

    family = "bridge"

    def __init__(self, image: Encoder, text: Encoder, bridge: LinearBridge, layer: str, *, name: str, source: str,
                 weights_sha256: str, description: str, batch_size: int = 32, progress: bool | None = None):
        self.towers = {"image": image, "text": text}
        self.bridge = bridge
        self.layer = layer
        self.description = description
        dim = bridge.transform(np.zeros((1, bridge.n_features_in_))).shape[1]
        super().__init__(
            name=name, source=source, modalities=("image", "text"),
            layer_names={m: t.layer_names[m] for m, t in self.towers.items()},
            default_pooling={m: t.default_pooling[m] for m, t in self.towers.items()}, embedding_dim=int(dim),
            embedding_layer={"image": layer, "text": text.embedding_layer.get("text")}, device=image.device,
            batch_size=batch_size, weights_sha256=weights_sha256, progress=progress,
            weight_files={**image.weight_files, **text.weight_files},
        )

    def _prepare(self, modality, raw):
        return self.towers[modality]._prepare(modality, raw)

    def _capture_modules(self, modality):
        return self.towers[modality]._capture_modules(modality)

    def _capture_wanted(self, modality, layers):
        wanted = set(layers) | ({self.layer} if modality == "image" else set())
        return self.towers[modality]._capture_wanted(modality, wanted)

    def _postprocess(self, modality, acts, info):
        return self.towers[modality]._postprocess(modality, acts, info)

    def _text_lengths(self, texts):
        return self.towers["text"]._text_lengths(texts)

    def preprocess_fingerprint(self, modality):
        return self.towers[modality].preprocess_fingerprint(modality)

    def _forward(self, modality, inputs, layers):
        tower = self.towers[modality]
        if modality == "image":
            acts, _, info = tower._forward("image", inputs, set(layers) | {self.layer})
            feat = acts[self.layer]
            feat = feat.mean(dim=(2, 3)) if feat.ndim == 4 else feat
            emb = self.bridge.transform(feat.detach().double().cpu().numpy())
        else:
            acts, raw, info = tower._forward("text", inputs, layers)
            raw = torch.nn.functional.normalize(raw.float(), dim=-1)
            emb = self.bridge.transform_text(raw.double().cpu().numpy())
        return acts, torch.as_tensor(emb, dtype=torch.float32, device=self.device), info


def bridge_dir(cache_dir=None) -> Path:
    """Where fitted bridges are cached: ``<cache_dir or the unireps cache>/bridge``."""
    return Path(cache_dir).expanduser() / "bridge" if cache_dir is not None else default_cache_dir() / "bridge"


def _key(image: Encoder, text: Encoder, data_fingerprint: str, method: str) -> str:
    fields = {"recipe": RECIPE, "image": image.weights_sha256, "text": text.weights_sha256,
              "image_pre": image.preprocess_fingerprint("image"), "text_pre": text.preprocess_fingerprint("text"),
              "data": data_fingerprint, "method": method}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def fit_bridge(image: Encoder, text: Encoder, method: str = DEFAULT_METHOD, cache_dir=None
               ) -> tuple[LinearBridge, str, int, Path]:
    """Fit (or read from the cache) the bridge of ``image`` to ``text`` on the 92 captioned photographs;
    returns ``(bridge, layer, n_photos, file)``. ``cache_dir``: the unireps cache root (default: ``$UNIREPS_CACHE``
    or ``~/.cache/unireps``); the towers' activations are cached under it too."""
    from ..analysis.reps import embedding, representations
    from ..data import load_dataset
    from ..io import atomic_write
    from .bridge_study import choose_layer

    ds = load_dataset("kriegeskorte92")
    activation_cache = cache_dir
    path = bridge_dir(cache_dir) / f"{image.name}-{method}-{_key(image, text, ds.content_hash, method)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                state = dict(z)
            return LinearBridge.from_state(state), str(state["layer"]), int(state["n_anchors"]), path
        except (ValueError, KeyError, OSError):
            path.unlink(missing_ok=True)  # a damaged cache file: refit below
    reps = representations(image, ds, "image", layers="all", cache_dir=activation_cache)
    layers = {k: v for k, v in reps.items() if k != "head"}  # head = pooled under spatial-mean pooling
    captions = np.asarray(embedding(text, ds, "text", cache_dir=activation_cache), dtype=np.float64)
    rows = np.arange(len(ds.captions))
    layer, _ = choose_layer(layers, captions, rows)
    bridge = LinearBridge(method).fit(layers[layer].astype(np.float64), captions)
    buf = io.BytesIO()
    np.savez(buf, layer=np.array(layer), **bridge.state())
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return bridge, layer, len(rows), path


def load_bridge(target: str, *, name: str | None = None, device=None, method: str = DEFAULT_METHOD, cache_dir=None,
                batch_size: int = 32, progress: bool | None = None, **_ignored: Any) -> BridgeEncoder:
    """``bridge:<target>`` (``lite0-minilm``, ``lite1-minilm``, ``lite2-minilm``) as a :class:`BridgeEncoder`."""
    from ..models import load_model

    if target not in TOWERS:
        raise UnknownModelError(f"unknown bridge {target!r}; the bridges are "
                                f"{', '.join('bridge:' + t for t in TOWERS)}")
    if method not in BRIDGE_METHODS:
        raise ValueError(f"unknown method={method!r}; accepted values: {', '.join(map(repr, BRIDGE_METHODS))}")
    dev = auto_device(device)
    image = load_model(TOWERS[target], device=dev, batch_size=batch_size, progress=progress)
    text = load_model(TEXT_TOWER, device=dev, batch_size=batch_size, progress=progress)
    bridge, layer, n, path = fit_bridge(image, text, method, cache_dir)
    sha = hashlib.sha256(f"{image.weights_sha256}|{text.weights_sha256}|{path.name}".encode()).hexdigest()
    desc = LABEL.format(n=n, tower=TOWERS[target], method=f"{method} map from layer {layer!r}")
    return BridgeEncoder(image, text, bridge, layer, name=name or f"bridge:{target}", source=f"bridge:{path}",
                         weights_sha256=sha, description=desc, batch_size=batch_size, progress=progress)


def _load_source(target: str, *, name: str, device=None, allow_download: bool = False, **kw: Any) -> Encoder:
    return load_bridge(target, name=name, device=device, **kw)


def _available(target: str) -> bool:
    from ..models.families import efficientnet_lite, minilm

    return efficientnet_lite.available(TOWERS[target]) and minilm.available()


def bridge_model_infos() -> list[ModelInfo]:
    """One :class:`~unireps.models.ModelInfo` per bridge (available when both towers' packages are installed)."""
    return [ModelInfo(f"bridge:{t}", "bridge", ("image", "text"), f"package towers {tower} + {TEXT_TOWER}",
                      "bridge", _available(t), LABEL.format(n=92, tower=tower, method=f"{DEFAULT_METHOD} map"),
                      {"image_tower": tower, "text_tower": TEXT_TOWER})
            for t, tower in TOWERS.items()]


def register_bridge_source() -> list[str]:
    """Register ``bridge:`` with :func:`unireps.models.register_source` (idempotent); returns the names."""
    register_source("bridge", _load_source, list_models=bridge_model_infos, overwrite=True,
                    description="real image tower + MiniLM joined by a linear map fit here (unireps.transfer)")
    return [f"bridge:{t}" for t in TOWERS]


register_bridge_source()
