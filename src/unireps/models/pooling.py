"""Reduce a layer's activations for one batch to one vector per input.

Activations come in three shapes:

* ``(B, D)``: already one vector per input (projection heads, pooled outputs): returned as is,
  whatever pooling was asked for.
* ``(B, T, D)``: a token sequence (ViT patches + prefix tokens, or text tokens with a padding mask).
* ``(B, C, H, W)``: a convolutional feature map.

Methods (``POOLINGS``):

========== =============================================================================
cls        first token (CLS / BOS); refused for a vision tower without a prefix token
mean       mean over all real tokens (the padding mask is respected; for images: all tokens,
           prefix included; for feature maps: the spatial mean)
eos        the end-of-sequence token; its position comes from the family adapter (text only)
last       the last real token (per the padding mask) unless the adapter says otherwise
spatial_mean mean of the patch tokens (prefix tokens excluded) or of a feature map's H x W
flatten    all values, flattened; only where the sequence length is fixed (images, or text
           padded to a fixed length)
========== =============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

POOLINGS: tuple[str, ...] = ("cls", "mean", "eos", "last", "spatial_mean", "flatten")


def check_pooling(method: str) -> str:
    """Return ``method`` if it is a valid pooling name, else raise ``ValueError`` listing the valid ones."""
    if method not in POOLINGS:
        raise ValueError(f"invalid pooling {method!r}; valid choices are: {', '.join(POOLINGS)}")
    return method


@dataclass
class TokenInfo:
    """What pooling needs to know about one batch of one tower.

    mask: ``(B, T)`` 1 for real tokens, 0 for padding; ``None`` means all tokens are real.
    eos_index / last_index: ``(B,)`` positions chosen by the family adapter (``None``: derive
    ``last`` from the mask; ``eos`` then is unavailable).
    num_prefix_tokens: tokens before the patch tokens (CLS, registers); 0 for SigLIP.
    fixed_length: whether every batch has the same sequence length (needed by ``flatten``).
    modality: ``"image"`` or ``"text"``.
    """

    modality: str
    mask: torch.Tensor | None = None
    eos_index: torch.Tensor | None = None
    last_index: torch.Tensor | None = None
    num_prefix_tokens: int = 0
    fixed_length: bool = True
    patch_mask: torch.Tensor | None = None


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x.mean(dim=1)
    m = mask.to(device=x.device, dtype=x.dtype)
    # a batched matrix product: no (B, T, D) temporary, several times faster than (x * m).sum(1)
    return torch.einsum("bt,btd->bd", m, x) / m.sum(dim=1, keepdim=True).clamp(min=1e-9)


def _gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    index = index.to(device=x.device, dtype=torch.long)
    return x[torch.arange(x.shape[0], device=x.device), index]


def last_index_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Position of the last real token in each row (works for left and right padding)."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    return torch.where(mask.bool(), positions, torch.full_like(positions, -1)).max(dim=1).values.clamp(min=0)


def pool(x: torch.Tensor, method: str, info: TokenInfo) -> torch.Tensor:
    """Pool one layer's batch activations to ``(B, d)`` (float32)."""
    check_pooling(method)
    if x.ndim == 2:
        return x.float()
    if x.ndim == 4:
        if method in ("spatial_mean", "mean"):
            return x.float().mean(dim=(2, 3))
        if method == "flatten":
            return x.float().reshape(x.shape[0], -1)
        raise ValueError(
            f"pooling {method!r} does not apply to a convolutional feature map (B, C, H, W); "
            "use 'spatial_mean', 'mean' or 'flatten'"
        )
    if x.ndim != 3:
        raise ValueError(f"cannot pool an activation of shape {tuple(x.shape)}")
    x = x.float()
    if method == "cls":
        if info.modality == "image" and info.num_prefix_tokens == 0:
            raise ValueError("this vision tower has no CLS token; use 'mean' or 'spatial_mean'")
        return x[:, 0]
    if method == "mean":
        mask = info.mask
        if info.modality == "image":
            mask = _prefix_patch_mask(info, x) if info.patch_mask is not None else None
        return _masked_mean(x, mask)
    if method == "spatial_mean":
        if info.modality != "image":
            raise ValueError("'spatial_mean' applies to image layers; for text use 'mean'")
        patches = x[:, info.num_prefix_tokens :]
        return _masked_mean(patches, info.patch_mask)
    if method == "eos":
        if info.eos_index is None:
            raise ValueError("'eos' pooling needs token ids: it applies to text layers only")
        return _gather(x, info.eos_index)
    if method == "last":
        if info.last_index is not None:
            return _gather(x, info.last_index)
        if info.mask is not None:
            return _gather(x, last_index_from_mask(info.mask))
        return x[:, -1]
    # flatten
    if not info.fixed_length:
        raise ValueError(
            "'flatten' needs a fixed sequence length; this text tower pads each batch to its longest text"
        )
    return x.reshape(x.shape[0], -1)


def _prefix_patch_mask(info: TokenInfo, x: torch.Tensor) -> torch.Tensor:
    """Full-sequence mask for images whose patch tokens carry a validity mask (SigLIP2 NaFlex)."""
    pm = info.patch_mask.to(x.device)
    if info.num_prefix_tokens:
        ones = torch.ones(pm.shape[0], info.num_prefix_tokens, dtype=pm.dtype, device=pm.device)
        pm = torch.cat([ones, pm], dim=1)
    return pm
