"""Process-wide run settings shared by training code (the zoo, the applications' toy models)."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def deterministic(threads: int = 1):
    """One intra-op thread (torch and BLAS) and deterministic algorithms inside; previous settings restored after."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with _threads(threads):
            yield
    finally:
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)


@contextlib.contextmanager
def _threads(threads: int):
    """``threads`` intra-op threads for torch and the BLAS libraries (numpy, scikit-learn) inside; torch's
    previous setting restored after."""
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        threadpool_limits = None
    try:
        with threadpool_limits(threads) if threadpool_limits else contextlib.nullcontext():
            yield
    finally:
        torch.set_num_threads(old_threads)


@contextlib.contextmanager
def threads_for_small_ops(threads: int = 1):
    """At most ``threads`` intra-op threads for torch and the BLAS libraries inside; previous settings restored after.

    For analyses made of many small products (n of a few hundred stimuli, bootstrap and permutation loops): the
    threads of a parallel region then cost more in start-up and barriers than they save, and on a shared machine
    they spin while waiting.  Measured on this project's 2-core VM under load 7-10: 100 permutations of mutual k-NN
    at n = 500 took 4.0 s wall with 2 threads and 0.07 s with 1.  Values are unchanged up to the summation order of
    the products (float rounding).

    >>> import torch
    >>> from unireps.runtime import threads_for_small_ops
    >>> before = torch.get_num_threads()
    >>> with threads_for_small_ops():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    with _threads(max(1, min(int(threads), torch.get_num_threads()))):
        yield


class StepTimes:
    """Wall-clock and process CPU seconds of named steps (CPU time: every thread of this process; on a shared
    machine it is the number to compare, wall time grows with the other jobs' load).

    >>> from unireps.runtime import StepTimes
    >>> times = StepTimes()
    >>> with times.step("sum"):
    ...     _ = sum(range(1000))
    >>> tuple(times.wall), times.cpu["sum"] >= 0
    (('sum',), True)
    """

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str):
        import time

        t, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - t
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c

    def as_dict(self) -> dict:
        """{"wall_s": {...}, "cpu_s": {...}} rounded to 0.01 s."""
        return {"wall_s": {k: round(v, 2) for k, v in self.wall.items()},
                "cpu_s": {k: round(v, 2) for k, v in self.cpu.items()}}


def release_free_memory() -> bool:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim(0)``); False where there is no glibc.

    Threads that allocate and free many buffers of a few MiB (below glibc's mmap threshold) leave them in per-thread
    arenas: free for the process to reuse, but still counted in its resident memory, so a large buffer allocated
    next adds to them.  Measured on RSA at n = 20,000: 400 MiB resident but free after the keys' pass, 200 MiB after
    this call; the process's peak fell from about 1,910 to 1,790 MiB.  Values are unchanged.

    >>> from unireps.runtime import release_free_memory
    >>> release_free_memory() in (True, False)
    True
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to give back this way
        trim = None
    if trim is None:
        return False
    trim(0)
    return True
