"""Deterministic training of one zoo recipe, and the embeddings its card is computed from.

Determinism: the model is initialised right after ``torch.manual_seed(seed)``, batches are drawn
by a ``torch.Generator`` seeded with the same seed (a fresh permutation of the training set per
epoch, in one thread), training runs with ``torch.use_deterministic_algorithms(True)`` and one
intra-op thread (also much faster than two when other processes share the cores); dropout is off
in every stand-in. Same recipe and seed -> bit-identical weights on one machine and torch build.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..runtime import deterministic  # noqa: F401  (re-exported: older import path)
from .data import ZooData
from .plain import PIXEL_MEAN, PIXEL_STD, PlainModel
from .tokenizer import tokenize

EVAL_BATCH = 250


def factor_codes(ds) -> torch.Tensor:
    """(n, 5) int64: shape, colour, size, position codes and the scene key (all four together)."""
    from ..data.shapes import COLOURS, POSITIONS, SHAPES, SIZES

    f = ds.factors
    cols = [
        f["shape"].map(SHAPES.index), f["colour"].map(list(COLOURS).index),
        f["size"].map(list(SIZES).index), f["position"].map(POSITIONS.index),
    ]
    codes = np.stack([c.to_numpy() for c in cols], axis=1).astype(np.int64)
    key = ((codes[:, 0] * 8 + codes[:, 1]) * 3 + codes[:, 2]) * 9 + codes[:, 3]
    return torch.from_numpy(np.concatenate([codes, key[:, None]], axis=1))


def lr_at(step: int, total: int, lr: float, warmup: float = 0.05) -> float:
    """Linear warm-up over the first ``warmup`` of training, then cosine decay to 0."""
    w = max(1, int(round(warmup * total)))
    if step < w:
        return lr * (step + 1) / w
    return lr * 0.5 * (1 + math.cos(math.pi * (step - w) / max(1, total - w)))


SCALARS = ("logit_scale", "logit_bias", "temperature")  # loss temperature / bias parameters


def param_groups(model: nn.Module, recipe) -> list[dict[str, Any]]:
    """Weights (AdamW weight decay), and the loss's temperature / bias scalars: no decay (it would drag
    a learned temperature towards 1), learning rate ``recipe.scalar_lr`` when set, else ``recipe.lr``."""
    weights, scalars = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (scalars if name.split(".")[-1] in SCALARS else weights).append(p)
    scalar_lr = getattr(recipe, "scalar_lr", None) or recipe.lr
    groups = [{"params": weights, "weight_decay": recipe.weight_decay, "base_lr": recipe.lr}]
    if scalars:
        groups.append({"params": scalars, "weight_decay": 0.0, "base_lr": scalar_lr})
    return groups


@dataclass
class TrainResult:
    states: dict[int, dict[str, torch.Tensor]]  # step -> state_dict copy (checkpoints and the final step)
    times: dict[int, float] = field(default_factory=dict)  # step -> training seconds until then
    losses: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


class Task:
    """One recipe's model construction, training loss, embeddings and saving (see subclasses)."""

    def __init__(self, recipe, data: ZooData):
        self.recipe = recipe
        self.data = data
        self._prepared = False

    # subclasses implement: build(), prepare(), loss(model, idx), embed_images(model, images), embed_texts(...)
    def build(self) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def train(self, model: nn.Module, steps: int, save_at: set[int], progress: bool = False,
              desc: str = "") -> TrainResult:
        r = self.recipe
        if not self._prepared:
            self.prepare()
            self._prepared = True
        n = len(self.data.train)
        bs = min(r.batch_size, n)
        gen = torch.Generator().manual_seed(int(r.seed))
        opt = torch.optim.AdamW(param_groups(model, r), lr=r.lr)
        states: dict[int, dict[str, torch.Tensor]] = {}
        times: dict[int, float] = {}
        losses: list[tuple[int, float]] = []
        order = torch.empty(0, dtype=torch.long)
        bar = None
        if progress and steps:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc=desc, unit="step", leave=False)
        t0 = time.perf_counter()
        model.train()
        running = None
        for step in range(steps + 1):
            if step in save_at:
                states[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
                times[step] = time.perf_counter() - t0
            if step == steps:
                break
            if len(order) < bs:
                order = torch.cat([order, torch.randperm(n, generator=gen)])
            idx, order = order[:bs], order[bs:]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, steps, g["base_lr"])
            loss = self.loss(model, idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            value = float(loss.detach())
            running = value if running is None else 0.9 * running + 0.1 * value
            if step % max(1, steps // 20) == 0 or step == steps - 1:
                losses.append((step, round(value, 5)))
            if bar is not None:
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{running:.3f}")
        if bar is not None:
            bar.close()
        model.eval()
        return TrainResult(states=states, times=times, losses=losses, seconds=time.perf_counter() - t0, steps=steps)

    @torch.inference_mode()
    def embed(self, model: nn.Module, ds) -> dict[str, np.ndarray]:
        model.eval()
        out = {"image": self._batched(lambda s: self.embed_images(model, ds.images[s]), len(ds))}
        if self.has_text:
            out["text"] = self._batched(lambda s: self.embed_texts(model, ds.captions[s]), len(ds))
        return out

    @staticmethod
    def _batched(fn, n: int) -> np.ndarray:
        parts = [fn(slice(i, min(n, i + EVAL_BATCH))).float().numpy() for i in range(0, n, EVAL_BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def _pixels01(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


class PlainTask(Task):
    def __init__(self, recipe, data: ZooData):
        super().__init__(recipe, data)
        self.has_text = recipe.text is not None

    def build(self) -> PlainModel:
        torch.manual_seed(int(self.recipe.seed))
        r = self.recipe
        return PlainModel(dict(r.image), dict(r.text) if r.text else None, r.objective, dim=r.dim)

    def prepare(self) -> None:
        tr = self.data.train
        self.x = _pixels01(tr.images)
        self.codes = factor_codes(tr)
        if self.has_text:
            enc = tokenize(tr.captions, padding="longest")
            self.ids, self.mask = enc["input_ids"], enc["attention_mask"]

    def loss(self, model: PlainModel, idx: torch.Tensor) -> torch.Tensor:
        obj = self.recipe.objective
        z = model.image(self.x[idx])
        if obj == "supervised":
            logits = model.aux(z)
            return sum(F.cross_entropy(logits[k], self.codes[idx, j]) for j, k in enumerate(logits))
        if obj == "reconstruction":
            target = (self.x[idx] - PIXEL_MEAN) / PIXEL_STD
            return F.mse_loss(model.aux(z), target)
        ids, mask = self.ids[idx], self.mask[idx]
        width = int(mask.sum(1).max())
        t = model.text(ids[:, :width], mask[:, :width])
        img, txt = F.normalize(z, dim=-1), F.normalize(t, dim=-1)
        scale = model.logit_scale.exp().clamp(max=100)
        if obj == "sigmoid":
            logits = scale * img @ txt.T + model.logit_bias
            labels = 2 * torch.eye(len(img)) - 1
            return -F.logsigmoid(labels * logits).sum() / len(img)
        logits = scale * img @ txt.T
        labels = torch.arange(len(img))
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2

    def embed_images(self, model: PlainModel, images: np.ndarray) -> torch.Tensor:
        return model.image(_pixels01(images))

    def embed_texts(self, model: PlainModel, captions: list[str]) -> torch.Tensor:
        enc = tokenize(list(captions), padding="longest")
        return model.text(enc["input_ids"], enc["attention_mask"])


class HFTask(Task):
    has_text = True

    def __init__(self, recipe, data: ZooData):
        super().__init__(recipe, data)
        from .hf import family

        self.family = family(recipe.family, dict(recipe.size))

    def build(self):
        return self.family.build(self.recipe.seed)

    def prepare(self) -> None:
        tr = self.data.train
        self.pixels = self.family.pixels(tr.images)
        self.inputs = self.family.texts(tr.captions)
        self.keys = factor_codes(tr)[:, 4]

    def loss(self, model, idx: torch.Tensor) -> torch.Tensor:
        inputs = {k: v[idx] for k, v in self.inputs.items()}
        if self.family.text_padding != "max_length":
            width = int(inputs["attention_mask"].sum(1).max())
            inputs = {k: v[:, :width] for k, v in inputs.items()}
        return self.family.loss(model, self.pixels[idx], inputs, self.keys[idx])

    def embed_images(self, model, images: np.ndarray) -> torch.Tensor:
        return self.family.embed_images(model, self.family.pixels(images))

    def embed_texts(self, model, captions: list[str]) -> torch.Tensor:
        return self.family.embed_texts(model, self.family.texts(list(captions)))


def make_task(recipe, data: ZooData) -> Task:
    return HFTask(recipe, data) if recipe.kind == "hf" else PlainTask(recipe, data)


def count_parameters(model: nn.Module) -> dict[str, Any]:
    def n(m) -> int:
        return int(sum(p.numel() for p in m.parameters())) if m is not None else 0

    if isinstance(model, PlainModel):
        return {"total": n(model), "image": n(model.image), "text": n(model.text), "training_heads": n(model.aux)}
    v = getattr(model, "vision_model", None) or getattr(model, "image_model", None)
    t = getattr(model, "text_model", None) or getattr(model, "text_encoder", None)
    return {"total": n(model), "image": n(v), "text": n(t)}
