"""Fisher-weighted averaging (Matena & Raffel, NeurIPS 2022) with the diagonal Fisher information.

θ* = Σ_i w_i F_i ⊙ θ_i / Σ_i w_i F_i per entry, with F_i floored at ``floor`` (so entries no model is informed
about fall back to the plain weighted average).  The diagonal Fisher of a classifier p(y|x) = softmax(f(x)) is

    F = (1/N) Σ_n E_{y ~ p(y|x_n)} [ (∂ log p(y|x_n) / ∂θ)^2 ]          (``mode="expected"``, exact sum over y)

or with y the observed label (``"empirical"``) or one y sampled from the model per example (``"sampled"``).
Per-example gradients use ``torch.func`` (vmap of grad), the model in eval mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ._sd import as_state_dict, check_compatible, check_weights, is_float

FISHER_MODES = ("expected", "empirical", "sampled")


def diagonal_fisher(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, mode: str = "expected",
                    batch_size: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """Diagonal Fisher of ``model``'s parameters (by ``named_parameters`` name) on inputs ``x``.

    ``model(x)`` must return class logits (n, C).  ``y`` (int labels) is needed for ``mode="empirical"``.
    """
    from torch.func import functional_call, grad, vmap

    if mode not in FISHER_MODES:
        raise ValueError(f"unknown mode={mode!r}; accepted values: {', '.join(repr(m) for m in FISHER_MODES)}")
    if mode == "empirical" and y is None:
        raise ValueError("mode='empirical' needs the labels y; pass y or use mode='expected'")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    was_training = model.training
    model.eval()
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    fisher = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in params.items()}
    gen = torch.Generator().manual_seed(int(seed))

    def logp_of(p, xi, yi):
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        if out.ndim != 2:
            raise ValueError(f"model output has shape {tuple(out.shape)}; diagonal_fisher needs logits (n, C)")
        return torch.log_softmax(out, dim=-1)[0].gather(0, yi.reshape(1))[0]

    per_example = vmap(grad(logp_of), in_dims=(None, 0, 0))

    def accumulate(xb, yb, weight):
        g = per_example(params, xb, yb)
        for k in fisher:
            sq = g[k].double() ** 2
            if weight is not None:
                sq = sq * weight.view(-1, *([1] * (sq.ndim - 1)))
            fisher[k] += sq.sum(0)

    try:
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size]
            if mode == "empirical":
                accumulate(xb, y[start:start + batch_size].long(), None)
                continue
            with torch.no_grad():
                probs = torch.softmax(model(xb).double(), dim=-1)
            if mode == "sampled":
                accumulate(xb, torch.multinomial(probs, 1, generator=gen)[:, 0], None)
            else:
                for c in range(probs.shape[1]):
                    accumulate(xb, torch.full((len(xb),), c, dtype=torch.long), probs[:, c])
    finally:
        model.train(was_training)
    return {k: (v / len(x)).to(params[k].dtype) for k, v in fisher.items()}


def fisher_merge(state_dicts: Sequence, fishers: Sequence[Mapping[str, torch.Tensor]],
                 weights: Sequence[float] | None = None, floor: float = 1e-8) -> dict:
    """Fisher-weighted average.  Keys without a Fisher (buffers, or parameters left out) get the weighted mean."""
    sds = check_compatible(state_dicts)
    if len(fishers) != len(sds):
        raise ValueError(f"{len(fishers)} Fishers for {len(sds)} state_dicts; give one Fisher per state_dict "
                         "(diagonal_fisher(model_i, x_i))")
    fs = [as_state_dict(f, f"fishers[{i}]") for i, f in enumerate(fishers)]
    w = check_weights(weights, len(sds))
    if weights is None:
        w = [1.0] * len(sds)
    keys = set(fs[0])
    for i, f in enumerate(fs):
        if set(f) != keys:
            raise ValueError(f"fishers[{i}] covers different keys than fishers[0]; compute every Fisher on the "
                             "same architecture")
        for k, v in f.items():
            if k not in sds[0]:
                raise ValueError(f"fishers[{i}] has key {k!r} that the state_dicts lack; Fisher and state_dict "
                                 "must come from the same architecture (check prefixes)")
            if v.shape != sds[0][k].shape:
                raise ValueError(f"fishers[{i}][{k!r}] has shape {tuple(v.shape)}, state_dict has "
                                 f"{tuple(sds[0][k].shape)}")
            if bool((v < 0).any()):
                raise ValueError(f"fishers[{i}][{k!r}] has negative entries; a diagonal Fisher is non-negative")
    out = {}
    total_w = sum(w)
    for k, ref in sds[0].items():
        if not is_float(ref):
            out[k] = ref.clone()
        elif k in keys:
            num = torch.zeros(ref.shape, dtype=torch.float64)
            den = torch.zeros(ref.shape, dtype=torch.float64)
            for sd, f, wi in zip(sds, fs, w):
                fi = f[k].double().clamp_min(floor) * wi
                num += fi * sd[k].double()
                den += fi
            out[k] = (num / den).to(ref.dtype)
        else:
            out[k] = (sum(wi * sd[k].double() for sd, wi in zip(sds, w)) / total_w).to(ref.dtype)
    return out
