"""Generic adapters: any ``transformers`` model (``hf:<repo id>`` or a folder of an unknown
``model_type``) and any ``torch.nn.Module`` (:func:`from_module`).

Generic transformers model
    ===================  ==============================================================
    towers               image if the model's main input is ``pixel_values``, text if it
                         is ``input_ids``; a model with ``get_image_features`` and
                         ``get_text_features`` is treated as a dual encoder
    layers               ``embeddings`` (``hidden_states[0]``), ``block.*``
                         (``hidden_states[1:]``), ``final_norm`` (``last_hidden_state``,
                         after any final LayerNorm; equal to the last block for post-LN models)
    shared embedding     dual encoder: ``get_*_features`` (CLS token if it returns tokens);
                         otherwise ``pooler_output`` when it is (n, d), else the default
                         pooling of ``last_hidden_state``
    default pooling      text ``mean`` (mask-aware); image ``cls`` for ViT-like token
                         sequences (the ``cls`` choice is refused without a prefix token),
                         ``spatial_mean`` for feature maps
    ===================  ==============================================================

Any ``nn.Module`` (:func:`from_module`)
    ===================  ==============================================================
    layers               the named submodules you list (forward hooks; a tuple output keeps
                         its first tensor), then ``output`` (the module's return value)
    shared embedding     ``output``, pooled with the default pooling if it is not 2-D
    default pooling      image ``spatial_mean`` (feature-map mean, or mean of the tokens after
                         ``num_prefix_tokens``), text ``mean`` (mask-aware when ``preprocess``
                         returns an ``attention_mask``)
    preprocessing        ``preprocess(batch)`` -> tensor, tuple of args or dict of kwargs;
                         default for images: uint8 (n, H, W, 3) -> float (n, 3, H, W) / 255
    ===================  ==============================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..encoder import Encoder, auto_device, first_tensor
from ..inputs import stable_hash, to_rgb_arrays
from ..pooling import TokenInfo, pool
from ._hf import HFEncoder, block_names, embedding_tensor


class GenericHFEncoder(HFEncoder):
    family = "hf"
    text_input_keys = ("input_ids", "attention_mask", "token_type_ids")

    def _model_class(self):
        from transformers import AutoModel

        return AutoModel

    def _setup(self):
        m = self.model
        self._dual = hasattr(m, "get_image_features") and hasattr(m, "get_text_features")
        main = getattr(m, "main_input_name", "input_ids")
        if self._dual:
            modalities = ("image", "text")
        else:
            modalities = ("image",) if main == "pixel_values" else ("text",)
        self._kinds = {}
        layer_names, pooling, dims = {}, {}, {}
        for mod in modalities:
            # discover the layer structure with one dummy input
            self.device = next(m.parameters()).device
            with torch.inference_mode():
                hs, last, emb, info = self._run(mod, self._prepare(mod, self._dummy(mod)))
            layer_names[mod] = ["embeddings", *block_names(len(hs) - 1), "final_norm"]
            if mod == "text":
                pooling[mod] = "mean"
            else:
                pooling[mod] = "spatial_mean" if last.ndim == 4 else ("cls" if info.num_prefix_tokens else "mean")
            dims[mod] = int(emb.shape[-1])
        return {
            "modalities": modalities,
            "layer_names": layer_names,
            "default_pooling": pooling,
            "embedding_dim": dims.get("text", dims.get("image")),
        }

    @staticmethod
    def _dummy(mod):
        return np.full((1, 224, 224, 3), 127, dtype=np.uint8) if mod == "image" else ["a"]

    def _run(self, modality, inputs):
        m = self.model
        if modality == "image":
            kw = {k: v for k, v in inputs.items() if k in ("pixel_values", "pixel_attention_mask", "spatial_shapes")}
            prefix = 1 if getattr(self.config, "model_type", "") not in ("siglip_vision_model",) else 0
            if self._dual:
                out = m.get_image_features(**kw, output_hidden_states=True)
            else:
                out = m(**kw, output_hidden_states=True)
            last = out.last_hidden_state
            info = TokenInfo("image", num_prefix_tokens=prefix if last.ndim == 3 else 0, fixed_length=True)
        else:
            kw = self._text_model_inputs(inputs)
            fn = m.get_text_features if self._dual else m
            out = fn(**kw, output_hidden_states=True)
            last = out.last_hidden_state
            mask = inputs.get("attention_mask")
            eos = self._last_real_token(mask) if mask is not None else None
            info = TokenInfo("text", mask=mask, eos_index=eos, fixed_length=False)
        if self._dual:
            emb = embedding_tensor(out)
            emb = emb[:, 0] if emb.ndim == 3 else emb
        else:
            pooled = getattr(out, "pooler_output", None)
            if pooled is not None and pooled.ndim == 2:
                emb = pooled
            elif last.ndim == 4:
                emb = pool(last, "spatial_mean", info)
            else:
                emb = pool(last, "mean" if modality == "text" or not info.num_prefix_tokens else "cls", info)
        return out.hidden_states, last, emb, info

    def _forward(self, modality, inputs, layers):
        hs, last, emb, info = self._run(modality, inputs)
        names = self.layer_names[modality]
        acts = {name: hs[i] for i, name in enumerate(names[:-1]) if name in layers}
        if "final_norm" in layers:
            acts["final_norm"] = last
        return acts, emb, info


ADAPTER = GenericHFEncoder


# ---------------------------------------------------------------------------------------------
# any nn.Module


def state_dict_sha256(module: nn.Module) -> str:
    """sha256 over the module's parameters and buffers (names, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        t = v.detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def default_image_preprocess(images: Any) -> torch.Tensor:
    arrays = to_rgb_arrays(images)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"images of different sizes {sorted(shapes)}; pass preprocess= to resize them")
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)
    return x


class ModuleEncoder(Encoder):
    family = "module"

    def __init__(
        self,
        module: nn.Module,
        layers: Sequence[str] | None = None,
        preprocess: Callable[[Any], Any] | None = None,
        *,
        modality: str = "image",
        name: str | None = None,
        device: str | torch.device | None = None,
        batch_size: int = 32,
        num_prefix_tokens: int = 0,
        preprocess_id: str | None = None,
        source: str | None = None,
        weights_sha256: str | None = None,
        weight_files: dict[str, str] | None = None,
        progress: bool | None = None,
    ):
        if modality not in ("image", "text"):
            raise ValueError("modality must be 'image' or 'text'")
        if modality == "text" and preprocess is None:
            raise ValueError("a text module needs preprocess=: a function from a list of str to model inputs")
        named = dict(module.named_modules())
        if layers is None:
            layers = [n for n, _ in module.named_children()]
        layers = list(layers)
        unknown = [n for n in layers if n not in named or n == ""]
        if unknown:
            some = [n for n in named if n][:20]
            raise ValueError(f"unknown submodule(s) {unknown}; named submodules include: {some}")
        self.module = module
        self._preprocess = preprocess or default_image_preprocess
        self._preprocess_id = preprocess_id or (
            "default-image-v1" if preprocess is None else getattr(preprocess, "__qualname__", repr(preprocess))
        )
        self._num_prefix = int(num_prefix_tokens)
        self._modality = modality
        self._hooks = [(n, named[n]) for n in layers]
        dev = auto_device(device)
        module.to(dev).eval()
        sha = weights_sha256 or state_dict_sha256(module)
        super().__init__(
            name=name or f"module:{type(module).__name__}",
            source=source or f"module:{type(module).__module__}.{type(module).__qualname__}",
            modalities=(modality,),
            layer_names={modality: [*layers, "output"]},
            default_pooling={modality: "spatial_mean" if modality == "image" else "mean"},
            embedding_dim=None,
            embedding_layer={modality: "output"},
            device=dev,
            batch_size=batch_size,
            weights_sha256=sha,
            weight_files=weight_files,
            progress=progress,
        )

    def _capture_modules(self, modality):
        return self._hooks

    def preprocess_fingerprint(self, modality):
        return stable_hash({"module_preprocess": self._preprocess_id, "prefix": self._num_prefix})

    def _prepare(self, modality, raw):
        x = self._preprocess(raw)
        def move(t):
            return t.to(self.device) if isinstance(t, torch.Tensor) else t

        if isinstance(x, dict):
            return {k: move(v) for k, v in x.items()}
        if isinstance(x, (tuple, list)):
            return tuple(move(v) for v in x)
        return move(x)

    def _forward(self, modality, inputs, layers):
        if isinstance(inputs, dict):
            out = self.module(**inputs)
            mask = inputs.get("attention_mask")
        elif isinstance(inputs, tuple):
            out = self.module(*inputs)
            mask = None
        else:
            out = self.module(inputs)
            mask = None
        out = first_tensor(out)
        if modality == "text":
            eos = None if mask is None else torch.as_tensor(mask).sum(1) - 1
            info = TokenInfo("text", mask=mask, eos_index=eos, fixed_length=mask is None)
        else:
            info = TokenInfo("image", num_prefix_tokens=self._num_prefix, fixed_length=True)
        emb = pool(out, self.default_pooling[modality], info)
        if self.embedding_dim is None:
            self.embedding_dim = int(emb.shape[-1])
        return {"output": out}, emb, info


def from_module(
    module: nn.Module,
    layers: Sequence[str] | None = None,
    preprocess: Callable[[Any], Any] | None = None,
    **kw: Any,
) -> ModuleEncoder:
    """Wrap any ``nn.Module`` as an :class:`~unireps.models.encoder.Encoder`.

    ``layers``: names from ``module.named_modules()`` to record with forward hooks (default: the
    direct children), in input-to-output order; ``output`` (the module's return value) is added
    last and is the shared embedding. ``preprocess``: raw batch -> tensor / args tuple / kwargs
    dict (default for images: uint8 (n, H, W, 3) -> float (n, 3, H, W) in [0, 1]). Keywords:
    ``modality`` ("image" | "text"), ``name``, ``device``, ``batch_size``, ``num_prefix_tokens``,
    ``preprocess_id`` (a stable name of ``preprocess`` for cache keys).

    >>> from torch import nn
    >>> from unireps.models import from_module
    >>> enc = from_module(nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU()))
    >>> tuple(enc.layer_names["image"])
    ('0', '1', '2', 'output')
    """
    return ModuleEncoder(module, layers, preprocess, **kw)
