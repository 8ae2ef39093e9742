"""Server-side aggregation: FedAvg's weighted mean, and the alignment-aware mean.

FedAvg (McMahan et al., AISTATS 2017): w_global = Σ_k (n_k / n) w_k, n_k the client's number of training
examples (FedProx aggregates the same way; its difference is the client's proximal term).

Alignment-aware aggregation (the idea of FedMA, Wang et al., ICLR 2020, with Git Re-Basin weight matching,
Ainsworth et al., ICLR 2023, from :mod:`unireps.merge`): hidden units are exchangeable, so before averaging each
client's units are permuted to best match a reference — first the previous global model, then (``refine`` more
passes) the weighted mean of the already aligned clients — by :func:`unireps.merge.weight_matching`; the permuted
client computes exactly the same function.  Unlike FedMA the number of units stays fixed (no new neurons) and the
matching is by weights, layer-wise coordinate descent, not the Bayesian nonparametric matching of PFNM.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def _check(state_dicts: Sequence[dict], weights: Sequence[float]) -> np.ndarray:
    if len(state_dicts) == 0:
        raise ValueError("nothing to aggregate: no client state_dicts were given")
    if len(weights) != len(state_dicts):
        raise ValueError(f"{len(state_dicts)} state_dicts but {len(weights)} weights; give one weight (number of "
                         "examples) per client")
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"client weights must be finite, >= 0 and not all 0, got {list(weights)}")
    keys = list(state_dicts[0])
    for i, sd in enumerate(state_dicts[1:], 1):
        if list(sd) != keys:
            raise ValueError(f"client {i}'s state_dict keys differ from client 0's; all clients must share the model")
    return w / w.sum()


def weighted_average(state_dicts: Sequence[dict], weights: Sequence[float]) -> dict:
    """Σ_k (w_k / Σ w) · state_dict_k per tensor, accumulated in float64 and cast back to each tensor's dtype.

    >>> import torch
    >>> weighted_average([{"w": torch.zeros(2)}, {"w": torch.ones(2)}], [1, 3])["w"].tolist()
    [0.75, 0.75]
    """
    w = _check(state_dicts, weights)
    out = {}
    for key, ref in state_dicts[0].items():
        acc = sum(float(wk) * sd[key].double() for wk, sd in zip(w, state_dicts))
        out[key] = acc.to(ref.dtype)
    return out


def aligned_average(reference: dict, state_dicts: Sequence[dict], weights: Sequence[float], template, *,
                    refine: int = 1, seed: int = 0) -> tuple[dict, list[dict[str, np.ndarray]]]:
    """Permute each client's hidden units to match ``reference`` (weight matching), average; then ``refine``
    times re-match every client to the current average and average again.

    ``template`` is a module of the architecture (its permutation spec comes from
    :func:`unireps.merge.spec_from_module`).  Returns the aggregate and each client's final permutations.

    >>> import torch
    >>> from unireps.zoo.digits import digits_mlp
    >>> a = digits_mlp(width=8, seed=0)
    >>> avg, perms = aligned_average(a.state_dict(), [a.state_dict()], [1.0], a)
    >>> bool(torch.equal(avg["fc1.weight"], a.state_dict()["fc1.weight"]))
    True
    """
    if not isinstance(refine, int) or refine < 0:
        raise ValueError(f"refine must be an integer >= 0, got {refine!r}")
    from ..merge import apply_permutation, spec_from_module, weight_matching  # scipy and pandas: only here

    _check(state_dicts, weights)
    spec = spec_from_module(template)
    ref = reference
    aligned, perms = list(state_dicts), []
    for _ in range(refine + 1):
        perms = [weight_matching(spec, ref, sd, seed=seed) for sd in state_dicts]
        aligned = [apply_permutation(spec, p, sd) for p, sd in zip(perms, state_dicts)]
        ref = weighted_average(aligned, weights)
    return ref, [{k: np.asarray(v) for k, v in p.items()} for p in perms]


def moved_units(perms: Sequence[dict]) -> float:
    """Fraction of hidden units that a list of permutations (one dict per client) moves away from identity."""
    total = moved = 0
    for p in perms:
        for v in p.values():
            v = np.asarray(v)
            total += len(v)
            moved += int((v != np.arange(len(v))).sum())
    return moved / total if total else 0.0


def to_float_tensors(state_dict: dict) -> dict:
    """Copy of a state_dict (tensors or numpy arrays) as torch tensors."""
    return {k: torch.as_tensor(np.asarray(v)).clone() if not isinstance(v, torch.Tensor) else v.detach().clone()
            for k, v in state_dict.items()}
