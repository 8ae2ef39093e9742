"""Linear mode connectivity: loss and error along θ_t = (1 − t) θ_A + t θ_B, and the barrier.

barrier(L) = max_t [ L(θ_t) − ((1 − t) L(θ_A) + t L(θ_B)) ]   (Frankle et al. 2020; Ainsworth et al. 2023)

computed on the curve's grid (``n_points`` ≥ 11 evenly spaced t in [0, 1], endpoints included, so the barrier is
≥ 0 up to rounding).  For the error (1 − accuracy) the same formula is used.  Models with BatchNorm get their
running statistics recomputed on ``bn_data`` at every t (Jordan et al. 2023, REPAIR's observation that stale
statistics inflate barriers); models without BN need nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ._sd import check_compatible, is_float

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def interpolate(state_dict_a, state_dict_b, t: float) -> dict:
    """(1 − t) A + t B for floating-point keys (float64 arithmetic); integer keys from A."""
    a, b = check_compatible([state_dict_a, state_dict_b], ["state_dict_a", "state_dict_b"])
    return {k: ((1 - t) * v.double() + t * b[k].double()).to(v.dtype) if is_float(v) else v.clone()
            for k, v in a.items()}


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, BN_TYPES) for m in model.modules())


@torch.no_grad()
def recompute_bn_stats(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Reset every BatchNorm's running statistics and re-estimate them (cumulative average) on ``x``; in place."""
    bns = [m for m in model.modules() if isinstance(m, BN_TYPES)]
    if not bns:
        return model
    momenta = [m.momentum for m in bns]
    was = model.training
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    try:
        for s in range(0, len(x), batch_size):
            model(x[s:s + batch_size])
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        model.train(was)
    return model


def _default_eval(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> dict[str, float]:
    with torch.no_grad():
        logits = torch.cat([model(x[s:s + batch_size]) for s in range(0, len(x), batch_size)])
    acc = float((logits.argmax(1) == y).double().mean())
    return {"loss": float(F.cross_entropy(logits.double(), y)), "error": 1.0 - acc}


def lmc_curve(model: nn.Module, state_dict_a, state_dict_b, x: torch.Tensor, y: torch.Tensor, *,
              n_points: int = 11, bn_data: torch.Tensor | bool | None = None, batch_size: int = 2048,
              eval_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], dict] | None = None) -> pd.DataFrame:
    """Loss and error at ``n_points`` evenly spaced t (columns ``t, loss, error``).

    ``model`` is a template of the architecture (not modified; a copy is loaded at every t).  Default
    evaluation: mean cross-entropy of the logits ``model(x)`` against int labels ``y`` and the top-1 error;
    ``eval_fn(model, x, y) -> {"loss": .., "error": ..}`` replaces it.  If the model has BatchNorm, pass
    ``bn_data`` (training inputs) to recompute its statistics at each t, or ``bn_data=False`` to keep the
    interpolated running statistics.
    """
    if not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2 (>= 11 recommended), got {n_points!r}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    if has_batchnorm(model) and bn_data is None:
        raise ValueError("the model has BatchNorm layers: pass bn_data=<training inputs> to recompute their "
                         "statistics at each interpolation point, or bn_data=False to use interpolated statistics")
    sds = check_compatible([model.state_dict(), state_dict_a, state_dict_b], ["model", "state_dict_a",
                                                                              "state_dict_b"])
    net = copy.deepcopy(model)
    rows = []
    for t in np.linspace(0.0, 1.0, n_points):
        net.load_state_dict(interpolate(sds[1], sds[2], float(t)))
        if isinstance(bn_data, torch.Tensor):
            recompute_bn_stats(net, bn_data)
        net.eval()
        res = eval_fn(net, x, y) if eval_fn is not None else _default_eval(net, x, y, batch_size)
        if "loss" not in res or "error" not in res:
            raise ValueError("eval_fn must return a dict with 'loss' and 'error'")
        rows.append({"t": float(t), **{k: float(v) for k, v in res.items()}})
    return pd.DataFrame(rows)


def barrier(curve: pd.DataFrame, column: str = "loss") -> float:
    """max_t [curve(t) − ((1 − t) curve(0) + t curve(1))] over the curve's points (sorted by t)."""
    if "t" not in curve or column not in curve:
        raise ValueError(f"curve needs columns 't' and {column!r} (the output of lmc_curve); got {list(curve)}")
    c = curve.sort_values("t")
    t, v = c["t"].to_numpy(float), c[column].to_numpy(float)
    if len(t) < 2 or t[0] != 0.0 or t[-1] != 1.0:
        raise ValueError("curve must include t = 0 and t = 1")
    return float(np.max(v - ((1 - t) * v[0] + t * v[-1])))


def barriers(curve: pd.DataFrame) -> dict[str, float]:
    """``{"loss_barrier": .., "error_barrier": ..}`` of an lmc_curve."""
    return {"loss_barrier": barrier(curve, "loss"), "error_barrier": barrier(curve, "error")}
