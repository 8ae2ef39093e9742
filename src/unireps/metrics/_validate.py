"""Input validation at the boundary: every public measure calls these first.

Inputs may be numpy arrays, torch tensors or nested lists of shape (n, d), rows = the same n stimuli.
Everything is converted to a torch tensor (numpy input: zero-copy on the CPU; torch input: kept on its
device), so one code path serves CPU and CUDA, and torch's matmul is used (numpy's OpenBLAS float64
``X @ X.T`` has been seen to segfault at n=20000 here).

Dtype policy: float64 stays float64; float32 stays float32 (products in float32, norms and traces reduced in
float64); float16/bfloat16 and integers are promoted (to float32 and float64 respectively).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch


class UninformativeWarning(UserWarning):
    """A value was computed, but in a setting where unrelated representations score about as high (too few
    stimuli for the dimensionality, k close to n): it says little about shared structure."""


class BootstrapShiftWarning(UserWarning):
    """A percentile bootstrap interval does not contain the value it is the interval of: the resamples are shifted
    from the estimate (e.g. linear CKA with more features than stimuli rises when stimuli repeat), so the interval
    does not describe the estimate's uncertainty; ``jackknife_ci`` leaves stimuli out instead."""


def warn_if_chance_high(measure: str, chance: float, value_kind: str, detail: str, threshold: float = 0.5) -> None:
    """Warn (``UninformativeWarning``) when the level expected by chance exceeds ``threshold``."""
    if chance > threshold:
        warnings.warn(f"{measure}: the {value_kind} expected by chance (stimuli paired at random) is {chance:.3g} "
                      f"here ({detail}), so the value says little about shared structure. Use more stimuli, reduce "
                      "dimensions first (e.g. PCA to well below n), or report it beside its permutation null "
                      "(permutation_test / null_calibrated)", UninformativeWarning, stacklevel=3)


def _fmt_choices(choices: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in choices)


def check_choice(name: str, value, choices: Sequence[str]) -> str:
    """Raise ValueError naming the accepted values when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"unknown {name}={value!r}; accepted values: {_fmt_choices(choices)}")
    return value


def to_tensor(X, name: str = "X", device: torch.device | None = None) -> torch.Tensor:
    """Convert X to a floating torch tensor without copying where possible."""
    if isinstance(X, torch.Tensor):
        t = X.detach()
    elif isinstance(X, np.ndarray) or isinstance(X, (list, tuple)) or np.isscalar(X):
        a = np.asarray(X)
        if a.dtype == object:
            raise TypeError(f"{name} could not be read as a numeric array (dtype=object); pass a numeric "
                            "numpy array or torch tensor of shape (n_stimuli, n_features)")
        if a.dtype.kind == "c":
            raise TypeError(f"{name} is complex; pass real-valued features")
        if a.dtype.kind in "biu":
            a = a.astype(np.float64)
        elif a.dtype.kind != "f":
            raise TypeError(f"{name} has dtype {a.dtype}; expected a real-valued numpy array or torch tensor of "
                            "shape (n_stimuli, n_features)")
        if any(st < 0 for st in a.strides):  # flipped views (X[:, ::-1], np.flip): torch needs positive strides
            a = np.ascontiguousarray(a)
        if a.dtype.byteorder not in ("=", "|") and a.dtype.byteorder != ("<" if np.little_endian else ">"):
            a = a.astype(a.dtype.newbyteorder("="))
        with warnings.catch_warnings():  # read-only arrays (memmaps): torch only warns, we never write
            warnings.simplefilter("ignore", UserWarning)
            t = torch.from_numpy(a) if a.ndim else torch.tensor(a)
    else:
        raise TypeError(f"{name} must be a numpy array or torch tensor of shape (n_stimuli, n_features), "
                        f"got {type(X).__name__}")
    if t.is_complex():
        raise TypeError(f"{name} is complex; pass real-valued features")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.to(torch.float32)
    if device is not None and t.device != device:
        t = t.to(device)
    return t


def check_finite(t: torch.Tensor, name: str = "X") -> torch.Tensor:
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite values; remove or impute them "
                         "(e.g. drop those stimuli from both representations) before comparing")
    return t


def check_matrix(X, name: str = "X", min_rows: int = 2, device=None, check_finite: bool = True) -> torch.Tensor:
    """Validate one representation: 2-D, at least ``min_rows`` stimuli, finite (unless the caller checks
    finiteness more cheaply on its own products)."""
    t = to_tensor(X, name, device)
    if t.ndim == 1:
        raise ValueError(f"{name} is 1-D with shape {tuple(t.shape)}; expected (n_stimuli, n_features). "
                         f"If it holds one feature per stimulus use {name}.reshape(-1, 1)")
    if t.ndim != 2:
        raise ValueError(f"{name} has {t.ndim} dimensions {tuple(t.shape)}; expected 2-D (n_stimuli, "
                         "n_features). Pool the extra axes first, e.g. tokens or positions with "
                         f"{name}.mean(axis=1), or flatten them with {name}.reshape(len({name}), -1)")
    n, d = t.shape
    if d == 0:
        raise ValueError(f"{name} has no features (shape {tuple(t.shape)})")
    if n < min_rows:
        raise ValueError(f"{name} has {n} stimuli; this estimator needs at least {min_rows}")
    if check_finite:
        _finite(t, name)
    return t


_finite = check_finite


# exponent window (in powers of two) of the largest |value| inside which a representation is used as given
_EXPONENT_WINDOW = {torch.float64: 64, torch.float32: 16}
_POW2_STEP = {torch.float64: 500, torch.float32: 100}


def times_pow2(t: torch.Tensor, exponent: int) -> torch.Tensor:
    """t × 2^exponent, exactly (a power-of-two factor only moves exponents), in steps the dtype can hold."""
    step = _POW2_STEP.get(t.dtype, 100)
    out = t
    while exponent:
        e = max(-step, min(step, exponent))
        out = out * 2.0**e if out is t else out.mul_(2.0**e)
        exponent -= e
    return out


def scale_exponent(t: torch.Tensor, name: str = "X") -> int:
    """The binary exponent e of max|t| (max|t| = m 2^e, 0.5 <= m < 1); 0 for an all-zero t.  Non-finite values
    are refused here (max|t| is not finite), so this doubles as the finiteness check."""
    if t.numel() == 0:
        return 0
    lo, hi = torch.aminmax(t)
    amax = max(-float(lo), float(hi))
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        _finite(t, name)
    return math.frexp(amax)[1] if amax > 0 else 0


def rescale_pow2(t: torch.Tensor, name: str = "X") -> torch.Tensor:
    """Bring a representation to unit scale by an exact power of two, for scale-invariant measures.

    When max|t| lies outside 2^±64 (float64) or 2^±16 (float32) it is multiplied by 2^-e, e its binary exponent,
    so that max|t| is in [0.5, 1): products and sums of squares can then neither overflow nor underflow
    (X × 1e76 or X × 1e-200 no longer turn CKA into 0 or a "constant" error), and the value is bit-for-bit
    the same for any such scaling.  Inside the window the input is used as given (no copy).

    >>> import torch
    >>> float(rescale_pow2(torch.tensor([[3e200, -1e200]], dtype=torch.float64)).abs().max()) < 1
    True
    """
    return times_pow2(t, pow2_shift(t, name))


def pow2_shift(t: torch.Tensor, name: str = "X") -> int:
    """The power of two ``rescale_pow2`` multiplies t by: -e outside the exponent window, else 0."""
    e = scale_exponent(t, name)
    return -e if abs(e) > _EXPONENT_WINDOW.get(t.dtype, 16) else 0


def rows_pow2(t: torch.Tensor) -> torch.Tensor:
    """Each row multiplied by an exact power of two bringing its max |value| into [0.5, 1) (all-zero rows stay
    zero): for per-row scale-free quantities (cosines), whose norms would otherwise overflow or underflow."""
    amax = t.abs().amax(dim=1, keepdim=True) if t.shape[1] else t[:, :1]
    _, e = torch.frexp(amax)
    limit = 1000 if t.dtype == torch.float64 else 120
    if not bool(e.any()):
        return t
    return t * torch.pow(2.0, (-e).clamp_(-limit, limit).to(t.dtype))


def check_pair(X, Y, min_rows: int = 2, same_dims: bool = False, check_finite: bool = True,
               rescale: bool = False):
    """Validate a pair of representations of the same stimuli; returns tensors on one device, one dtype.

    ``rescale=True`` (measures invariant to isotropic scaling): each side is brought to unit scale by an exact
    power of two (``rescale_pow2``), which also checks finiteness."""
    x = check_matrix(X, "X", min_rows, check_finite=check_finite and not rescale)
    y = check_matrix(Y, "Y", min_rows, device=x.device, check_finite=check_finite and not rescale)
    if rescale:
        x, y = rescale_pow2(x, "X"), rescale_pow2(y, "Y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"X has {x.shape[0]} stimuli (rows) but Y has {y.shape[0]}; both must hold the same "
                         "stimuli in the same order")
    if same_dims and x.shape[1] != y.shape[1]:
        raise ValueError(f"this measure needs equal feature dimensions, got X: {x.shape[1]} and "
                         f"Y: {y.shape[1]}; project both to a common space first (e.g. with PCA) or use "
                         "a measure that allows different widths (linear_cka, procrustes, cca)")
    dtype = torch.promote_types(x.dtype, y.dtype)
    return x.to(dtype), y.to(dtype)


def relative_floor(dtype: torch.dtype) -> float:
    """Below this ratio ||X - mean|| / ||X||, a representation's variation is rounding noise of its dtype."""
    return 64 * torch.finfo(dtype).eps


def constant_error(name: str) -> ValueError:
    return ValueError(f"{name} is constant across stimuli (its variation after centering is zero or at the rounding "
                      "level of its dtype), so the measure is undefined. Check that the features were extracted for "
                      "different inputs (e.g. a CLS token before the first block does not depend on the image); "
                      "data with a huge offset can be passed as float64")


def center(X: torch.Tensor, name: str = "X") -> torch.Tensor:
    """Subtract the column means (computed in float64), and refuse a constant representation."""
    mean = X.mean(dim=0, dtype=torch.float64, keepdim=True)
    Xc = X - mean.to(X.dtype)
    scale = torch.linalg.vector_norm(X, dtype=torch.float64)
    norm = torch.linalg.vector_norm(Xc, dtype=torch.float64)
    if not bool(norm > relative_floor(X.dtype) * float(scale)) or float(norm) == 0.0:
        raise constant_error(name)
    return Xc


def check_k(k: int, n: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k >= n:
        raise ValueError(f"k={k} neighbours needs more than k stimuli (k < n - 1 excluding self), got n={n}; "
                         f"choose k <= {max(n - 2, 1)}")
    if k > n - 2:
        raise ValueError(f"k={k} with n={n}: every other stimulus is a neighbour, so the measure is "
                         f"trivially 1; choose k <= {max(n - 3, 1)}")
    return int(k)


def acc_dtype(t: torch.Tensor) -> torch.dtype:
    """float64 for reductions, unless the device cannot (MPS)."""
    return torch.float32 if t.device.type == "mps" else torch.float64


# Host routes: CPU tensors may go through numpy (OpenBLAS syrk for X^T X, numpy sorting for exact ranks), which
# is faster on this kind of machine than torch's kernels.  Tensors on any other device never do.  Tests that
# emulate an accelerator on the CPU (tests/test_gpu.py) switch the host routes off to check the device routes.
HOST_ROUTES = True


def host_numpy(t: torch.Tensor):
    """``t`` as a numpy array (no copy) when it lives in host memory and host routes are on, else None."""
    if HOST_ROUTES and t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
        return t.numpy()
    return None
