"""Process-wide run settings shared by training code (the zoo, the applications' toy models)."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def deterministic(threads: int = 1):
    """One intra-op thread (torch and BLAS) and deterministic algorithms inside; previous settings restored after."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        from threadpoolctl import threadpool_limits  # numpy / scikit-learn BLAS threads
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        threadpool_limits = None
    try:
        with threadpool_limits(threads) if threadpool_limits else contextlib.nullcontext():
            yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
