"""Plain torch encoders for controlled experiments: image (MLP, CNN, small ViT) and text (bag of
words, GRU, small transformer) towers, plus the training-only heads (factor classifiers, decoder).

Every tower is an ``nn.Module`` whose direct children (or ``block.<i>``) are its layers, listed in
``LAYERS`` from input to output; ``forward`` returns the raw shared-space embedding
(``(n, dim)``; the :mod:`unireps.models` encoder adds the ``output`` layer and L2-normalises).
Image towers take float images in [0, 1], ``(n, 3, H, W)`` (what ``from_module``'s default image
preprocessing gives); text towers take ``input_ids`` and ``attention_mask`` (`TextPreprocess`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .tokenizer import shapes_vocab

IMAGE_KINDS = ("mlp", "cnn", "vit")
TEXT_KINDS = ("bow", "gru", "transformer")
PIXEL_MEAN, PIXEL_STD = 0.02, 0.1  # shapes images (mostly black): per-channel mean ~0.016, std ~0.1


def _normalise_pixels(x: torch.Tensor) -> torch.Tensor:
    return (x - PIXEL_MEAN) / PIXEL_STD


class MLPImage(nn.Module):
    """Flattened pixels -> two ReLU layers -> linear projection."""

    def __init__(self, width: int = 256, dim: int = 64, image_size: int = 32):
        super().__init__()
        self.fc1 = nn.Sequential(nn.Flatten(), nn.Linear(3 * image_size * image_size, width), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Linear(width, width), nn.ReLU())
        self.proj = nn.Linear(width, dim)
        self.LAYERS = ["fc1", "fc2"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.fc2(self.fc1(_normalise_pixels(x))))


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.ReLU())


class CNNImage(nn.Module):
    """Three stride-2 3x3 conv layers (width w, 2w, 2w), a ReLU fully connected layer on the
    flattened 4x4 map (position stays linearly readable), a linear projection."""

    def __init__(self, width: int = 32, dim: int = 64, image_size: int = 32, hidden: int = 128):
        super().__init__()
        self.conv1 = _conv(3, width)
        self.conv2 = _conv(width, 2 * width)
        self.conv3 = _conv(2 * width, 2 * width)
        side = math.ceil(image_size / 8)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * side * side, hidden), nn.ReLU())
        self.proj = nn.Linear(hidden, dim)
        self.LAYERS = ["conv1", "conv2", "conv3", "fc"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.fc(self.conv3(self.conv2(self.conv1(_normalise_pixels(x))))))


class Block(nn.Module):
    """Pre-LayerNorm transformer block (self-attention + GELU MLP); ``mask``: (n, T) 1 = real token."""

    def __init__(self, dim: int, heads: int = 4, mlp: int = 2):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp * dim), nn.GELU(), nn.Linear(mlp * dim, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn_mask = None if mask is None else mask.bool()[:, None, None, :]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


class ViTImage(nn.Module):
    """Patch embedding (conv, stride = patch), CLS token + learned positions, pre-LN blocks, final
    LayerNorm, projection of the CLS token. Token layers carry 1 prefix token (CLS)."""

    num_prefix_tokens = 1

    def __init__(self, width: int = 64, depth: int = 2, patch: int = 8, dim: int = 64, image_size: int = 32,
                 heads: int = 4):
        super().__init__()
        n = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, width, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, n + 1, width) * 0.02)
        self.block = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, dim)
        self.LAYERS = ["patch_embed", *[f"block.{i}" for i in range(depth)], "norm"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_embed(_normalise_pixels(x)).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls.expand(p.shape[0], -1, -1), p], dim=1) + self.pos
        for blk in self.block:
            h = blk(h)
        return self.proj(self.norm(h)[:, 0])


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


class TokenEmbedding(nn.Module):
    """Token (+ optional learned position) embeddings; padding id 0."""

    def __init__(self, vocab: int, width: int, max_len: int = 0):
        super().__init__()
        self.tok = nn.Embedding(vocab, width, padding_idx=0)
        self.pos = nn.Embedding(max_len, width) if max_len else None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok(ids)
        if self.pos is not None:
            x = x + self.pos(torch.arange(ids.shape[1], device=ids.device))[None]
        return x


class BoWText(nn.Module):
    """Bag of words: mean of token embeddings over real tokens -> ReLU layer -> projection."""

    def __init__(self, width: int = 64, dim: int = 64, vocab: int | None = None):
        super().__init__()
        self.embed = TokenEmbedding(vocab or len(shapes_vocab()), width)
        self.fc = nn.Sequential(nn.Linear(width, width), nn.ReLU())
        self.proj = nn.Linear(width, dim)
        self.LAYERS = ["embed", "fc"]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.proj(self.fc(_masked_mean(self.embed(input_ids), attention_mask)))


class GRUText(nn.Module):
    """Token embeddings -> one-layer GRU -> projection of the hidden state at the last real token."""

    def __init__(self, width: int = 64, dim: int = 64, vocab: int | None = None):
        super().__init__()
        self.embed = TokenEmbedding(vocab or len(shapes_vocab()), width)
        self.gru = nn.GRU(width, width, batch_first=True)
        self.proj = nn.Linear(width, dim)
        self.LAYERS = ["embed", "gru"]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(input_ids))
        last = attention_mask.long().sum(1).clamp(min=1) - 1
        return self.proj(out[torch.arange(out.shape[0], device=out.device), last])


class TransformerText(nn.Module):
    """Token + position embeddings -> pre-LN blocks (padding masked) -> final LayerNorm -> masked
    mean over real tokens -> projection."""

    def __init__(self, width: int = 64, depth: int = 2, dim: int = 64, vocab: int | None = None,
                 max_len: int = 32, heads: int = 4):
        super().__init__()
        self.embed = TokenEmbedding(vocab or len(shapes_vocab()), width, max_len)
        self.block = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, dim)
        self.LAYERS = ["embed", *[f"block.{i}" for i in range(depth)], "norm"]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.embed(input_ids)
        for blk in self.block:
            h = blk(h, attention_mask)
        return self.proj(_masked_mean(self.norm(h), attention_mask))


class FactorHeads(nn.Module):
    """Linear classifiers on the embedding, one per shapes factor (supervised objective)."""

    FACTORS = {"shape": 7, "colour": 8, "size": 3, "position": 9}

    def __init__(self, dim: int = 64):
        super().__init__()
        self.heads = nn.ModuleDict({k: nn.Linear(dim, n) for k, n in self.FACTORS.items()})

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: h(F.relu(z)) for k, h in self.heads.items()}


class ConvDecoder(nn.Module):
    """Embedding -> 4x4 map -> three 2x2 stride-2 transposed convolutions -> (n, 3, 32, 32) normalised pixels."""

    def __init__(self, dim: int = 64, width: int = 32):
        super().__init__()
        self.width = width
        self.fc = nn.Linear(dim, 2 * width * 16)
        self.up = nn.Sequential(
            nn.ReLU(), nn.ConvTranspose2d(2 * width, 2 * width, 2, 2), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 2, 2), nn.ReLU(), nn.ConvTranspose2d(width, 3, 2, 2),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.fc(z).view(-1, 2 * self.width, 4, 4))


_IMAGE = {"mlp": MLPImage, "cnn": CNNImage, "vit": ViTImage}
_TEXT = {"bow": BoWText, "gru": GRUText, "transformer": TransformerText}


def make_image_tower(spec: dict[str, Any]) -> nn.Module:
    kw = {k: v for k, v in spec.items() if k != "kind"}
    return _IMAGE[spec["kind"]](**kw)


def make_text_tower(spec: dict[str, Any]) -> nn.Module:
    kw = {k: v for k, v in spec.items() if k != "kind"}
    return _TEXT[spec["kind"]](**kw)


class PlainModel(nn.Module):
    """What a plain zoo recipe trains: ``image`` tower, optional ``text`` tower, training-only ``aux``
    heads (factor classifiers or decoder) and the loss's temperature / bias."""

    def __init__(self, image: dict, text: dict | None, objective: str, dim: int = 64):
        super().__init__()
        self.image = make_image_tower({**image, "dim": dim})
        self.text = make_text_tower({**text, "dim": dim}) if text else None
        if objective == "supervised":
            self.aux = FactorHeads(dim)
        elif objective == "reconstruction":
            self.aux = ConvDecoder(dim, width=image.get("width", 32) if image["kind"] == "cnn" else 32)
        else:
            self.aux = None
        init_t, init_b = (math.log(10.0), -10.0) if objective == "sigmoid" else (math.log(1 / 0.07), 0.0)
        self.logit_scale = nn.Parameter(torch.tensor(init_t)) if text else None
        self.logit_bias = nn.Parameter(torch.tensor(init_b)) if objective == "sigmoid" else None
