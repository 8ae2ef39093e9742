"""timm image models (``timm:<name>``, optional: ``pip install timm``, which needs torchvision).

Offline, pretrained weights are looked up in the Hugging Face cache (the model's
``hf_hub_id``, ``model.safetensors``) and passed to timm as a local file; images are
preprocessed here from the model's ``pretrained_cfg`` (input size, crop_pct, mean/std,
interpolation) without torchvision.

===================  =====================================================================
shared embedding     ``forward_head(forward_features(x), pre_logits=True)`` (image only; a
                     classifier has no shared image-text space: this is its penultimate
                     representation), L2-normalised by ``encode_images`` unless ``normalize=False``
image layers         ``blocks.*`` for ViT-style models (``embeddings`` = ``patch_embed``),
                     ``stages.*`` / ``layer1..4`` for CNNs, then ``features`` (output of
                     ``forward_features``) and ``pre_logits``
default pooling      ``cls`` for token models with a class token, else ``spatial_mean``
===================  =====================================================================
"""

from __future__ import annotations

from pathlib import Path

from ..encoder import Encoder, auto_device
from ..errors import ModelNotAvailableError
from ..hub import file_sha256, hf_repo_cache_path, not_available_message
from ..inputs import stable_hash
from ..pooling import TokenInfo
from ._vision_preprocess import resize_crop_normalize


def _import():
    try:
        import timm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("timm models need the optional package timm (and torchvision): pip install timm") from exc
    return timm


class TimmEncoder(Encoder):
    family = "timm"

    def __init__(self, model_name: str, *, name: str, device=None, allow_download: bool = False,
                 pretrained: bool = True, batch_size: int = 32, progress: bool | None = None):
        timm = _import()
        from huggingface_hub import try_to_load_from_cache

        kwargs = {}
        weights = None
        if pretrained:
            cfg = timm.models.get_pretrained_cfg(model_name)
            hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
            if hub_id:
                found = try_to_load_from_cache(hub_id, "model.safetensors")
                if isinstance(found, str):
                    weights = found
                    kwargs["pretrained_cfg_overlay"] = {"file": found}
            if weights is None and not allow_download:
                where = hf_repo_cache_path(hub_id) if hub_id else "the Hugging Face cache"
                raise ModelNotAvailableError(not_available_message(name, hub_id, [f"{where} (Hugging Face cache)"]))
        dev = auto_device(device)
        model = timm.create_model(model_name, pretrained=pretrained, **kwargs).to(dev).eval()
        model.requires_grad_(False)
        self.model = model
        pc = model.pretrained_cfg
        self._pre = {
            "size": list(pc.get("input_size", (3, 224, 224))[1:]),
            "mean": list(pc.get("mean", (0.485, 0.456, 0.406))),
            "std": list(pc.get("std", (0.229, 0.224, 0.225))),
            "interpolation": pc.get("interpolation", "bicubic"),
            "crop_pct": float(pc.get("crop_pct", 0.875) or 1.0),
        }
        if hasattr(model, "blocks"):
            hooks = [("embeddings", model.patch_embed)] if hasattr(model, "patch_embed") else []
            hooks += [(f"block.{i}", b) for i, b in enumerate(model.blocks)]
        elif hasattr(model, "stages"):
            hooks = [(f"stage.{i}", s) for i, s in enumerate(model.stages)]
        else:
            hooks = [(n, getattr(model, n)) for n in ("layer1", "layer2", "layer3", "layer4") if hasattr(model, n)]
        self._hooks = hooks
        self._prefix = int(getattr(model, "num_prefix_tokens", 0) or 0)
        sha = file_sha256(weights) if weights else None
        super().__init__(
            name=name, source=f"timm:{model_name}", modalities=("image",),
            layer_names={"image": [n for n, _ in hooks] + ["features", "pre_logits"]},
            default_pooling={"image": "cls" if self._prefix else "spatial_mean"},
            embedding_dim=int(getattr(model, "num_features", 0)) or None, device=dev, batch_size=batch_size,
            revision=None, weights_sha256=sha, weight_files={Path(weights).name: sha} if sha else {},
            embedding_layer={"image": "pre_logits"}, progress=progress,
        )

    def _capture_modules(self, modality):
        return self._hooks

    def preprocess_fingerprint(self, modality):
        return stable_hash({"timm_image": self._pre})

    def _prepare(self, modality, raw):
        p = self._pre
        return resize_crop_normalize(raw, p["size"], p["mean"], p["std"], interpolation=p["interpolation"],
                                     crop_pct=p["crop_pct"]).to(self.device)

    def _forward(self, modality, inputs, layers):
        feats = self.model.forward_features(inputs)
        emb = self.model.forward_head(feats, pre_logits=True)
        info = TokenInfo("image", num_prefix_tokens=self._prefix, fixed_length=True)
        return {"features": feats, "pre_logits": emb}, emb, info


def load(model_name: str, *, name: str, **kw) -> TimmEncoder:
    return TimmEncoder(model_name, name=name, **kw)
