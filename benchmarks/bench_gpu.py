"""Every registered measure on CUDA tensors, timed against the matrix-product floor on the same device.

Floors: feature-space measures (linear CKA, CCA family, Procrustes, predictability, paired cosine) against
X^T X + Y^T Y + X^T Y; measures over all pairs of stimuli (RBF CKA, RSA, k-NN measures) against the two Gram
products X X^T + Y Y^T.  Times are medians of ``--repeats`` runs after a warm-up, with
``torch.cuda.synchronize()``; inputs are created on the device, so nothing is copied from the host.  The
out-of-core CKA is timed too, streaming host (numpy) batches to the device, against the same products
streamed the same way.

Without CUDA it says so and exits 0 (``--device cpu`` runs the same script on the CPU, for checking it).

    python benchmarks/bench_gpu.py [--n 20000] [--d 768] [--dtype float32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

FEATURE = {"linear_cka", "linear_cka_debiased", "cca", "svcca", "pwcca", "procrustes", "procrustes_distance",
           "linear_predictability", "paired_cosine"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    fn()  # warm-up (kernels, cuBLAS/cuSOLVER handles)
    _sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def data(n: int, d: int, dtype: torch.dtype, device: torch.device, seed: int = 0):
    g = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n, 32, generator=g, device=device, dtype=dtype)
    X = z @ torch.randn(32, d, generator=g, device=device, dtype=dtype) + 0.5 * torch.randn(
        n, d, generator=g, device=device, dtype=dtype)
    Y = torch.tanh(z) @ torch.randn(32, d, generator=g, device=device, dtype=dtype) + 0.5 * torch.randn(
        n, d, generator=g, device=device, dtype=dtype)
    return X, Y


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20_000, help="stimuli for the feature-space measures")
    p.add_argument("--n-pairs", type=int, default=8_000, help="stimuli for the O(n^2) measures")
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default=None, help="default: cuda; 'cpu' to check the script without a GPU")
    p.add_argument("--only", default="", help="comma-separated measure names")
    a = p.parse_args(argv)
    if a.device is None and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device is available (torch.cuda.is_available() is False); nothing to measure.")
        return 0
    device = torch.device(a.device or "cuda")
    dtype = getattr(torch, a.dtype)
    from unireps.metrics import list_metrics, ooc

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}), torch {torch.__version__}, {a.dtype}, d = {a.d}")
    only = set(filter(None, a.only.split(",")))
    floors = {}
    for n in sorted({a.n, a.n_pairs}):
        X, Y = data(n, a.d, dtype, device)
        floors[(n, "feature")] = timed(lambda X=X, Y=Y: (X.T @ X, Y.T @ Y, X.T @ Y), device, a.repeats)
        floors[(n, "gram")] = timed(lambda X=X, Y=Y: (X @ X.T, Y @ Y.T), device, a.repeats)
        del X, Y
    print(f"{'measure':24s}{'n':>8s}{'time (ms)':>12s}{'floor (ms)':>12s}{'x floor':>9s}  floor")
    for info in list_metrics():
        if only and info.name not in only:
            continue
        kind = "feature" if info.name in FEATURE else "gram"
        n = a.n if kind == "feature" else a.n_pairs
        X, Y = data(n, a.d, dtype, device)
        try:
            t = timed(lambda X=X, Y=Y, info=info: info.fn(X, Y, **info.default_kwargs), device, a.repeats)
        except (RuntimeError, ValueError) as exc:  # e.g. out of memory at this size
            print(f"{info.name:24s}{n:8d}  failed: {type(exc).__name__}: {str(exc)[:80]}")
            continue
        finally:
            del X, Y
            if device.type == "cuda":
                torch.cuda.empty_cache()
        f = floors[(n, kind)]
        print(f"{info.name:24s}{n:8d}{t * 1e3:12.1f}{f * 1e3:12.1f}{t / f:9.1f}  {kind}")
    if not only or "ooc" in only:
        X, Y = data(a.n, a.d, dtype, torch.device("cpu"))
        Xh, Yh = X.numpy(), Y.numpy()
        bs = 8192

        def floor_stream():
            acc = None
            for xb, yb in ooc.iter_pairs(Xh, Yh, bs, device=device, dtype=torch.float64):
                prods = (xb.T @ xb, yb.T @ yb, xb.T @ yb)
                acc = prods if acc is None else tuple(u + v for u, v in zip(acc, prods))
            return acc

        f = timed(floor_stream, device, a.repeats)
        for deb in (False, True):
            t = timed(lambda deb=deb: ooc.streaming_linear_cka(Xh, Yh, debiased=deb, batch_size=bs, device=device),
                      device, a.repeats)
            label = "ooc linear_cka" + ("_debiased" if deb else "")
            print(f"{label:24s}{a.n:8d}{t * 1e3:12.1f}{f * 1e3:12.1f}{t / f:9.1f}  host-streamed products (float64)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
