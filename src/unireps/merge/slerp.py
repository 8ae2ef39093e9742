"""Spherical linear interpolation of two state_dicts, tensor by tensor (as mergekit's ``slerp``).

For flattened tensors a, b: the angle Ω = arccos(⟨a/‖a‖, b/‖b‖⟩); slerp(a, b; t) = sin((1−t)Ω)/sin Ω · a +
sin(tΩ)/sin Ω · b.  When the directions are nearly collinear (|cos Ω| > ``dot_threshold``, default 0.9995, the
mergekit value) or either tensor is ~zero, linear interpolation (1−t) a + t b is used instead.  Note that slerp is
applied to the raw tensors (norms are not renormalised), so t = 0 and t = 1 return a and b exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ._sd import check_compatible, is_float


def slerp_tensor(a: torch.Tensor, b: torch.Tensor, t: float, dot_threshold: float = 0.9995,
                 eps: float = 1e-12) -> torch.Tensor:
    """SLERP of two same-shape tensors (computed in float64, returned in a's dtype)."""
    if a.shape != b.shape:
        raise ValueError(f"slerp: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    va, vb = a.double().reshape(-1), b.double().reshape(-1)
    na, nb = torch.linalg.vector_norm(va), torch.linalg.vector_norm(vb)
    if na < eps or nb < eps:
        return ((1 - t) * va + t * vb).reshape(a.shape).to(a.dtype)
    dot = float(torch.dot(va / na, vb / nb).clamp(-1.0, 1.0))
    if abs(dot) > dot_threshold:
        return ((1 - t) * va + t * vb).reshape(a.shape).to(a.dtype)
    omega = torch.arccos(torch.tensor(dot, dtype=torch.float64))
    so = torch.sin(omega)
    out = torch.sin((1 - t) * omega) / so * va + torch.sin(t * omega) / so * vb
    return out.reshape(a.shape).to(a.dtype)


def slerp(state_dict_a, state_dict_b, t: float | Mapping[str, float] = 0.5, dot_threshold: float = 0.9995) -> dict:
    """Per-tensor SLERP from A (t = 0) to B (t = 1); ``t`` may be a dict key -> t (missing keys: 0.5).

    Integer tensors are taken from A.
    """
    a, b = check_compatible([state_dict_a, state_dict_b], ["state_dict_a", "state_dict_b"])
    if not 0.0 <= dot_threshold <= 1.0:
        raise ValueError(f"dot_threshold must be in [0, 1], got {dot_threshold}")
    out = {}
    for k, va in a.items():
        tk = float(t.get(k, 0.5)) if isinstance(t, Mapping) else float(t)
        out[k] = slerp_tensor(va, b[k], tk, dot_threshold) if is_float(va) else va.clone()
    return out
