"""Task arithmetic (Ilharco et al., ICLR 2023) and TIES-merging (Yadav et al., NeurIPS 2023) on state_dicts.

A task vector is τ = θ_finetuned − θ_pretrained (floating-point keys).  Task arithmetic adds a scaled sum of
task vectors to the pretrained weights, θ = θ_pre + Σ λ_i τ_i; negating a task vector (λ < 0 or
:func:`negate`) removes a task ("forgetting via negation").

TIES: (1) trim — keep the ``density`` fraction of each task vector's entries with the largest magnitude (over
the whole vector, as the paper, or per tensor, as mergekit), zero the rest; (2) elect sign — per entry,
γ = sign(Σ_t τ̂_t) (the sign of the larger total mass); (3) disjoint merge — the mean of the trimmed values
whose sign agrees with γ (zeros and disagreeing values excluded; 0 where none agree); θ = θ_pre + λ τ_m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._sd import as_state_dict, check_compatible, is_float

TRIM_SCOPES = ("global", "tensor")


def task_vector(finetuned, pretrained) -> dict:
    """τ = finetuned − pretrained for every floating-point key (integer keys are dropped)."""
    ft, pre = check_compatible([finetuned, pretrained], ["finetuned", "pretrained"])
    return {k: ft[k] - pre[k] for k in pre if is_float(pre[k])}


def negate(vector) -> dict:
    """−τ (forgetting via negation)."""
    return {k: -v for k, v in as_state_dict(vector, "vector").items()}


def add_task_vectors(pretrained, vectors: Sequence, scaling: float | Sequence[float] = 1.0) -> dict:
    """θ_pre + Σ λ_i τ_i; ``scaling`` is one λ for all or one per vector.  Integer keys are copied."""
    pre = as_state_dict(pretrained, "pretrained")
    vecs = [as_state_dict(v, f"vectors[{i}]") for i, v in enumerate(vectors)]
    lams = _scalings(scaling, len(vecs))
    float_keys = {k for k, v in pre.items() if is_float(v)}
    for i, v in enumerate(vecs):
        if set(v) != float_keys:
            missing, extra = float_keys - set(v), set(v) - float_keys
            raise ValueError(f"vectors[{i}] does not match pretrained's floating-point keys (missing "
                             f"{sorted(missing)[:5]}, extra {sorted(extra)[:5]}); build it with "
                             "task_vector(finetuned, pretrained).")
        for k in v:
            if v[k].shape != pre[k].shape:
                raise ValueError(f"vectors[{i}][{k!r}] has shape {tuple(v[k].shape)}, pretrained has "
                                 f"{tuple(pre[k].shape)}")
    out = {}
    for k, p in pre.items():
        if not is_float(p):
            out[k] = p.clone()
            continue
        acc = p.double().clone()
        for lam, v in zip(lams, vecs):
            acc += lam * v[k].double()
        out[k] = acc.to(p.dtype)
    return out


def task_arithmetic(pretrained, finetuned: Sequence, scaling: float | Sequence[float] = 0.3) -> dict:
    """θ_pre + Σ λ_i (θ_i − θ_pre).  λ = 1/k gives the uniform average; choose λ on held-out data."""
    vecs = [task_vector(ft, pretrained) for ft in finetuned]
    return add_task_vectors(pretrained, vecs, scaling)


def _scalings(scaling, n: int) -> list[float]:
    if isinstance(scaling, int | float):
        return [float(scaling)] * n
    lams = [float(s) for s in scaling]
    if len(lams) != n:
        raise ValueError(f"scaling has {len(lams)} entries for {n} task vectors; give one λ or one per vector")
    return lams


def _check_density(density: float) -> float:
    if not (isinstance(density, int | float) and 0.0 < density <= 1.0):
        raise ValueError(f"density must be in (0, 1] (the fraction of entries kept), got {density!r}")
    return float(density)


def trim(vector, density: float = 0.2, scope: str = "global") -> dict:
    """Keep the round(density · n) largest-magnitude entries (at least 1) of the vector (``scope="global"``)
    or of each tensor (``"tensor"``); zero the others."""
    density = _check_density(density)
    if scope not in TRIM_SCOPES:
        raise ValueError(f"unknown scope={scope!r}; accepted values: 'global', 'tensor'")
    vec = as_state_dict(vector, "vector")
    if scope == "tensor":
        return {k: _keep_top(v.reshape(-1), density).reshape(v.shape) for k, v in vec.items()}
    keys = list(vec)
    flat = torch.cat([vec[k].reshape(-1) for k in keys]) if keys else torch.zeros(0)
    kept = _keep_top(flat, density)
    out, start = {}, 0
    for k in keys:
        n = vec[k].numel()
        out[k] = kept[start:start + n].reshape(vec[k].shape)
        start += n
    return out


def _keep_top(flat: torch.Tensor, density: float) -> torch.Tensor:
    n = flat.numel()
    if n == 0:
        return flat.clone()
    k = min(n, max(1, int(math.floor(density * n + 0.5))))
    idx = torch.topk(flat.abs(), k, sorted=False).indices
    out = torch.zeros_like(flat)
    out[idx] = flat[idx]
    return out


def elect_sign(vectors: Sequence) -> dict:
    """γ = sign(Σ_t τ_t) per entry (−1, 0 or +1)."""
    vecs = check_compatible(vectors, [f"vectors[{i}]" for i in range(len(vectors))])
    return {k: torch.sign(sum(v[k].double() for v in vecs)) for k in vecs[0]}


def disjoint_merge(vectors: Sequence, sign: dict) -> dict:
    """Mean over tasks of the entries whose sign equals ``sign`` (0 where no task agrees)."""
    vecs = check_compatible(vectors, [f"vectors[{i}]" for i in range(len(vectors))])
    out = {}
    for k, ref in vecs[0].items():
        g = sign[k]
        total = torch.zeros(ref.shape, dtype=torch.float64)
        count = torch.zeros(ref.shape, dtype=torch.float64)
        for v in vecs:
            agree = (torch.sign(v[k].double()) == g) & (g != 0)
            total += torch.where(agree, v[k].double(), 0.0)
            count += agree.double()
        out[k] = (total / count.clamp_min(1.0)).to(ref.dtype)
    return out


def ties_merge(pretrained, finetuned: Sequence, density: float = 0.2, scaling: float = 1.0,
               scope: str = "global") -> dict:
    """TIES-merging: θ_pre + λ · disjoint_merge(trim(τ_t), elect_sign(trim(τ_t)))."""
    vecs = [trim(task_vector(ft, pretrained), density, scope) for ft in finetuned]
    merged = disjoint_merge(vecs, elect_sign(vecs))
    return add_task_vectors(pretrained, [merged], float(scaling))
