"""The speed table of issue 21: each workload against its physical floor and its peer, each configuration in a
fresh process, floor and peer timed interleaved with ours in the same process (floor / ours / peer / floor ...,
best of each), load average recorded with every row.

    python benchmarks/bench_speed.py                 # every row at the issue's sizes (minutes on 2 cores)
    python benchmarks/bench_speed.py --quick         # small sizes, a smoke run
    python benchmarks/bench_speed.py --only cka knn  # some rows
    python benchmarks/bench_speed.py --json out.json

Data as in the issue: X 768-d, Y 512-d, float32, a shared 64-d latent plus noise.  Peak memory is the child
process's peak RSS (``VmHWM``) minus its RSS once the inputs exist, so it counts what the measure adds.
Floors: the products a measure cannot avoid, computed the fastest way this machine offers (the better of
torch's and numpy's BLAS), plus, for RSA, sorting the condensed RDMs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def rss_kib(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return -1


def latent_pair(n: int, dx: int = 768, dy: int = 512, r: int = 64, seed: int = 0):
    g = np.random.default_rng(seed)
    Z = g.standard_normal((n, r), dtype=np.float32)
    X = Z @ g.standard_normal((r, dx), dtype=np.float32) + g.standard_normal((n, dx), dtype=np.float32)
    Y = np.tanh(Z) @ g.standard_normal((r, dy), dtype=np.float32) + g.standard_normal((n, dy), dtype=np.float32)
    return np.ascontiguousarray(X), np.ascontiguousarray(Y)


def interleaved(fns: dict, repeat: int) -> dict:
    """Best wall time of each function, calls interleaved round-robin so that load changes hit all alike."""
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


# ------------------------------------------------------------------------------------------------ CKA


def kornblith_numpy_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Kornblith et al. (ICML 2019), feature-space linear CKA written from the paper in plain numpy:
    ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) on column-centred copies."""
    Xc = X - X.mean(axis=0, keepdims=True)
    Yc = Y - Y.mean(axis=0, keepdims=True)
    return float(np.linalg.norm(Xc.T @ Yc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc)))


def child_cka(n: int, repeat: int) -> dict:
    import torch

    from unireps.metrics import linear_cka

    X, Y = latent_pair(n)
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    fns = {
        "floor_torch": lambda: (tX.T @ tY, tX.T @ tX, tY.T @ tY),
        "ours": lambda: linear_cka(X, Y),
        "peer": lambda: kornblith_numpy_cka(X, Y),
        "floor_numpy": lambda: (X.T @ Y, X.T @ X, Y.T @ Y),
    }
    t = interleaved(fns, repeat)
    v64 = linear_cka(X.astype(np.float64), Y.astype(np.float64))
    return {"row": "linear CKA", "n": n, "ours_s": t["ours"], "peer_s": t["peer"],
            "floor_s": min(t["floor_torch"], t["floor_numpy"]), "floor_torch_s": t["floor_torch"],
            "floor_numpy_s": t["floor_numpy"], "peer": "Kornblith numpy feature-space form",
            "value": linear_cka(X, Y), "peer_value": kornblith_numpy_cka(X, Y), "float64_value": v64}


# ------------------------------------------------------------------------------------------ mutual k-NN


def child_knn(n: int, repeat: int) -> dict:
    import torch

    from unireps.metrics import mutual_knn

    X, Y = latent_pair(n)
    base = rss_kib()
    value = mutual_knn(X, Y, k=10)
    peak = rss_kib("VmHWM") - base
    tX = torch.from_numpy(X / np.linalg.norm(X, axis=1, keepdims=True))
    tY = torch.from_numpy(Y / np.linalg.norm(Y, axis=1, keepdims=True))
    nX, nY = tX.numpy(), tY.numpy()
    chunk = 2048

    def products(lib):  # the two n×n similarity products, in row chunks (never held), nothing else
        for Z in ((tX, tY) if lib == "torch" else (nX, nY)):
            for s in range(0, n, chunk):
                Z[s:s + chunk] @ Z.T

    t = interleaved({"floor_torch": lambda: products("torch"), "ours": lambda: mutual_knn(X, Y, k=10),
                     "floor_numpy": lambda: products("numpy")}, repeat)
    return {"row": "mutual k-NN k=10", "n": n, "ours_s": t["ours"], "floor_s": min(t["floor_torch"], t["floor_numpy"]),
            "floor_torch_s": t["floor_torch"], "floor_numpy_s": t["floor_numpy"], "value": value,
            "peak_extra_MiB": peak / 1024}


# ------------------------------------------------------------------------------------------------- RSA


def rsatoolbox_rsa(X: np.ndarray, Y: np.ndarray) -> float:
    """The peer: rsatoolbox's correlation RDMs compared by Spearman's rho."""
    import rsatoolbox

    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(Z.astype(np.float64)), method="correlation")
            for Z in (X, Y)]
    return float(rsatoolbox.rdm.compare(rdms[0], rdms[1], method="spearman")[0, 0])


def child_rsa(n: int, repeat: int) -> dict:
    import torch

    from unireps.metrics import rsa

    X, Y = latent_pair(n)
    base = rss_kib()
    t0 = time.perf_counter()
    value = rsa(X, Y)
    first = time.perf_counter() - t0
    peak_total, peak = rss_kib("VmHWM"), rss_kib("VmHWM") - base
    m = n * (n - 1) // 2
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)

    def floor():  # the two n×n products (row chunks, never held) and sorting two float32 vectors of m values
        for Z in (tX, tY):
            for s in range(0, n, 2048):
                Z[s:s + 2048] @ Z.T
        for seed in (1, 2):
            np.random.default_rng(seed).random(m, dtype=np.float32).sort()

    fns = {"floor": floor, "ours": lambda: rsa(X, Y)}
    if n <= 5000:
        fns["peer"] = lambda: rsatoolbox_rsa(X, Y)
    t = interleaved(fns, repeat if n <= 5000 else 1)
    t["ours"] = min(t["ours"], first)
    return {"row": "RSA corr RDM + Spearman", "n": n, "ours_s": t["ours"], "floor_s": t["floor"],
            "peer_s": t.get("peer"), "peer": "rsatoolbox calc_rdm + compare", "value": value,
            "peer_value": rsatoolbox_rsa(X, Y) if n <= 2000 else None,
            "peak_extra_MiB": peak / 1024, "peak_total_MiB": peak_total / 1024}


CHILDREN = {"cka": child_cka, "knn": child_knn, "rsa": child_rsa}


def run_child(name: str, n: int, repeat: int) -> dict:
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    before = load()
    out = subprocess.run([sys.executable, __file__, "--child", name, "--n", str(n), "--repeat", str(repeat)],
                         env=env, capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["load_before"], r["load_after"] = before, load()
    return r


def show(r: dict) -> None:
    parts = [f"{r['row']:28s} n={r['n']:>6d}  ours {r['ours_s']:.3f}s  floor {r['floor_s']:.3f}s  "
             f"= {r['ours_s'] / r['floor_s']:.2f}x floor"]
    if "peer_s" in r and r["peer_s"] is not None:
        parts.append(f"peer {r['peer_s']:.3f}s = {r['peer_s'] / r['ours_s']:.2f}x ours")
    if "peak_extra_MiB" in r:
        parts.append(f"peak +{r['peak_extra_MiB']:.0f} MiB")
    if "peak_total_MiB" in r:
        parts.append(f"(process peak {r['peak_total_MiB']:.0f} MiB)")
    parts.append(f"load {r['load_before']} -> {r['load_after']}")
    print("  ".join(parts), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds per configuration (best of)")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--only", nargs="*", choices=sorted(CHILDREN), help="rows to run")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.n, args.repeat)))
        return
    sizes = {"cka": [20000], "knn": [20000], "rsa": [5000, 20000]}
    if args.quick:
        sizes = {"cka": [2000], "knn": [2000], "rsa": [1000]}
    results = []
    for name in args.only or list(CHILDREN):
        for n in sizes[name]:
            r = run_child(name, n, args.repeat)
            show(r)
            results.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
