"""OpenCLIP models (``open_clip:<arch>/<pretrained>``, optional: ``pip install open_clip_torch``).

``<pretrained>`` is an OpenCLIP tag (e.g. ``laion2b_s34b_b79k``), a path to a checkpoint file,
or empty for random weights. Offline, a tag is looked up in the Hugging Face cache (the tag's
``hf_hub`` repo, ``open_clip_model.safetensors`` then ``open_clip_pytorch_model.bin``) or in
OpenCLIP's download folder; OpenCLIP loads ``.bin`` checkpoints with ``weights_only`` torch.load.
Images are preprocessed here (resize shortest side, centre crop, the model's mean/std), without
torchvision.

===================  =====================================================================
shared embedding     ``encode_image`` / ``encode_text`` (``normalize=False`` inside; L2
                     normalisation by ``encode_*`` unless ``normalize=False``)
image layers         ViT towers: ``embeddings`` (``ln_pre`` output), ``block.*``
                     (``transformer.resblocks``, pre final LayerNorm), ``final_norm``
                     (``ln_post`` token-wise), ``projection``; other towers: ``projection`` only
text layers          ``block.*``, ``final_norm`` (``ln_final``), ``projection``
default pooling      image ``cls``; text ``eos`` (``argmax`` of the token ids, as OpenCLIP)
text padding         fixed ``context_length`` (77), zero-padded; causal, so ``flatten`` is allowed
===================  =====================================================================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..encoder import Encoder, auto_device
from ..errors import ModelNotAvailableError
from ..hub import file_sha256, not_available_message
from ..inputs import stable_hash
from ..pooling import TokenInfo
from ._hf import block_names
from ._vision_preprocess import resize_crop_normalize


def _import():
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "open_clip models need the optional package open_clip_torch (and torchvision): "
            "pip install open_clip_torch"
        ) from exc
    return open_clip


def _find_offline(oc, arch: str, tag: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    cfg = oc.get_pretrained_cfg(arch, tag) or {}
    hub = (cfg.get("hf_hub") or "").strip("/")
    if hub:
        parts = hub.split("/")
        repo, sub = "/".join(parts[:2]), "/".join(parts[2:])
        for fname in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            found = try_to_load_from_cache(repo, f"{sub}/{fname}" if sub else fname)
            if isinstance(found, str):
                return found
    url = cfg.get("url") or ""
    if url:
        local = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if local.exists():
            return str(local)
    return None


class OpenCLIPEncoder(Encoder):
    family = "open_clip"

    def __init__(self, spec: str, *, name: str, device=None, allow_download: bool = False,
                 batch_size: int = 32, progress: bool | None = None):
        oc = _import()
        arch, _, pretrained = spec.partition("/")
        weights = None
        if pretrained:
            if os.path.isfile(pretrained):
                weights = pretrained
            elif not allow_download:
                weights = _find_offline(oc, arch, pretrained)
                if weights is None:
                    raise ModelNotAvailableError(
                        not_available_message(name, None, [f"Hugging Face cache / ~/.cache/clip for {spec}"])
                    )
            else:
                weights = pretrained
        dev = auto_device(device)
        model = oc.create_model(arch, pretrained=weights, device=dev)
        model.eval().requires_grad_(False)
        self.model = model
        self.tokenizer = oc.get_tokenizer(arch)
        v = model.visual
        pcfg = getattr(v, "preprocess_cfg", {}) or {}
        size = pcfg.get("size", getattr(v, "image_size", 224))
        self._pre = {
            "size": list(size) if isinstance(size, (tuple, list)) else int(size),
            "mean": list(pcfg.get("mean", getattr(v, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073))),
            "std": list(pcfg.get("std", getattr(v, "image_std", None) or (0.26862954, 0.26130258, 0.27577711))),
            "interpolation": pcfg.get("interpolation", "bicubic"),
        }
        self._vit = hasattr(v, "transformer") and hasattr(v.transformer, "resblocks")
        img_hooks, img_names = [], ["projection"]
        if self._vit:
            nb = len(v.transformer.resblocks)
            img_hooks = [("embeddings", v.ln_pre)] + list(zip(block_names(nb), v.transformer.resblocks))
            img_names = ["embeddings", *block_names(nb), "final_norm", "projection"]
        nt = len(model.transformer.resblocks)
        self._hooks = {
            "image": img_hooks,
            "text": list(zip(block_names(nt), model.transformer.resblocks)) + [("final_norm", model.ln_final)],
        }
        sha = file_sha256(weights) if weights and os.path.isfile(weights) else None
        with torch.inference_mode():
            dim = int(model.encode_text(self.tokenizer(["a"]).to(dev)).shape[-1])
        super().__init__(
            name=name, source=f"open_clip:{spec}", modalities=("image", "text"),
            layer_names={"image": img_names, "text": [*block_names(nt), "final_norm", "projection"]},
            default_pooling={"image": "cls", "text": "eos"}, embedding_dim=dim, device=dev,
            batch_size=batch_size, revision=pretrained or None, weights_sha256=sha,
            weight_files={Path(weights).name: sha} if sha else {},
            embedding_layer={"image": "projection", "text": "projection"}, progress=progress,
        )

    def preprocess_fingerprint(self, modality):
        if modality == "image":
            return stable_hash({"open_clip_image": self._pre})
        return stable_hash({"open_clip_tokenizer": type(self.tokenizer).__name__,
                            "context_length": getattr(self.tokenizer, "context_length", 77)})

    def _prepare(self, modality, raw: Any):
        if modality == "image":
            p = self._pre
            x = resize_crop_normalize(raw, p["size"], p["mean"], p["std"], interpolation=p["interpolation"])
            return x.to(self.device)
        return self.tokenizer(list(raw)).to(self.device)

    def _capture_wanted(self, modality, layers):
        if modality == "image" and "final_norm" in layers and self._vit:
            return layers | {self.layer_names["image"][-3]}  # the last block feeds ln_post
        return layers

    def _postprocess(self, modality, acts, info):
        batch = acts["projection"].shape[0]
        out = {}
        for k, x in acts.items():
            # older OpenCLIP runs resblocks sequence-first (T, B, D)
            if x.ndim == 3 and x.shape[0] != batch and x.shape[1] == batch:
                x = x.transpose(0, 1)
            out[k] = x
        if modality == "image" and self._vit and self.layer_names["image"][-3] in out:
            out["final_norm"] = self.model.visual.ln_post(out[self.layer_names["image"][-3]])
        return out

    def _forward(self, modality, inputs, layers):
        m = self.model
        if modality == "image":
            emb = m.encode_image(inputs)
            return {"projection": emb}, emb, TokenInfo("image", num_prefix_tokens=1, fixed_length=True)
        emb = m.encode_text(inputs)
        mask = (inputs != 0).long()
        info = TokenInfo("text", mask=mask, eos_index=inputs.argmax(dim=-1), fixed_length=True)
        return {"projection": emb}, emb, info


def load(spec: str, *, name: str, **kw) -> OpenCLIPEncoder:
    return OpenCLIPEncoder(spec, name=name, **kw)
