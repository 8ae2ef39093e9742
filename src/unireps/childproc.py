"""A function run in a child process, beside the caller's own work: the report's federated section.

The federated section spends most of its wall time waiting (Ray's start-up, its actors importing torch, Flower's
message polling) while the in-process analyses run on one thread (``threads_for_small_ops``): on a 2-core machine
the two overlap.  The child also keeps Ray out of the report's own process: Ray's driver installs a SIGTERM handler
and threads that outlive ``ray.shutdown()``, and `unireps demo` serves the app from that process afterwards.

:class:`ChildSection` starts ``fn(*args)`` in a fresh (spawned) interpreter and :meth:`ChildSection.result` returns
its value with the wall seconds and the CPU seconds of the child and every process it started (Ray's workers
included, sampled while they run).
"""

from __future__ import annotations

import multiprocessing
import threading
import time

SAMPLE_S = 0.5  # how often the child samples its descendants' CPU times


class ChildSectionError(RuntimeError):
    """The child process of a section ended without a result (killed, or crashed in native code)."""


class ChildSection:
    """``fn(*args)`` in a spawned child process; ``result()`` waits for ``(value, wall_s, cpu_s)``.

    An exception in the child is raised again by :meth:`result`; :meth:`stop` ends the child (SIGTERM, then SIGKILL)
    when the run fails before collecting it.  The child ends with its parent (Linux ``PR_SET_PDEATHSIG``).

    >>> job = ChildSection(sum, [1, 2, 3])
    >>> value, wall_s, cpu_s = job.result()
    >>> value, wall_s > 0, cpu_s >= 0
    (6, True, True)
    """

    def __init__(self, fn, *args):
        ctx = multiprocessing.get_context("spawn")  # never fork a process with torch's thread pools
        self._recv, send = ctx.Pipe(duplex=False)
        self._t0 = time.perf_counter()
        self._proc = ctx.Process(target=_child_main, args=(send, fn, args), name=f"unireps-{_name(fn)}")
        self._proc.start()
        send.close()  # the child holds the only write end: recv() raises EOFError if it dies without a reply

    def result(self):
        """``(value, wall_s, cpu_s)``; re-raises the child's exception; :class:`ChildSectionError` if it died."""
        try:
            status, payload, cpu = self._recv.recv()
        except EOFError:
            self._proc.join(timeout=30)
            raise ChildSectionError(f"the child process {self._proc.name} ended without a result (exit code "
                                    f"{self._proc.exitcode}); rerun the report, and if it recurs run the section "
                                    "in-process to see its error") from None
        finally:
            self._recv.close()
        self._proc.join(timeout=60)
        wall = time.perf_counter() - self._t0
        if status == "error":
            raise payload
        return payload, wall, cpu

    def stop(self) -> None:
        """End the child now (no result)."""
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=20)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=10)
        self._recv.close()


def _name(fn) -> str:
    return getattr(fn, "__name__", "section")


def _die_with_parent() -> None:
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - not glibc
            pass


class _DescendantCPU:
    """CPU seconds of the processes this one starts (Ray's raylet, GCS and workers): the last sampled user + system
    time of each, summed (up to ``SAMPLE_S`` of each process's last moments is missed).  Workers that Ray's raylet
    starts are not this process's children, so RUSAGE_CHILDREN misses them; :meth:`total` takes the larger of the
    two."""

    def __init__(self):
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="unireps-cpu-sampler", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def _sample(self) -> None:
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil comes with Ray
            return
        try:
            children = psutil.Process().children(recursive=True)
        except psutil.Error:  # pragma: no cover
            return
        for p in children:
            try:
                t = p.cpu_times()
                self.seen[p.pid] = max(self.seen.get(p.pid, 0.0), t.user + t.system)
            except psutil.Error:
                pass

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def total(self, direct_children_reaped: float) -> float:
        """Sampled descendants, or this process's reaped children when those counted more."""
        return max(sum(self.seen.values()), direct_children_reaped)


def _child_main(send, fn, args) -> None:
    import resource

    _die_with_parent()
    c0 = time.process_time()
    with _DescendantCPU() as others:
        try:
            value, status = fn(*args), "ok"
        except BaseException as e:  # noqa: BLE001 - sent to the parent, which raises it
            value, status = e, "error"
        others._sample()
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - c0 + others.total(reaped.ru_utime + reaped.ru_stime)
    try:
        send.send((status, value, cpu))
    except Exception as e:  # noqa: BLE001 - an unpicklable exception or value: say what it was
        send.send(("error", ChildSectionError(f"the section's {status} could not be sent back: {e!r}"), cpu))
    send.close()


__all__ = ["ChildSection", "ChildSectionError"]
