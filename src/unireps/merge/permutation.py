"""Permutation alignment of hidden units (Git Re-Basin, Ainsworth et al., ICLR 2023).

A :class:`PermutationSpec` says which axes of which tensors share a permutation: ``axes_to_perm[key]`` has one
entry per axis of ``state_dict[key]``, the permutation's name or None.  Permuting every axis named P by the same
index array leaves the network's function unchanged (hidden units are exchangeable).

Convention: ``perms[P]`` is an index array π with ``aligned_B[..., i, ...] = B[..., π[i], ...]`` along every axis
named P — unit i of A is matched to unit π[i] of B; :func:`apply_permutation` applies it.

* :func:`weight_matching` — coordinate descent over the permutations (random order each sweep): for P, maximise
  Σ_(key, axis) ⟨W_A, P W_B (other axes permuted by the current permutations)⟩ by
  ``scipy.optimize.linear_sum_assignment``; repeat until no permutation improves (at most ``max_iter`` sweeps).
* :func:`activation_matching` — per P, maximise the summed correlation between A's and B's units at the layer
  output P permutes (``spec.activations[P]``: post-nonlinearity where known), measured on inputs ``x``.

Specs: :func:`spec_from_module` derives one from any module that is a plain chain of layers (its leaf modules in
registration order are applied one after another: ``nn.Sequential``, a list of blocks); :func:`mlp_spec` builds one
from the names of Linear layers of a plain state_dict; :func:`transformer_encoder_spec` covers a stack of
``nn.TransformerEncoderLayer`` (residual-stream and feed-forward permutations; attention heads not permuted).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from ._sd import as_state_dict

ELEMENTWISE = (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.SiLU, nn.ELU, nn.Softplus, nn.Mish,
               nn.Hardtanh, nn.ReLU6, nn.PReLU)
CHANNEL_PRESERVING = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity, nn.Flatten, nn.AdaptiveAvgPool1d,
                      nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.AvgPool1d,
                      nn.MaxPool1d)
CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass
class PermutationSpec:
    """Which axes of which state_dict tensors share a permutation.

    ``axes_to_perm``: key -> one entry per axis (permutation name or None).  ``activations``: permutation name ->
    the module (``named_modules`` name) whose output carries it, for activation matching.
    """

    axes_to_perm: dict[str, tuple[str | None, ...]]
    activations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.axes_to_perm = {str(k): tuple(v) for k, v in self.axes_to_perm.items()}
        for k, axes in self.axes_to_perm.items():
            if not all(a is None or isinstance(a, str) for a in axes):
                raise ValueError(f"PermutationSpec: axes_to_perm[{k!r}] = {axes!r}; each entry must be a "
                                 "permutation name (str) or None")
        unknown = set(self.activations) - set(self.perm_names)
        if unknown:
            raise ValueError(f"PermutationSpec: activations names permutations {sorted(unknown)} that no axis uses")

    @property
    def perm_to_axes(self) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for k, axes in self.axes_to_perm.items():
            for axis, p in enumerate(axes):
                if p is not None:
                    out.setdefault(p, []).append((k, axis))
        return out

    @property
    def perm_names(self) -> list[str]:
        return list(self.perm_to_axes)

    def sizes(self, state_dict) -> dict[str, int]:
        """Each permutation's size, checking that the state_dict has every key with the right rank and that all
        axes sharing a permutation have the same length (ValueError naming the key and axis otherwise)."""
        sd = as_state_dict(state_dict)
        sizes: dict[str, tuple[int, str, int]] = {}
        for k, axes in self.axes_to_perm.items():
            if k not in sd:
                near = [s for s in sd if s.endswith(k.split(".")[-1])][:4]
                raise ValueError(f"the permutation spec names {k!r} but the state_dict has no such key "
                                 f"(keys like it: {near}); build the spec from the same model "
                                 "(spec_from_module(model)) or fix the key prefixes")
            t = sd[k]
            if t.ndim != len(axes):
                raise ValueError(f"spec gives {len(axes)} axes for {k!r} but the tensor has shape {tuple(t.shape)}")
            for axis, p in enumerate(axes):
                if p is None:
                    continue
                n = t.shape[axis]
                if p in sizes and sizes[p][0] != n:
                    n0, k0, a0 = sizes[p]
                    raise ValueError(f"permutation {p!r}: axis {axis} of {k!r} has length {n} but axis {a0} of "
                                     f"{k0!r} has {n0}; axes sharing a permutation must have equal lengths")
                sizes.setdefault(p, (n, k, axis))
        return {p: v[0] for p, v in sizes.items()}


# ------------------------------------------------------------------------------------------------ spec builders


def mlp_spec(layers: Sequence[str], bias: bool = True) -> PermutationSpec:
    """Spec for a plain MLP state_dict: ``layers`` are the prefixes of its Linear layers in order (e.g.
    ``["fc1", "fc2", "out"]`` for keys ``fc1.weight``, ``fc1.bias``, ...).  The output of every layer but the
    last is permuted (permutation ``P_<layer>``)."""
    layers = list(layers)
    if len(layers) < 2:
        raise ValueError("mlp_spec needs at least two Linear layers (one hidden layer to permute)")
    axes: dict[str, tuple[str | None, ...]] = {}
    prev = None
    for i, name in enumerate(layers):
        out = f"P_{name}" if i < len(layers) - 1 else None
        axes[f"{name}.weight"] = (out, prev)
        if bias:
            axes[f"{name}.bias"] = (out,)
        prev = out
    return PermutationSpec(axes)


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    out = []
    for name, m in model.named_modules():
        children = list(m.children())
        if children:
            if m._parameters and any(p is not None for p in m._parameters.values()):
                raise ValueError(f"module {name or type(m).__name__!r} ({type(m).__name__}) has both parameters and "
                                 "submodules; spec_from_module cannot tell how they are wired — write a "
                                 "PermutationSpec by hand")
            continue
        out.append((name, m))
    return out


def spec_from_module(model: nn.Module, example_input: torch.Tensor | None = None) -> PermutationSpec:
    """Derive the spec of a plain chain of layers (Linear, Conv1d/2d/3d with groups=1, BatchNorm, LayerNorm over
    channels, elementwise activations, dropout, pooling, Flatten after global pooling).

    Requirement: the leaf modules, in registration order, are applied one after another (``nn.Sequential`` of
    such layers, possibly nested).  The output of every weight layer but the last is permuted.  With
    ``example_input`` the spec is verified: a randomly permuted copy must compute the same outputs.
    """
    leaves = _leaves(model)
    weight_layers = [n for n, m in leaves if isinstance(m, (nn.Linear, *CONVS))]
    if len(weight_layers) < 2:
        raise ValueError("spec_from_module: the model needs at least two Linear/Conv layers (a hidden layer to "
                         "permute)")
    last = weight_layers[-1]
    axes: dict[str, tuple[str | None, ...]] = {}
    acts: dict[str, str] = {}
    size: dict[str, int] = {}
    cur: str | None = None

    def key(name: str, param: str) -> str:
        return f"{name}.{param}" if name else param

    for name, m in leaves:
        where = f"{name!r} ({type(m).__name__})"
        if isinstance(m, (nn.Linear, *CONVS)):
            n_in = m.in_features if isinstance(m, nn.Linear) else m.in_channels
            if isinstance(m, CONVS) and m.groups != 1:
                raise ValueError(f"spec_from_module: grouped convolution at {where} is not supported; write a "
                                 "PermutationSpec by hand")
            if cur is not None and n_in != size[cur]:
                raise ValueError(f"spec_from_module: layer {where} takes {n_in} inputs but the permuted units before "
                                 f"it number {size[cur]} (a Flatten of a C x H x W map?); pool to 1 x 1 before "
                                 "Flatten, or write a PermutationSpec by hand")
            out = None if name == last else f"P_{name}"
            extra = (None,) * (m.weight.ndim - 2)
            axes[key(name, "weight")] = (out, cur) + extra
            if m.bias is not None:
                axes[key(name, "bias")] = (out,)
            if out is not None:
                size[out] = m.out_features if isinstance(m, nn.Linear) else m.out_channels
                acts[out] = name
            cur = out
        elif isinstance(m, NORMS):
            if cur is not None:
                for p in ("weight", "bias"):
                    if getattr(m, p) is not None:
                        axes[key(name, p)] = (cur,)
                if m.track_running_stats:
                    axes[key(name, "running_mean")] = (cur,)
                    axes[key(name, "running_var")] = (cur,)
                acts[cur] = name
        elif isinstance(m, nn.LayerNorm):
            if cur is not None:
                if tuple(m.normalized_shape) != (size[cur],):
                    raise ValueError(f"spec_from_module: LayerNorm {where} normalises over {tuple(m.normalized_shape)}"
                                     " which is not the permuted channel axis alone; write a PermutationSpec by hand")
                if m.elementwise_affine:
                    axes[key(name, "weight")] = (cur,)
                    if m.bias is not None:
                        axes[key(name, "bias")] = (cur,)
                acts[cur] = name
        elif isinstance(m, ELEMENTWISE):
            if isinstance(m, nn.PReLU) and m.num_parameters > 1:
                axes[key(name, "weight")] = (cur,)
            if cur is not None:
                acts[cur] = name
        elif isinstance(m, CHANNEL_PRESERVING):
            continue
        elif not list(m.parameters()) and not list(m.buffers()):
            continue  # parameter-free (reshape-like) module: assumed to keep the channel axis; verify with input
        else:
            raise ValueError(f"spec_from_module: unsupported layer {where} with parameters; write a "
                             "PermutationSpec by hand")
    spec = PermutationSpec(axes, acts)
    if example_input is not None:
        check_spec(model, spec, example_input)
    return spec


def check_spec(model: nn.Module, spec: PermutationSpec, example_input: torch.Tensor, seed: int = 0,
               atol: float = 1e-4) -> None:
    """Raise ValueError unless a randomly permuted copy of ``model`` computes the same outputs on the input."""
    sd = model.state_dict()
    perms = random_permutation(spec, sd, seed=seed)
    other = copy.deepcopy(model)
    other.load_state_dict(apply_permutation(spec, perms, sd))
    was = model.training
    model.eval()
    other.eval()
    with torch.no_grad():
        ya, yb = model(example_input), other(example_input)
    model.train(was)
    scale = float(ya.abs().max()) + 1.0
    err = float((ya - yb).abs().max())
    if err > atol * scale:
        raise ValueError(f"the permutation spec does not preserve the model's function (max output change {err:.3g})"
                         ": the model is not a plain chain of its layers (skip connections, reshapes, attention?); "
                         "write a PermutationSpec by hand")


def transformer_encoder_spec(state_dict, layers: Sequence[str], *, embed_linear: Sequence[str] = (),
                             embed_params: Sequence[str] = (), head: Sequence[str] = (),
                             norms: Sequence[str] = ()) -> PermutationSpec:
    """Spec for a model whose core is a stack of ``nn.TransformerEncoderLayer`` blocks (prefixes ``layers``).

    ``state_dict`` (or the model) is read for the ranks of ``embed_params`` and to check the keys.  One
    permutation ``P_res`` of the residual stream is shared by: the rows (and bias) of the ``embed_linear``
    Linear layers writing into the stream, the last axis of the ``embed_params`` keys (``nn.Embedding`` weights,
    positional parameters), every block's norms, attention in_proj columns, out_proj rows and second
    feed-forward rows, the extra LayerNorms ``norms`` (e.g. a final norm) and the input columns of the ``head``
    Linear layers reading the stream.  Each block's feed-forward hidden units get their own ``P_<layer>_ff``.
    Attention heads and query/key/value dimensions are not permuted.  No activation points are recorded
    (the fused eval fast path skips submodule hooks): use :func:`weight_matching`.
    """
    sd = as_state_dict(state_dict)
    if not layers:
        raise ValueError("transformer_encoder_spec: give the prefixes of the encoder layers, e.g. ['layers.0']")
    res = "P_res"
    axes: dict[str, tuple[str | None, ...]] = {}
    for e in embed_linear:
        axes[f"{e}.weight"] = (res, None)
        if f"{e}.bias" in sd:
            axes[f"{e}.bias"] = (res,)
    for k in embed_params:
        if k not in sd:
            raise ValueError(f"transformer_encoder_spec: embed_params names {k!r} which is not in the state_dict")
        axes[k] = (None,) * (sd[k].ndim - 1) + (res,)
    for layer in layers:
        ff = f"P_{layer}_ff"
        axes[f"{layer}.self_attn.in_proj_weight"] = (None, res)
        axes[f"{layer}.self_attn.out_proj.weight"] = (res, None)
        axes[f"{layer}.linear1.weight"] = (ff, res)
        axes[f"{layer}.linear2.weight"] = (res, ff)
        for b, perm in (("self_attn.out_proj.bias", res), ("linear1.bias", ff), ("linear2.bias", res)):
            if f"{layer}.{b}" in sd:
                axes[f"{layer}.{b}"] = (perm,)
        for norm in ("norm1", "norm2"):
            axes[f"{layer}.{norm}.weight"] = (res,)
            if f"{layer}.{norm}.bias" in sd:
                axes[f"{layer}.{norm}.bias"] = (res,)
    for norm in norms:
        axes[f"{norm}.weight"] = (res,)
        if f"{norm}.bias" in sd:
            axes[f"{norm}.bias"] = (res,)
    for h in head:
        axes[f"{h}.weight"] = (None, res)
    spec = PermutationSpec(axes)
    spec.sizes(sd)
    return spec


# ------------------------------------------------------------------------------------------------ permutations


def _as_index(perm, n: int, name: str) -> torch.Tensor:
    p = torch.as_tensor(np.asarray(perm), dtype=torch.long)
    if p.shape != (n,) or not torch.equal(torch.sort(p).values, torch.arange(n)):
        raise ValueError(f"perms[{name!r}] is not a permutation of {n} units (got shape {tuple(p.shape)}); pass "
                         "the output of weight_matching / activation_matching")
    return p


def permuted_tensor(spec: PermutationSpec, perms: Mapping[str, np.ndarray], key: str, tensor: torch.Tensor,
                    except_axis: int | None = None) -> torch.Tensor:
    """``tensor`` (= state_dict[key]) with every axis but ``except_axis`` permuted by its permutation."""
    for axis, p in enumerate(spec.axes_to_perm.get(key, ())):
        if p is None or axis == except_axis or p not in perms:
            continue
        tensor = torch.index_select(tensor, axis, torch.as_tensor(np.asarray(perms[p]), dtype=torch.long))
    return tensor


def apply_permutation(spec: PermutationSpec, perms: Mapping[str, np.ndarray], state_dict) -> dict:
    """The state_dict with every spec axis permuted (keys outside the spec are copied unchanged)."""
    sd = as_state_dict(state_dict)
    sizes = spec.sizes(sd)
    unknown = set(perms) - set(sizes)
    if unknown:
        raise ValueError(f"perms has permutations {sorted(unknown)} that the spec does not use")
    idx = {p: _as_index(perms[p], sizes[p], p) for p in perms}
    return {k: permuted_tensor(spec, idx, k, v).clone() for k, v in sd.items()}


def random_permutation(spec: PermutationSpec, state_dict, seed: int = 0) -> dict[str, np.ndarray]:
    """A uniformly random permutation for every permutation of the spec."""
    rng = np.random.default_rng(seed)
    return {p: rng.permutation(n) for p, n in spec.sizes(state_dict).items()}


def invert_permutation(perm) -> np.ndarray:
    perm = np.asarray(perm)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    return inv


def _flat(t: torch.Tensor, axis: int) -> np.ndarray:
    return torch.movedim(t.double(), axis, 0).reshape(t.shape[axis], -1).numpy()


def weight_matching(spec: PermutationSpec, params_a, params_b, *, max_iter: int = 100, seed: int = 0,
                    init: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Permutations aligning B to A by weight matching (Ainsworth et al. 2023, Algorithm 1).

    Returns ``perms``; ``apply_permutation(spec, perms, params_b)`` is the aligned B.
    """
    a, b = as_state_dict(params_a, "params_a"), as_state_dict(params_b, "params_b")
    sizes = spec.sizes(a)
    sizes_b = spec.sizes(b)
    if sizes != sizes_b:
        diff = {p: (sizes[p], sizes_b.get(p)) for p in sizes if sizes[p] != sizes_b.get(p)}
        raise ValueError(f"params_a and params_b differ in permuted widths {diff}; align models of equal width")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    perms = {p: (np.asarray(init[p]) if init and p in init else np.arange(n)) for p, n in sizes.items()}
    p2a = spec.perm_to_axes
    names = list(sizes)
    rng = np.random.default_rng(seed)
    for _ in range(max_iter):
        improved = False
        for pi in rng.permutation(len(names)):
            p = names[pi]
            n = sizes[p]
            cost = np.zeros((n, n))
            for k, axis in p2a[p]:
                wa = _flat(a[k], axis)
                wb = _flat(permuted_tensor(spec, perms, k, b[k], except_axis=axis), axis)
                cost += wa @ wb.T
            _, col = linear_sum_assignment(cost, maximize=True)
            old = cost[np.arange(n), perms[p]].sum()
            new = cost[np.arange(n), col].sum()
            if new > old + 1e-12 * max(1.0, abs(old)):
                improved = True
                perms[p] = col
        if not improved:
            break
    return perms


def _collect(model: nn.Module, names: Sequence[str], x: torch.Tensor, batch_size: int) -> dict[str, torch.Tensor]:
    mods = dict(model.named_modules())
    missing = [n for n in names if n not in mods]
    if missing:
        raise ValueError(f"activation_matching: modules {missing} not found in the model; spec.activations must "
                         "name modules of the model (see model.named_modules())")
    store: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    hooks = [mods[n].register_forward_hook(lambda _m, _i, out, n=n: store[n].append(out.detach()))
             for n in names]
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(x), batch_size):
                model(x[s:s + batch_size])
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    return {n: torch.cat(v) for n, v in store.items()}


def _units(act: torch.Tensor) -> torch.Tensor:
    """(N, C) / (N, C, ...) -> rows of channels: channel axis 1 for 2-D and >= 4-D output, last for (N, T, C)."""
    if act.ndim == 2:
        return act
    if act.ndim == 3:
        return act.reshape(-1, act.shape[-1])
    return torch.movedim(act, 1, -1).reshape(-1, act.shape[1])


def activation_matching(spec: PermutationSpec, model_a: nn.Module, model_b: nn.Module, x: torch.Tensor, *,
                        batch_size: int = 512, activations: Mapping[str, str] | None = None
                        ) -> dict[str, np.ndarray]:
    """Permutations aligning B to A by matching unit activations on inputs ``x`` (Ainsworth et al. 2023).

    For each permutation P the cost is the correlation between A's units and B's units at the output of module
    ``activations[P]`` (default ``spec.activations``); each P is solved by one linear assignment.
    """
    acts = dict(spec.activations)
    acts.update(activations or {})
    sizes = spec.sizes(model_a.state_dict())
    missing = [p for p in sizes if p not in acts]
    if missing:
        raise ValueError(f"activation_matching: no activation point for permutations {missing}; pass "
                         "activations={perm: module_name} or build the spec with spec_from_module(model)")
    names = sorted({acts[p] for p in sizes})
    ha, hb = _collect(model_a, names, x, batch_size), _collect(model_b, names, x, batch_size)
    perms = {}
    for p, n in sizes.items():
        ua, ub = _units(ha[acts[p]]).double(), _units(hb[acts[p]]).double()
        if ua.shape[1] != n or ub.shape[1] != n:
            raise ValueError(f"activation_matching: module {acts[p]!r} outputs {ua.shape[1]} / {ub.shape[1]} units but "
                             f"permutation {p!r} has {n}")
        za = (ua - ua.mean(0)) / (ua.std(0) + 1e-8)
        zb = (ub - ub.mean(0)) / (ub.std(0) + 1e-8)
        corr = (za.T @ zb / len(za)).numpy()
        _, col = linear_sum_assignment(corr, maximize=True)
        perms[p] = col
    return perms
