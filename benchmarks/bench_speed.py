"""The speed table of issue 21: each workload against its physical floor and its peer, each configuration in a
fresh process, floor and peer timed interleaved with ours in the same process (floor / ours / peer / floor ...,
median of each, wall and process CPU time), load average recorded with every row.  The machine is shared, so the
CPU-time ratios are the ones to read under load.  rsatoolbox at n = 20,000 runs in a process of its own with a
time limit and an address-space cap (its dense route needs many GB); past either it is reported as not finished.

    python benchmarks/bench_speed.py                 # every row at the issue's sizes (minutes on 2 cores)
    python benchmarks/bench_speed.py --quick         # small sizes, a smoke run
    python benchmarks/bench_speed.py --only cka knn  # some rows
    python benchmarks/bench_speed.py --json out.json
    python benchmarks/bench_speed.py --only rsa --rsa-sizes 20000

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


def interleaved(fns: dict, repeat: int, earlier: dict | None = None) -> dict:
    """Median wall time of each function (and its median process CPU time under key + '_cpu'), calls interleaved
    round-robin so that load changes hit all alike; ``earlier``: {key: (wall, cpu)} of runs already made."""
    wall: dict = {k: [] for k in fns}
    cpu: dict = {k: [] for k in fns}
    for k, (w, c) in (earlier or {}).items():
        wall[k].append(w)
        cpu[k].append(c)
    for _ in range(repeat):
        for k, f in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    out = {k: float(np.median(v)) for k, v in wall.items()}
    out.update({f"{k}_cpu": float(np.median(v)) for k, v in cpu.items()})
    return out


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
            "floor_s": min(t["floor_torch"], t["floor_numpy"]), "ours_cpu_s": t["ours_cpu"],
            "floor_cpu_s": min(t["floor_torch_cpu"], t["floor_numpy_cpu"]), "peer_cpu_s": t["peer_cpu"],
            "floor_torch_s": t["floor_torch"],
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
            "ours_cpu_s": t["ours_cpu"], "floor_cpu_s": min(t["floor_torch_cpu"], t["floor_numpy_cpu"]),
            "floor_torch_s": t["floor_torch"], "floor_numpy_s": t["floor_numpy"], "value": value,
            "peak_extra_MiB": peak / 1024}


# ------------------------------------------------------------------------------------------------- RSA


def rsatoolbox_rsa(X: np.ndarray, Y: np.ndarray) -> float:
    """The peer: rsatoolbox's correlation RDMs compared by Spearman's rho."""
    import rsatoolbox

    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(Z.astype(np.float64)), method="correlation")
            for Z in (X, Y)]
    return float(rsatoolbox.rdm.compare(rdms[0], rdms[1], method="spearman")[0, 0])


PEER_LIMIT_S = 300  # rsatoolbox's time limit at n > 5000 (its own process)
PEER_LIMIT_GB = 10  # and its address-space cap (a 24 GB machine shared with other jobs)


def child_rsatoolbox(n: int, repeat: int) -> dict:
    """rsatoolbox alone in this process (address space capped by the parent): median of ``repeat`` runs."""
    X, Y = latent_pair(n)
    wall, cpu, value = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        value = rsatoolbox_rsa(X, Y)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"peer_s": float(np.median(wall)), "peer_cpu_s": float(np.median(cpu)), "peer_value": value,
            "peer_peak_MiB": rss_kib("VmHWM") / 1024}


def run_capped_peer(n: int, repeat: int) -> dict:
    """rsatoolbox in a fresh process with PEER_LIMIT_S seconds and PEER_LIMIT_GB of address space."""
    import resource

    def cap():
        lim = PEER_LIMIT_GB << 30
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    try:
        out = subprocess.run([sys.executable, __file__, "--child", "rsatoolbox", "--n", str(n), "--repeat",
                              str(repeat)], env=child_env(), capture_output=True, text=True,
                             timeout=PEER_LIMIT_S * repeat, preexec_fn=cap)
    except subprocess.TimeoutExpired:
        return {"peer_note": f"did not finish in {PEER_LIMIT_S * repeat} s"}
    if out.returncode != 0:
        why = "MemoryError" if "MemoryError" in out.stderr else out.stderr.strip().splitlines()[-1][:120]
        return {"peer_note": f"did not finish within {PEER_LIMIT_GB} GB of address space ({why})"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_rsa(n: int, repeat: int) -> dict:
    import torch

    from unireps.metrics import rsa

    X, Y = latent_pair(n)
    base = rss_kib()
    t0, c0 = time.perf_counter(), time.process_time()
    value = rsa(X, Y)
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
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
    in_process_peer = n <= 5000
    if in_process_peer:
        fns["peer"] = lambda: rsatoolbox_rsa(X, Y)
    if in_process_peer:
        t = interleaved(fns, repeat)
    else:  # the first call (memory measured) counts as one of the runs of ours, a floor run follows it
        t0, c0 = time.perf_counter(), time.process_time()
        floor()
        earlier = {"ours": (first, first_cpu), "floor": (time.perf_counter() - t0, time.process_time() - c0)}
        t = interleaved(fns, repeat - 1, earlier=earlier)
    row = {"row": "RSA corr RDM + Spearman", "n": n, "ours_s": t["ours"], "floor_s": t["floor"],
           "ours_cpu_s": t["ours_cpu"], "floor_cpu_s": t["floor_cpu"], "peer": "rsatoolbox calc_rdm + compare",
           "value": value, "peak_extra_MiB": peak / 1024, "peak_total_MiB": peak_total / 1024}
    if in_process_peer:
        row.update(peer_s=t["peer"], peer_cpu_s=t["peer_cpu"], peer_value=rsatoolbox_rsa(X, Y) if n <= 2000 else None)
    return row


CHILDREN = {"cka": child_cka, "knn": child_knn, "rsa": child_rsa, "rsatoolbox": child_rsatoolbox}


def child_env() -> dict:
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_child(name: str, n: int, repeat: int) -> dict:
    before = load()
    out = subprocess.run([sys.executable, __file__, "--child", name, "--n", str(n), "--repeat", str(repeat)],
                         env=child_env(), capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if name == "rsa" and n > 5000:
        r.update(run_capped_peer(n, 1))
    r["load_before"], r["load_after"] = before, load()
    return r


def show(r: dict) -> None:
    parts = [f"{r['row']:28s} n={r['n']:>6d}  ours {r['ours_s']:.3f}s (cpu {r['ours_cpu_s']:.2f}s)  floor "
             f"{r['floor_s']:.3f}s (cpu {r['floor_cpu_s']:.2f}s) = {r['ours_s'] / r['floor_s']:.2f}x floor wall, "
             f"{r['ours_cpu_s'] / r['floor_cpu_s']:.2f}x cpu"]
    if r.get("peer_s") is not None:
        parts.append(f"peer {r['peer_s']:.3f}s (cpu {r['peer_cpu_s']:.2f}s) = {r['peer_s'] / r['ours_s']:.2f}x ours "
                     f"wall, {r['peer_cpu_s'] / r['ours_cpu_s']:.2f}x cpu")
    elif r.get("peer_note"):
        parts.append(f"peer {r['peer_note']}")
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
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds per configuration (median of)")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--only", nargs="*", choices=("cka", "knn", "rsa"), help="rows to run")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--rsa-sizes", nargs="*", type=int, help="RSA sizes instead of 5000 and 20000")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.n, args.repeat)))
        return
    sizes = {"cka": [20000], "knn": [20000], "rsa": [5000, 20000]}
    if args.quick:
        sizes = {"cka": [2000], "knn": [2000], "rsa": [1000]}
    if args.rsa_sizes:
        sizes["rsa"] = args.rsa_sizes
    results = []
    for name in args.only or list(sizes):  # every row (the rsatoolbox child is run by the RSA rows)
        for n in sizes[name]:
            r = run_child(name, n, args.repeat)
            show(r)
            results.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
