"""The digits toy kit: small digits classifiers trained in seconds, the shared setting of the stitching, merging
and transfer demos (:mod:`unireps.applications`) and of the app's toy models.

Data: scikit-learn's 1,797 8x8 digits (``load_dataset("digits")``, grey channel), split once, stratified, by
``split_seed`` into train / val / test (default 1,000 / 197 / 600).  Pixels are scaled to [0, 1] and
standardised by the train split's global mean and standard deviation (one number each, so the pixel grid is
unchanged).  The model's seed never changes the data: two seeds see the same images and differ only in
initialisation and batch order.

Models are ``nn.Sequential`` with named children, so every child is a cut point for stitching and
:func:`unireps.merge.spec_from_module` derives their permutation spec:

* ``digits_mlp(width, depth)``: ``fc1, relu1, ..., fc{depth}, relu{depth}, out`` (64 -> width ... -> 10);
* ``digits_cnn(width)``: ``conv1, relu1`` (8x8, w), ``conv2, relu2`` (4x4, 2w), ``conv3, relu3`` (2x2, 2w),
  ``pool`` (global average), ``flatten``, ``out``.

No BatchNorm anywhere (interpolation curves need no statistics recomputation for these models).
Training is deterministic: one thread, deterministic algorithms, weights drawn right after
``torch.manual_seed(seed)`` and batches from a ``torch.Generator`` seeded with ``seed``.
"""

from __future__ import annotations

import copy
import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..runtime import deterministic  # noqa: F401  (re-exported for the demos)

N_CLASSES = 10
ARCHS = ("mlp", "cnn")


@dataclass(frozen=True)
class DigitsSplit:
    """Train / val / test tensors: ``x_*`` float32 (n, 64) standardised pixels, ``y_*`` int64 digit labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    idx_train: np.ndarray
    idx_val: np.ndarray
    idx_test: np.ndarray

    def get(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"unknown split={split!r}; accepted values: 'train', 'val', 'test'")
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")


@functools.lru_cache(maxsize=4)
def _digits_split(split_seed: int, n_val: int, n_test: int) -> DigitsSplit:
    from sklearn.model_selection import train_test_split

    from ..data import load_dataset

    ds = load_dataset("digits")
    x = ds.images[..., 0].reshape(len(ds), -1).astype(np.float32) / 255.0
    y = ds.labels.astype(np.int64)
    idx = np.arange(len(ds))
    rest, test = train_test_split(idx, test_size=n_test, stratify=y, random_state=split_seed)
    train, val = train_test_split(rest, test_size=n_val, stratify=y[rest], random_state=split_seed)
    mean, std = float(x[train].mean()), float(x[train].std())
    x = (x - mean) / std

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    return DigitsSplit(t(x[train]), t(y[train]), t(x[val]), t(y[val]), t(x[test]), t(y[test]),
                       train, val, test)


def digits_split(split_seed: int = 0, n_val: int = 197, n_test: int = 600) -> DigitsSplit:
    """The digits train / val / test split (memoised per process; tensors must not be modified in place)."""
    if n_val < 10 or n_test < 10 or n_val + n_test > 1797 - 200:
        raise ValueError(f"digits_split: need n_val >= 10, n_test >= 10 and at least 200 training digits; "
                         f"got n_val={n_val}, n_test={n_test}.")
    return _digits_split(int(split_seed), int(n_val), int(n_test))


def as_images(x: torch.Tensor) -> torch.Tensor:
    """(n, 64) flattened digits -> (n, 1, 8, 8) for the CNN (no-op on 4-D input)."""
    return x if x.ndim == 4 else x.reshape(-1, 1, 8, 8)


def digits_mlp(width: int = 64, depth: int = 2, n_in: int = 64, n_out: int = N_CLASSES, seed: int | None = 0
               ) -> nn.Sequential:
    """``fc1, relu1, ..., fc{depth}, relu{depth}, out``; weights drawn after ``torch.manual_seed(seed)`` (the
    caller's global RNG is left as it was; ``seed=None`` draws from it)."""
    if width < 1 or depth < 1:
        raise ValueError(f"digits_mlp: width and depth must be >= 1, got width={width}, depth={depth}.")
    def build() -> nn.Sequential:
        layers: list[tuple[str, nn.Module]] = []
        d = n_in
        for i in range(1, depth + 1):
            layers += [(f"fc{i}", nn.Linear(d, width)), (f"relu{i}", nn.ReLU())]
            d = width
        layers.append(("out", nn.Linear(d, n_out)))
        return nn.Sequential(OrderedDict(layers))

    return _seeded(build, seed)


def _seeded(build, seed: int | None):
    """``build()`` after ``torch.manual_seed(seed)`` without touching the caller's RNG (global RNG if seed is None)."""
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class _ToImage(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return as_images(x)


def digits_cnn(width: int = 16, n_out: int = N_CLASSES, seed: int | None = 0) -> nn.Sequential:
    """``image, conv1, relu1, conv2, relu2, conv3, relu3, pool, flatten, out`` on (n, 64) or (n, 1, 8, 8) input."""
    if width < 1:
        raise ValueError(f"digits_cnn: width must be >= 1, got {width}.")
    w = width
    return _seeded(lambda: nn.Sequential(OrderedDict([
        ("image", _ToImage()),
        ("conv1", nn.Conv2d(1, w, 3, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)), ("relu2", nn.ReLU()),
        ("conv3", nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)), ("relu3", nn.ReLU()),
        ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
        ("out", nn.Linear(2 * w, n_out)),
    ])), seed)


def make_digits_model(arch: str = "mlp", width: int = 64, seed: int | None = 0, depth: int = 2,
                      n_out: int = N_CLASSES) -> nn.Sequential:
    if arch == "mlp":
        return digits_mlp(width=width, depth=depth, n_out=n_out, seed=seed)
    if arch == "cnn":
        return digits_cnn(width=width, n_out=n_out, seed=seed)
    raise ValueError(f"unknown arch={arch!r}; accepted values: {', '.join(repr(a) for a in ARCHS)}")


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int = 30, lr: float = 1e-3,
                     batch_size: int = 64, seed: int = 0, weight_decay: float = 0.0,
                     params: list[torch.nn.Parameter] | None = None,
                     loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> nn.Module:
    """Adam on cross-entropy (or ``loss_fn(logits, targets)``), a fresh seeded batch order per epoch; in place.

    ``params`` restricts the optimised parameters (default: all); ``y`` may be any target ``loss_fn`` accepts.
    """
    if len(x) != len(y):
        raise ValueError(f"train_classifier: x has {len(x)} rows but y has {len(y)}; give one target per row.")
    loss_fn = loss_fn or F.cross_entropy
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(params if params is not None else model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    n = len(x)
    with deterministic():
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
    opt.zero_grad(set_to_none=True)
    model.eval()
    return model


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2048) -> dict[str, float]:
    """Mean cross-entropy ``loss``, ``accuracy`` and ``error`` (= 1 - accuracy) in eval mode."""
    logits = predict_logits(model, x, batch_size)
    acc = float((logits.argmax(1) == y).double().mean())
    return {"loss": float(F.cross_entropy(logits.double(), y)), "accuracy": acc, "error": 1.0 - acc}


@functools.lru_cache(maxsize=64)
def _trained_state(arch: str, width: int, seed: int, epochs: int, lr: float, depth: int, split_seed: int) -> dict:
    path = _state_path(arch, width, seed, epochs, lr, depth, split_seed)
    state = _read_state(path)
    if state is None:
        split = digits_split(split_seed)
        model = make_digits_model(arch, width=width, seed=seed, depth=depth)
        train_classifier(model, split.x_train, split.y_train, epochs=epochs, lr=lr, seed=seed)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        _write_state(path, state)
    return state


@functools.cache
def _recipe_source() -> str:
    """The code that decides a trained digits model's weights: a change to any of it gives new cache keys."""
    import inspect

    parts = (digits_split, _digits_split, make_digits_model, digits_mlp, digits_cnn, _seeded, train_classifier)
    return "".join(inspect.getsource(f) for f in parts)


def _state_path(arch: str, width: int, seed: int, epochs: int, lr: float, depth: int, split_seed: int):
    """``<zoo cache>/../digits/<name>-<key>.safetensors``, the key a hash of the recipe's arguments, its code and the
    versions of torch, numpy and scikit-learn (weights trained by other code are never reused)."""
    import hashlib
    import json

    import sklearn

    from .store import zoo_dir

    recipe = json.dumps([arch, width, seed, epochs, repr(float(lr)), depth, split_seed, torch.__version__,
                         np.__version__, sklearn.__version__])
    key = hashlib.sha256((recipe + _recipe_source()).encode("utf-8")).hexdigest()[:32]
    return zoo_dir().parent / "digits" / f"{arch}-w{width}-d{depth}-s{seed}-{key}.safetensors"


def _read_state(path) -> dict | None:
    """The cached weights (safetensors: no code runs on load), or None when absent or unreadable (then retrained
    and rewritten)."""
    if not path.is_file():
        return None
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception:  # a truncated or foreign file: train again and replace it
        return None


def _write_state(path, state: dict) -> None:
    from safetensors.torch import save

    from ..io import atomic_write_bytes

    try:
        atomic_write_bytes(path, save({k: v.contiguous() for k, v in state.items()}))
    except OSError:  # a read-only or full cache: the weights are still used, only not kept
        pass


def trained_digits_model(arch: str = "mlp", width: int = 64, seed: int = 0, *, epochs: int = 30, lr: float = 1e-3,
                         depth: int = 2, split_seed: int = 0) -> nn.Sequential:
    """A digits classifier trained on the train split (memoised per process and cached on disk beside the zoo, as
    safetensors keyed by the recipe and its code; a fresh module on every call)."""
    state = _trained_state(arch, int(width), int(seed), int(epochs), float(lr), int(depth), int(split_seed))
    model = make_digits_model(arch, width=width, seed=None, depth=depth)
    model.load_state_dict(copy.deepcopy(state))
    return model.eval()
