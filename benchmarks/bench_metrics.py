"""Speed of unireps.metrics against the naive way and against the physical floor, in one process.

    python benchmarks/bench_metrics.py            # the sizes of the issue (several minutes on 2 cores)
    python benchmarks/bench_metrics.py --quick    # small sizes, a smoke run

Prints one line per comparison with the ratio, and writes JSON with --json PATH.
Floors are the matrix products a measure cannot avoid, timed as plain torch matmuls on the same tensors.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time

import numpy as np
import torch

import unireps
from unireps.metrics import layer_similarity, linear_cka, mutual_knn


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def naive_hkh_cka(X: torch.Tensor, Y: torch.Tensor) -> float:
    """The textbook O(n^3) route: explicit H = I - 11^T/n, HSIC = tr(K H L H)."""
    n = X.shape[0]
    H = torch.eye(n, dtype=X.dtype) - 1.0 / n
    K, L = X @ X.T, Y @ Y.T

    def hsic(A, B):
        return torch.trace(A @ H @ B @ H)

    return float(hsic(K, L) / torch.sqrt(hsic(K, K) * hsic(L, L)))


def gram_cka(X: torch.Tensor, Y: torch.Tensor) -> float:
    """One Gram-form linear CKA call (centred features, two n×n Grams): the per-pair baseline."""
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    K, L = Xc @ Xc.T, Yc @ Yc.T
    return float((K * L).sum() / torch.sqrt((K * K).sum() * (L * L).sum()))


def bench_linear_cka(n: int, dx: int, dy: int, n_naive: int, out: dict) -> None:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, dx, generator=g)
    Y = X[:, :dy] @ torch.randn(dy, dy, generator=g) / dy**0.5 + torch.randn(n, dy, generator=g)
    floor = best_of(lambda: (X.T @ Y, X.T @ X, Y.T @ Y))
    ours = best_of(lambda: linear_cka(X, Y))
    out["linear_cka"] = {"n": n, "dx": dx, "dy": dy, "dtype": "float32", "seconds": ours, "floor_seconds": floor,
                         "ratio_to_floor": ours / floor}
    print(f"linear_cka n={n} d={dx}x{dy} float32: {ours:.3f}s; floor (XtY, XtX, YtY) {floor:.3f}s; "
          f"ratio {ours / floor:.2f}x (target <= 1.3x)")
    Xs, Ys = X[:n_naive].contiguous(), Y[:n_naive].contiguous()
    t_naive = best_of(lambda: naive_hkh_cka(Xs, Ys), repeat=1)
    t_ours = best_of(lambda: linear_cka(Xs, Ys))
    v_naive, v_ours = naive_hkh_cka(Xs.double(), Ys.double()), linear_cka(Xs.double(), Ys.double())
    out["linear_cka_vs_naive"] = {"n": n_naive, "naive_seconds": t_naive, "seconds": t_ours,
                                  "speedup": t_naive / t_ours, "abs_diff_float64": abs(v_naive - v_ours)}
    print(f"linear_cka n={n_naive}: naive H K H {t_naive:.2f}s vs {t_ours:.4f}s: {t_naive / t_ours:.0f}x faster "
          f"(target >= 50x); float64 values differ by {abs(v_naive - v_ours):.1e}")
    if n >= 20000:  # Gram form in float32 at large n vs the feature form (the drift noted in the brief)
        v64 = linear_cka(X.double(), Y.double())
        out["linear_cka_float32_vs_float64_abs_diff"] = abs(linear_cka(X, Y) - v64)
        print(f"linear_cka float32 vs float64 at n={n}: |diff| = {out['linear_cka_float32_vs_float64_abs_diff']:.1e}")


def bench_layer_similarity(n: int, d: int, n_layers: int, out: dict) -> None:
    g = torch.Generator().manual_seed(1)
    base = torch.randn(n, d, generator=g)
    A = [base + 0.5 * i * torch.randn(n, d, generator=g) for i in range(n_layers)]
    B = [base @ torch.randn(d, d, generator=g) / d**0.5 + i * torch.randn(n, d, generator=g) for i in range(n_layers)]
    ours = best_of(lambda: layer_similarity(A, B), repeat=2)
    naive = best_of(lambda: [[gram_cka(a, b) for b in B] for a in A], repeat=1)
    M = layer_similarity(A, B)
    ref = np.array([[gram_cka(a.double(), b.double()) for b in B[:2]] for a in A[:2]])
    diff = float(np.abs(M[:2, :2] - ref).max())
    out["layer_similarity"] = {"n": n, "d": d, "layers": n_layers, "seconds": ours, "naive_seconds": naive,
                               "speedup": naive / ours, "max_abs_diff_2x2_vs_float64": diff}
    print(f"layer_similarity {n_layers}x{n_layers} n={n} d={d}: {ours:.2f}s vs {n_layers**2} Gram-form calls "
          f"{naive:.2f}s: {naive / ours:.1f}x faster (target >= 5x)")


def _vm_hwm_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1])
    return -1


def _knn_child(n: int, d: int, k: int, q) -> None:
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    g = torch.Generator().manual_seed(2)
    X = torch.randn(n, d, generator=g)
    Y = X + torch.randn(n, d, generator=g)
    X, Y = X / X.norm(dim=1, keepdim=True), Y / Y.norm(dim=1, keepdim=True)
    chunk = max(1, (1 << 26) // (n * 4))

    def floor():  # the two n×n similarity products, in the same row chunks, nothing else
        for Z in (X, Y):
            for s in range(0, n, chunk):
                Z[s:s + chunk] @ Z.T

    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out

    before = _vm_hwm_kib()
    ours, v = timed(lambda: mutual_knn(X, Y, k=k))
    peak = _vm_hwm_kib()
    # floor, ours, floor: the best of each, so that a change of machine load between them does not decide the ratio
    t_floor = min(timed(floor)[0], timed(floor)[0] if n <= 20000 else float("inf"))
    ours = min(ours, timed(lambda: mutual_knn(X, Y, k=k))[0])
    t_floor = min(t_floor, timed(floor)[0])
    q.put({"n": n, "d": d, "k": k, "value": v, "seconds": ours, "floor_seconds": t_floor,
           "ratio_to_floor": ours / t_floor, "peak_extra_MiB": (peak - before) / 1024,
           "half_nxn_float32_MiB": n * n * 4 / 2 / 2**20})


def bench_mutual_knn(n: int, d: int, k: int, out: dict) -> None:
    ctx = mp.get_context("spawn")  # a fresh process, so its peak RSS measures only this run
    q = ctx.Queue()
    p = ctx.Process(target=_knn_child, args=(n, d, k, q))
    p.start()
    r = q.get()
    p.join()
    out["mutual_knn"] = r
    print(f"mutual_knn n={n} d={d} k={k}: {r['seconds']:.1f}s; floor (two n×n products) {r['floor_seconds']:.1f}s; "
          f"ratio {r['ratio_to_floor']:.2f}x (target <= 2x); peak extra memory {r['peak_extra_MiB']:.0f} MiB "
          f"vs half an n×n float32 matrix {r['half_nxn_float32_MiB']:.0f} MiB")


def bench_cuda(out: dict) -> None:
    if not torch.cuda.is_available():
        out["cuda"] = "not available"
        print("cuda: not available on this machine; device checks skipped")
        return
    dev = torch.device("cuda")
    X = torch.randn(20000, 768, device=dev)
    Y = torch.randn(20000, 512, device=dev)
    torch.cuda.synchronize()

    def sync(fn):
        def run():
            fn()
            torch.cuda.synchronize()
        return run

    floor = best_of(sync(lambda: (X.T @ Y, X.T @ X, Y.T @ Y)))
    ours = best_of(sync(lambda: linear_cka(X, Y)))
    out["cuda_linear_cka"] = {"seconds": ours, "floor_seconds": floor, "ratio_to_floor": ours / floor}
    print(f"cuda linear_cka n=20000: {ours * 1e3:.1f} ms, floor {floor * 1e3:.1f} ms, ratio {ours / floor:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--skip-knn", action="store_true")
    args = ap.parse_args()
    out = {"unireps": unireps.__version__, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.machine(), "processor": platform.processor()}
    if args.quick:
        bench_linear_cka(4000, 256, 128, 1000, out)
        bench_layer_similarity(500, 128, 4, out)
        if not args.skip_knn:
            bench_mutual_knn(5000, 64, 10, out)
    else:
        bench_linear_cka(20000, 768, 512, 5000, out)
        bench_layer_similarity(2000, 768, 12, out)
        if not args.skip_knn:
            bench_mutual_knn(50000, 512, 10, out)
    bench_cuda(out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
