"""Model stitching: A's bottom (input .. layer ℓ) -> a stitching layer -> B's top (after layer m .. output).

Requirement for cutting a model: it must be a *chain of blocks* — ``forward(x) = blocks[-1](...blocks[0](x))``
with nothing (skip connections, extra inputs) crossing a cut.  :class:`StitchableModel` wraps such a list of
blocks (or an ``nn.Sequential``; names are its children's names) and cuts it after a named block; the special
cut ``"input"`` is before the first block.  Use :meth:`StitchableModel.check` to verify that the chain
reproduces an original module's output.

Stitching layers (:class:`StitchLayer`), chosen from the activation's rank: ``"affine"`` for vectors (n, d),
``"conv1x1"`` for feature maps (n, C, H, W), ``"token"`` (one Linear applied to every token) for (n, T, d).

Fitting (:class:`Stitcher`):

* ``method="task"`` (Bansal et al. 2021): train the stitching layer on the task loss (cross-entropy of B's top on
  labels) with A and B frozen (eval mode, no gradient to their weights); initialised by least squares
  (``init="lstsq"``, Csiszárik et al. 2021) or PyTorch's default (``init="random"``);
* ``method="lstsq"`` / ``"ridge"`` (Csiszárik et al. 2021, direct matching): the layer maps A's activations to
  B's activations at the cut by (ridge) least squares on unlabelled inputs — positions / tokens are rows, so
  A's and B's maps must have the same spatial size / sequence length.

The stitching penalty is B's accuracy minus the stitched model's (both on the same held-out split).  Control:
the same fit with A replaced by a randomly initialised copy (:func:`random_init_copy`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.exceptions import NotFittedError
from torch import nn

from ..errors import IncompatibleCutsError
from ..transfer.maps import LinearMap

STITCH_KINDS = ("auto", "affine", "conv1x1", "token")
STITCH_METHODS = ("task", "lstsq", "ridge")
INPUT_CUT = "input"




class StitchableModel(nn.Module):
    """A model as a named chain of blocks, cut after any block (or at ``"input"``).

    ``StitchableModel(blocks, names)``: ``blocks`` a list of modules (or an ``nn.Sequential``, whose children's
    names are used when ``names`` is None); ``forward(x)`` applies them in order.
    """

    def __init__(self, blocks: Sequence[nn.Module] | nn.Sequential, names: Sequence[str] | None = None):
        super().__init__()
        if isinstance(blocks, nn.Sequential) and names is None:
            names = [n for n, _ in blocks.named_children()]
            blocks = list(blocks.children())
        blocks = list(blocks)
        if not blocks:
            raise ValueError("StitchableModel needs at least one block")
        for i, b in enumerate(blocks):
            if not isinstance(b, nn.Module):
                raise TypeError(f"blocks[{i}] is a {type(b).__name__}, not an nn.Module")
        names = [str(n) for n in (names if names is not None else range(len(blocks)))]
        if len(names) != len(blocks):
            raise ValueError(f"{len(names)} names for {len(blocks)} blocks; give one name per block")
        if len(set(names)) != len(names) or INPUT_CUT in names:
            raise ValueError(f"block names must be unique and not {INPUT_CUT!r}, got {names}")
        self.names = names
        self.blocks = nn.ModuleList(blocks)

    @classmethod
    def wrap(cls, model: nn.Module) -> StitchableModel:
        """A StitchableModel as is, or an ``nn.Sequential`` cut at its children (no copy: weights are shared)."""
        if isinstance(model, StitchableModel):
            return model
        if isinstance(model, nn.Sequential):
            return cls(model)
        raise TypeError(f"cannot cut a {type(model).__name__} into blocks automatically; wrap it as "
                        "StitchableModel([block1, block2, ...], names=[...]) where applying the blocks in order "
                        "reproduces model(x)")

    @property
    def cuts(self) -> list[str]:
        """Valid cut names: ``"input"`` and every block name (cut after that block)."""
        return [INPUT_CUT, *self.names]

    def _index(self, cut: str) -> int:
        """Number of blocks in the bottom for ``cut``."""
        if cut == INPUT_CUT:
            return 0
        if cut not in self.names:
            raise ValueError(f"unknown cut {cut!r}; valid cuts: {', '.join(repr(c) for c in self.cuts)}")
        return self.names.index(cut) + 1

    def bottom(self, cut: str) -> nn.Sequential:
        """Blocks up to and including ``cut`` (shared, not copied)."""
        return nn.Sequential(*self.blocks[: self._index(cut)])

    def top(self, cut: str) -> nn.Sequential:
        """Blocks after ``cut`` (shared, not copied)."""
        return nn.Sequential(*self.blocks[self._index(cut):])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x

    @torch.no_grad()
    def features(self, x: torch.Tensor, cut: str, batch_size: int = 1024) -> torch.Tensor:
        """Activations after ``cut`` (eval mode, no gradient), batched."""
        bottom = self.bottom(cut)
        was = self.training
        self.eval()
        try:
            return torch.cat([bottom(x[s:s + batch_size]) for s in range(0, len(x), batch_size)])
        finally:
            self.train(was)

    @torch.no_grad()
    def check(self, original: nn.Module, example_input: torch.Tensor, atol: float = 1e-5) -> None:
        """Raise ValueError unless the chain of blocks reproduces ``original(example_input)``."""
        was_a, was_b = self.training, original.training
        self.eval()
        original.eval()
        try:
            ya, yb = self(example_input), original(example_input)
        finally:
            self.train(was_a)
            original.train(was_b)
        if ya.shape != yb.shape or not torch.allclose(ya, yb, atol=atol, rtol=1e-4):
            raise ValueError("the blocks applied in order do not reproduce the original model's output; the model "
                             "is not a plain chain of these blocks (skip connections or extra operations in "
                             "forward?) — group such parts into one block")


class StitchLayer(nn.Module):
    """Affine map (n, d) -> (n, d'), 1x1 convolution (n, C, H, W) -> (n, C', H, W), or token-wise affine
    (n, T, d) -> (n, T, d')."""

    def __init__(self, d_in: int, d_out: int, kind: str = "affine"):
        super().__init__()
        if kind not in STITCH_KINDS[1:]:
            raise ValueError(f"unknown kind={kind!r}; accepted values: 'affine', 'conv1x1', 'token'")
        self.kind = kind
        self.d_in, self.d_out = int(d_in), int(d_out)
        self.map = nn.Conv2d(d_in, d_out, 1) if kind == "conv1x1" else nn.Linear(d_in, d_out)

    @staticmethod
    def infer_kind(act: torch.Tensor) -> str:
        kinds = {2: "affine", 3: "token", 4: "conv1x1"}
        if act.ndim not in kinds:
            raise ValueError(f"cannot stitch an activation of shape {tuple(act.shape)}: expected (n, d), (n, T, d) "
                             "or (n, C, H, W)")
        return kinds[act.ndim]

    @staticmethod
    def width(act: torch.Tensor, kind: str) -> int:
        return act.shape[1] if kind == "conv1x1" else act.shape[-1]

    @staticmethod
    def rows(act: torch.Tensor, kind: str) -> torch.Tensor:
        """Activations as rows of features: (n, d), (n·H·W, C) or (n·T, d)."""
        if kind == "conv1x1":
            return act.permute(0, 2, 3, 1).reshape(-1, act.shape[1])
        return act.reshape(-1, act.shape[-1])

    def set_linear(self, W: np.ndarray, b: np.ndarray) -> None:
        """Set the layer to h -> h W + b (W of shape (d_in, d_out))."""
        with torch.no_grad():
            w = torch.as_tensor(W.T, dtype=self.map.weight.dtype)
            self.map.weight.copy_(w.reshape(self.map.weight.shape))
            self.map.bias.copy_(torch.as_tensor(b, dtype=self.map.bias.dtype))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.map(h)


def random_init_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A deep copy with every parameter re-initialised (``reset_parameters`` of each module, after
    ``torch.manual_seed(seed)``).  ValueError if some parameter has no ``reset_parameters`` to redraw it."""
    m = copy.deepcopy(model)
    covered: set[int] = set()
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG state is left untouched
        torch.manual_seed(seed)
        for mod in m.modules():
            if hasattr(mod, "reset_parameters") and callable(mod.reset_parameters):
                mod.reset_parameters()
                covered.update(id(p) for p in mod.parameters(recurse=False))
                if isinstance(mod, nn.MultiheadAttention):
                    covered.update(id(p) for p in mod.parameters())
    left = [n for n, p in m.named_parameters() if id(p) not in covered]
    if left:
        raise ValueError(f"random_init_copy: parameters {left[:5]} belong to modules without reset_parameters(); "
                         "pass the randomly initialised control model yourself (random_bottom=...)")
    return m.eval()


def _param_dtype(model: nn.Module) -> torch.dtype | None:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def as_inputs(x, model: nn.Module, name: str = "x") -> torch.Tensor:
    """x as a torch tensor (numpy accepted) in the floating dtype of ``model``'s parameters."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor or numpy array of model inputs, got {type(x).__name__}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty")
    dtype = _param_dtype(model)
    if dtype is not None and x.is_floating_point() and x.dtype != dtype:
        x = x.to(dtype)
    return x


def as_labels(y, n: int, name: str = "y") -> torch.Tensor:
    """Class labels as a 1-D int64 tensor of length n (numpy / integer-valued floats accepted)."""
    if isinstance(y, np.ndarray | list | tuple):
        y = torch.as_tensor(np.asarray(y))
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a tensor or array of class indices, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices of shape (n,), got shape {tuple(y.shape)}")
    if len(y) != n:
        raise ValueError(f"x has {n} rows but {name} has {len(y)}")
    if y.is_floating_point():
        if not bool((y == y.round()).all()):
            raise ValueError(f"{name} must hold integer class indices (0 .. n_classes - 1), got non-integer values")
    elif y.dtype == torch.bool or y.is_complex():
        raise TypeError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    return y.long()


def _freeze(modules: Sequence[nn.Module]) -> list[tuple[nn.Parameter, bool]]:
    state, seen = [], set()
    for mod in modules:
        for p in mod.parameters():
            if id(p) in seen:  # A and B may share parameters (a model stitched with itself)
                continue
            seen.add(id(p))
            state.append((p, p.requires_grad))
            p.requires_grad_(False)
    return state


def _unfreeze(state: list[tuple[nn.Parameter, bool]]) -> None:
    for p, flag in state:
        p.requires_grad_(flag)


class Stitcher:
    """Stitch A (up to ``cut_a``) into B (from after ``cut_b``); scikit-learn style ``fit`` / ``predict`` / ``score``.

    ``model_a``, ``model_b``: :class:`StitchableModel` or ``nn.Sequential`` (not modified, not trained).
    ``method``: ``"task"``, ``"lstsq"`` or ``"ridge"`` (``alpha`` relative ridge strength, see
    :class:`unireps.transfer.LinearMap`); ``kind``: ``"auto"`` or a :class:`StitchLayer` kind.  Task training:
    Adam(``lr``), ``epochs`` over ``x`` in batches of ``batch_size``, seeded batch order and layer init.
    """

    def __init__(self, model_a: nn.Module, cut_a: str, model_b: nn.Module, cut_b: str, *, method: str = "task",
                 kind: str = "auto", alpha: float = 1e-4, init: str = "lstsq", epochs: int = 20, lr: float = 1e-3,
                 batch_size: int = 64, seed: int = 0):
        if method not in STITCH_METHODS:
            raise ValueError(f"unknown method={method!r}; accepted values: "
                             f"{', '.join(repr(m) for m in STITCH_METHODS)}")
        if kind not in STITCH_KINDS:
            raise ValueError(f"unknown kind={kind!r}; accepted values: {', '.join(repr(k) for k in STITCH_KINDS)}")
        if init not in ("lstsq", "random"):
            raise ValueError(f"unknown init={init!r}; accepted values: 'lstsq', 'random'")
        self.model_a, self.model_b = StitchableModel.wrap(model_a), StitchableModel.wrap(model_b)
        self.model_a._index(cut_a)
        self.model_b._index(cut_b)
        self.cut_a, self.cut_b = cut_a, cut_b
        self.method, self.kind, self.alpha, self.init = method, kind, alpha, init
        self.epochs, self.lr, self.batch_size, self.seed = int(epochs), float(lr), int(batch_size), int(seed)
        self.bottom = self.model_a.bottom(cut_a)
        self.top = self.model_b.top(cut_b)
        self.layer: StitchLayer | None = None

    def _features(self, model: StitchableModel, x: torch.Tensor, cut: str, which: str) -> torch.Tensor:
        try:
            return model.features(as_inputs(x, model), cut)
        except RuntimeError as e:  # typically a shape mismatch between x and the model's first layer
            raise ValueError(f"model {which} cannot run on x of shape {tuple(x.shape)} (up to cut {cut!r}): "
                             f"{str(e).splitlines()[0]}; pass inputs of the shape the models were built for") from e

    def _probe(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, str]:
        ha = self._features(self.model_a, x, self.cut_a, "A")
        hb = self._features(self.model_b, x, self.cut_b, "B")
        kind = StitchLayer.infer_kind(ha) if self.kind == "auto" else self.kind
        if StitchLayer.infer_kind(hb) != StitchLayer.infer_kind(ha):
            raise IncompatibleCutsError(
                f"A's activation at {self.cut_a!r} has shape {tuple(ha.shape[1:])} but B's at {self.cut_b!r} has "
                f"{tuple(hb.shape[1:])}; stitch layers of the same kind (vector to vector, feature map to feature map, "
                "tokens to tokens)")
        if kind != StitchLayer.infer_kind(ha):
            raise ValueError(f"kind={kind!r} does not fit A's activation of shape {tuple(ha.shape[1:])}; use "
                             "kind='auto'")
        if kind == "conv1x1":
            sa, sb = ha.shape[2:], hb.shape[2:]
        else:
            sa, sb = ha.shape[1:-1], hb.shape[1:-1]
        if sa != sb:
            raise IncompatibleCutsError(
                f"A's activation at {self.cut_a!r} is {tuple(ha.shape[1:])} and B's at {self.cut_b!r} is "
                f"{tuple(hb.shape[1:])}: a {kind} stitch needs equal spatial size / sequence length; choose layers "
                "of equal resolution")
        return ha, hb, kind

    def fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Stitcher:
        """Fit the stitching layer on inputs ``x`` (and int labels ``y`` for ``method="task"``).

        A's activations at the cut are computed once (A is frozen) and the layer is trained on them.
        """
        if self.method == "task" and y is None:
            raise ValueError("method='task' trains on the task loss and needs labels: fit(x, y); or use "
                             "method='lstsq' / 'ridge' (no labels)")
        x = as_inputs(x, self.model_a)
        if y is not None:
            y = as_labels(y, len(x))
        from .toy import deterministic

        ha, hb, kind = self._probe(x)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            layer = StitchLayer(StitchLayer.width(ha, kind), StitchLayer.width(hb, kind), kind)
        if self.method in ("lstsq", "ridge") or self.init == "lstsq":
            m = "ridge" if self.method == "ridge" else "lstsq"
            lm = LinearMap(method=m, alpha=self.alpha).fit(StitchLayer.rows(ha, kind), StitchLayer.rows(hb, kind))
            layer.set_linear(lm.coef_, lm.intercept_)
        if self.method == "task":
            frozen = _freeze([self.model_a, self.model_b])
            was_a, was_b = self.model_a.training, self.model_b.training
            self.model_a.eval()
            self.model_b.eval()
            gen = torch.Generator().manual_seed(self.seed)
            opt = torch.optim.Adam(layer.parameters(), lr=self.lr)
            try:
                with deterministic():
                    for _ in range(self.epochs):
                        order = torch.randperm(len(x), generator=gen)
                        for s in range(0, len(x), self.batch_size):
                            idx = order[s:s + self.batch_size]
                            opt.zero_grad(set_to_none=True)
                            loss = F.cross_entropy(self.top(layer(ha[idx])), y[idx])
                            loss.backward()
                            opt.step()
            finally:
                _unfreeze(frozen)
                self.model_a.train(was_a)
                self.model_b.train(was_b)
        self.layer = layer.eval()
        return self

    def _check_fitted(self) -> None:
        if self.layer is None:
            raise NotFittedError("this Stitcher is not fitted yet; call .fit(x, y) (or .fit(x) for lstsq/ridge) "
                                 "first")

    @property
    def stitched(self) -> nn.Sequential:
        """The stitched network A-bottom -> layer -> B-top (modules shared with A and B)."""
        self._check_fitted()
        return nn.Sequential(self.bottom, self.layer, self.top)

    @torch.no_grad()
    def predict_logits(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        net = self.stitched
        x = as_inputs(x, self.model_a)
        was_a, was_b = self.model_a.training, self.model_b.training
        net.eval()
        try:
            return torch.cat([net(x[s:s + batch_size]) for s in range(0, len(x), batch_size)])
        except RuntimeError as e:
            raise ValueError(f"the stitched model cannot run on x of shape {tuple(x.shape)}: "
                             f"{str(e).splitlines()[0]}; pass inputs of the shape used in fit") from e
        finally:
            self.model_a.train(was_a)
            self.model_b.train(was_b)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict_logits(x).argmax(1)

    def score(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy of the stitched model."""
        self._check_fitted()
        y = as_labels(y, len(x))
        return float((self.predict(x) == y).double().mean())

    def match_score(self, x: torch.Tensor) -> float:
        """R² of the stitched activations against B's own activations at the cut (how well the layer matches)."""
        self._check_fitted()
        ha, hb, kind = self._probe(x)
        with torch.no_grad():
            pred = StitchLayer.rows(self.layer(ha), kind).double()
        target = StitchLayer.rows(hb, kind).double()
        tot = ((target - target.mean(0)) ** 2).sum()
        if not tot > 0:
            raise ValueError(f"B's activations at {self.cut_b!r} are constant on these inputs, so R² is undefined; "
                             "score on inputs that B represents differently")
        return float(1 - ((target - pred) ** 2).sum() / tot)


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    was = model.training
    model.eval()
    try:
        return float((torch.cat([model(x[s:s + 1024]) for s in range(0, len(x), 1024)]).argmax(1) == y)
                     .double().mean())
    finally:
        model.train(was)


def stitching_penalty_table(model_a: nn.Module, model_b: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor,
                            x_test: torch.Tensor, y_test: torch.Tensor, *, cuts_a: Sequence[str] | None = None,
                            cuts_b: Sequence[str] | None = None, pairs: str = "all",
                            methods: Sequence[str] = ("task", "lstsq"), control: bool = True,
                            random_bottom: nn.Module | None = None, seed: int = 0, **stitch_kw) -> pd.DataFrame:
    """Stitching penalty for every layer pair (``pairs="all"``) or matching positions (``"diagonal"``).

    One row per (cut_a, cut_b, method, bottom): ``bottom`` is ``"A"`` or ``"random"`` (the control, A replaced by
    ``random_bottom`` or :func:`random_init_copy` of A with ``seed``); columns ``acc_b`` (B alone), ``acc_a``,
    ``acc_stitched``, ``penalty`` = acc_b − acc_stitched, all on the test split; the layer is fitted on train.
    Pairs whose activations cannot be stitched (different kinds or spatial sizes) are skipped.
    """
    if pairs not in ("all", "diagonal"):
        raise ValueError(f"unknown pairs={pairs!r}; accepted values: 'all', 'diagonal'")
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    bad = [m for m in methods if m not in STITCH_METHODS]
    if bad or not methods:
        raise ValueError(f"unknown methods {bad}; accepted values: {', '.join(repr(m) for m in STITCH_METHODS)}")
    a, b = StitchableModel.wrap(model_a), StitchableModel.wrap(model_b)
    x_train, x_test = as_inputs(x_train, a, "x_train"), as_inputs(x_test, a, "x_test")
    y_train, y_test = as_labels(y_train, len(x_train), "y_train"), as_labels(y_test, len(x_test), "y_test")
    cuts_a = list(cuts_a) if cuts_a is not None else a.names[:-1]
    cuts_b = list(cuts_b) if cuts_b is not None else b.names[:-1]
    if pairs == "diagonal":
        if len(cuts_a) != len(cuts_b):
            raise ValueError(f"pairs='diagonal' needs as many cuts in A ({len(cuts_a)}) as in B ({len(cuts_b)})")
        todo = list(zip(cuts_a, cuts_b))
    else:
        todo = [(ca, cb) for ca in cuts_a for cb in cuts_b]
    bottoms = {"A": a}
    if control:
        ctrl = random_bottom if random_bottom is not None else random_init_copy(a, seed=seed + 12345)
        bottoms["random"] = StitchableModel.wrap(ctrl)
        if bottoms["random"].names != a.names:
            raise ValueError("random_bottom must have the same block names as model_a")
    acc_a, acc_b = _accuracy(a, x_test, y_test), _accuracy(b, x_test, y_test)
    rows = []
    for ca, cb in todo:
        for method in methods:
            for which, bottom in bottoms.items():
                try:
                    st = Stitcher(bottom, ca, b, cb, method=method, seed=seed, **stitch_kw).fit(x_train, y_train)
                except IncompatibleCutsError:
                    continue
                acc = st.score(x_test, y_test)
                rows.append({"cut_a": ca, "cut_b": cb, "method": method, "bottom": which, "acc_a": acc_a,
                             "acc_b": acc_b, "acc_stitched": acc, "penalty": acc_b - acc,
                             "match_r2": st.match_score(x_test)})
    return pd.DataFrame(rows)
