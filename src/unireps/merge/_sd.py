"""State-dict checks and arithmetic shared by every merge method.

A state_dict is a mapping from names to tensors (``model.state_dict()``; numpy arrays are accepted and turned
into tensors).  Merges act on floating-point tensors; integer tensors (BatchNorm's ``num_batches_tracked``)
are copied from the first state_dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

StateDict = Mapping[str, torch.Tensor]


def as_state_dict(sd, name: str = "state_dict") -> dict[str, torch.Tensor]:
    """A plain dict of detached tensors; nn.Module input is read through ``.state_dict()``."""
    if isinstance(sd, torch.nn.Module):
        sd = sd.state_dict()
    if not isinstance(sd, Mapping):
        raise TypeError(f"{name} must be a state_dict (a mapping of names to tensors) or an nn.Module, "
                        f"got {type(sd).__name__}")
    out = {}
    for k, v in sd.items():
        if isinstance(v, np.ndarray):
            v = torch.from_numpy(v)
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name}[{k!r}] is a {type(v).__name__}; every value must be a tensor")
        out[k] = v.detach()
    return out


def _fmt(keys, limit: int = 6) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(repr(k) for k in keys[:limit]) + more


def check_compatible(state_dicts: Sequence, names: Sequence[str] | None = None) -> list[dict[str, torch.Tensor]]:
    """Convert and check that all state_dicts have the same keys and the same shape for each key.

    Raises ValueError naming the missing / extra keys or the first mismatched shapes, and how to fix it.
    """
    if isinstance(state_dicts, Mapping) or isinstance(state_dicts, torch.nn.Module):
        raise TypeError("expected a list of state_dicts, got a single one; wrap it in a list")
    if len(state_dicts) == 0:
        raise ValueError("no state_dicts given; pass at least one")
    names = list(names) if names is not None else [f"state_dicts[{i}]" for i in range(len(state_dicts))]
    sds = [as_state_dict(sd, n) for sd, n in zip(state_dicts, names)]
    for sd, n in zip(sds, names):
        for k, v in sd.items():
            if v.is_floating_point() and bool(torch.isnan(v).any()):  # (-inf is legitimate in attention masks)
                raise ValueError(f"{n}[{k!r}] contains NaN values; a merge would spread them to the "
                                 "merged weights — check that model (e.g. a diverged fine-tuning run) and leave it out")
    ref_keys = set(sds[0])
    for sd, n in zip(sds[1:], names[1:]):
        keys = set(sd)
        if keys != ref_keys:
            missing, extra = ref_keys - keys, keys - ref_keys
            parts = []
            if missing:
                parts.append(f"missing {_fmt(missing)}")
            if extra:
                parts.append(f"extra {_fmt(extra)}")
            raise ValueError(f"{n} does not have the keys of {names[0]}: {'; '.join(parts)}. Merge state_dicts of "
                             "the same architecture (strip prefixes such as 'module.' or select common keys first).")
        for k in sds[0]:
            if sd[k].shape != sds[0][k].shape:
                raise ValueError(f"{n}[{k!r}] has shape {tuple(sd[k].shape)} but {names[0]}[{k!r}] has "
                                 f"{tuple(sds[0][k].shape)}; merged models must have identical shapes.")
    return sds


def is_float(t: torch.Tensor) -> bool:
    return t.is_floating_point()


def check_weights(weights, n: int, name: str = "weights") -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    w = [float(v) for v in weights]
    if len(w) != n:
        raise ValueError(f"{name} has {len(w)} entries for {n} state_dicts; give one weight per state_dict")
    if not all(np.isfinite(w)):
        raise ValueError(f"{name} must be finite, got {w}")
    return w


def weighted_sum(sds: Sequence[dict[str, torch.Tensor]], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """Σ w_i θ_i per floating-point key (accumulated in float64, returned in the first dict's dtype)."""
    out = {}
    for k, ref in sds[0].items():
        if not is_float(ref):
            out[k] = ref.clone()
            continue
        acc = torch.zeros(ref.shape, dtype=torch.float64)
        for sd, w in zip(sds, weights):
            acc += w * sd[k].double()
        out[k] = acc.to(ref.dtype)
    return out
