"""Out-of-core measures at n = 1,000,000, d = 512 (``--quick``: n = 100,000) on synthetic float32 shards.

Writes two representations as shards to a temporary directory (X: .npy shards, Y: .safetensors shards;
2 × n × d × 4 bytes, 4.1 GB at 1M), then runs each measure in a fresh subprocess and reports its time and
peak resident memory (VmHWM of that subprocess minus the VmHWM of a baseline subprocess that imports the same
modules and opens the same sources), against the floor: the products X^T X, X^T Y, Y^T Y streamed over the
same shards in the same batches (float64, as the accumulators; a float32 floor is printed too).  Then
approximate mutual k-NN with faiss (IVF-Flat, nlist ~ 4 sqrt(n), nprobe 8) with its recall, on the first
``--knn-n`` rows (default 200,000: the full 1M takes ~20 min per side on 2 shared cores).
The shards are deleted at the end (``--keep`` keeps them).

    python benchmarks/bench_ooc.py            # n = 1,000,000
    python benchmarks/bench_ooc.py --quick    # n = 100,000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LATENT = 32
CLUSTERS = 1000
MEASURES = ("floor", "floor_f32", "linear_cka", "linear_cka_debiased", "cca_stats", "predictability")


# ---------------------------------------------------------------------------------------- data


def write_shards(root: Path, n: int, d: int, shard_rows: int, seed: int = 0) -> tuple[Path, Path]:
    """Two views of a clustered 32-d latent, as embeddings tend to be: Z = c_label + 0.5 e (1000 centres
    c ~ N(0, I)), X = Z A + 0.3 noise + offset (.npy shards), Y = tanh(Z) B + 0.3 noise (.safetensors shards).
    (With an isotropic latent, nearest neighbours in 512-d are barely closer than random rows and an IVF index
    needs to probe most lists: approximate search is then no faster than exact.)"""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((LATENT, d), dtype=np.float32) / np.sqrt(LATENT)
    B = rng.standard_normal((LATENT, d), dtype=np.float32) / np.sqrt(LATENT)
    centres = rng.standard_normal((CLUSTERS, LATENT), dtype=np.float32)
    offset = rng.standard_normal(d, dtype=np.float32)
    xdir, ydir = root / "x", root / "y"
    xdir.mkdir(parents=True), ydir.mkdir(parents=True)
    for i, s in enumerate(range(0, n, shard_rows)):
        m = min(shard_rows, n - s)
        r = np.random.default_rng([seed, i])
        Z = centres[r.integers(0, CLUSTERS, m)] + 0.5 * r.standard_normal((m, LATENT), dtype=np.float32)
        X = Z @ A + 0.3 * r.standard_normal((m, d), dtype=np.float32) + offset
        np.save(xdir / f"part-{i}.npy", X)
        del X
        Y = np.tanh(Z) @ B + 0.3 * r.standard_normal((m, d), dtype=np.float32)
        save_file({"features": Y}, str(ydir / f"part-{i}.safetensors"))
        del Y, Z
    return xdir, ydir


# -------------------------------------------------------------------------------------- worker


def _vm(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return -1


def worker(measure: str, xdir: str, ydir: str, batch_size: int | None, extra: dict) -> dict:
    import torch

    from unireps.metrics import ooc

    sx, sy = ooc.paired_sources(xdir, ydir)
    t0 = time.perf_counter()
    out: dict = {}
    if measure == "baseline":
        sx.read(0, 1), sy.read(0, 1)
    elif measure in ("floor", "floor_f32"):
        dt = torch.float64 if measure == "floor" else torch.float32
        xx = yy = xy = None
        for xb, yb in ooc.iter_pairs(sx, sy, batch_size, dtype=dt):
            a, b, c = xb.T @ xb, yb.T @ yb, xb.T @ yb
            xx, yy, xy = (a, b, c) if xx is None else (xx + a, yy + b, xy + c)
        out["value"] = float(xy.double().norm())
    elif measure == "linear_cka":
        out["value"] = ooc.streaming_linear_cka(sx, sy, batch_size=batch_size)
    elif measure == "linear_cka_debiased":
        out["value"] = ooc.streaming_linear_cka(sx, sy, debiased=True, batch_size=batch_size)
    elif measure == "cca_stats":
        acc = ooc.streaming_cca(sx, sy, batch_size=batch_size)
        t1 = time.perf_counter()
        out["value"] = {"cca": acc.cca(), "svcca": acc.svcca(0.99), "pwcca": acc.pwcca(),
                        "procrustes": acc.procrustes()}
        out["solve_s"] = time.perf_counter() - t1
    elif measure == "predictability":
        out["value"] = ooc.streaming_predictability(sx, sy, cv=5, batch_size=batch_size)
    elif measure == "mutual_knn":
        n = min(int(extra.get("knn_n") or sx.n_rows), sx.n_rows)
        if n < sx.n_rows:
            sx, sy = sx.slice(0, n), sy.slice(0, n)
        r = ooc.mutual_knn_ooc(sx, sy, k=int(extra.get("k", 10)), approximate=True, index=extra.get("index", "ivf"),
                               recall_sample=int(extra.get("recall_sample", 500)), batch_size=batch_size)
        out["value"] = r.value
        out["recall_x"], out["recall_y"], out["n"] = r.recall_x, r.recall_y, n
    else:
        raise SystemExit(f"unknown measure {measure}")
    out["seconds"] = time.perf_counter() - t0
    out["vmhwm_kb"] = _vm("VmHWM")
    return out


def run_worker(measure: str, xdir: Path, ydir: Path, batch_size: int | None, extra: dict) -> dict:
    cmd = [sys.executable, __file__, "--worker", measure, "--xdir", str(xdir), "--ydir", str(ydir),
           "--extra", json.dumps(extra)]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{measure} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="n = 100,000")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--d", type=int, default=512)
    p.add_argument("--shard-rows", type=int, default=None, help="rows per shard (default: n // 10, at most 100,000)")
    p.add_argument("--batch-size", type=int, default=None, help="rows per batch (default: ~64 MiB of float64)")
    p.add_argument("--knn-n", type=int, default=200_000,
                   help="rows for the approximate mutual k-NN (default 200,000; 0 = all)")
    p.add_argument("--knn-index", default="ivf")
    p.add_argument("--recall-sample", type=int, default=500)
    p.add_argument("--skip", default="", help="comma-separated measures to skip (e.g. mutual_knn)")
    p.add_argument("--tmp", default=None, help="where to write the shards (default: $TMPDIR or /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the shards")
    p.add_argument("--json", default=None, help="also write the results to this file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--xdir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--ydir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--extra", default="{}", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.worker, a.xdir, a.ydir, a.batch_size, json.loads(a.extra))))
        return 0

    n = a.n or (100_000 if a.quick else 1_000_000)
    d = a.d
    a.shard_rows = a.shard_rows or max(1, min(100_000, n // 10))
    need = 2 * n * d * 4
    base = Path(a.tmp or tempfile.gettempdir())
    free = shutil.disk_usage(base).free
    if free < need * 1.1:
        print(f"not enough room in {base}: need {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="unireps-bench-ooc-", dir=base))
    results: dict = {"n": n, "d": d, "shard_rows": a.shard_rows, "measures": {}}
    try:
        t0 = time.perf_counter()
        xdir, ydir = write_shards(root, n, d, a.shard_rows)
        results["write_s"] = time.perf_counter() - t0
        print(f"n={n:,} d={d}: wrote {need / 1e9:.2f} GB of float32 shards in {results['write_s']:.1f} s "
              f"({len(list(xdir.iterdir()))} + {len(list(ydir.iterdir()))} shards; X .npy, Y .safetensors) "
              f"to {root}", flush=True)
        results["loadavg_start"] = os.getloadavg()
        print(f"load average at start: {results['loadavg_start']} on {os.cpu_count()} CPUs", flush=True)
        skip = set(filter(None, a.skip.split(",")))
        base_res = run_worker("baseline", xdir, ydir, a.batch_size, {})
        base_kb = base_res["vmhwm_kb"]
        results["baseline_vmhwm_mib"] = base_kb / 1024
        print(f"baseline subprocess (imports + open sources): VmHWM {base_kb / 1024:.0f} MiB", flush=True)
        measures = [m for m in MEASURES if m not in skip]
        if "mutual_knn" not in skip:
            measures.append("mutual_knn")
        extra = {"knn_n": a.knn_n, "index": a.knn_index, "recall_sample": a.recall_sample}
        for m in measures:
            r = run_worker(m, xdir, ydir, a.batch_size, extra if m == "mutual_knn" else {})
            r["peak_mib"] = (r["vmhwm_kb"] - base_kb) / 1024
            results["measures"][m] = r
            print(f"  {m:20s} {r['seconds']:8.1f} s   peak +{r['peak_mib']:7.0f} MiB   value {r['value']}",
                  {k: v for k, v in r.items() if k in ("recall_x", "recall_y", "n", "solve_s")} or "", flush=True)
        floor = results["measures"].get("floor", {}).get("seconds")
        print(f"\nn={n:,}, d={d}; floor = X^T X, X^T Y, Y^T Y streamed in float64 ({floor and f'{floor:.1f} s'})")
        print(f"{'measure':22s}{'time (s)':>10s}{'x floor':>9s}{'peak RSS (MiB)':>16s}")
        for m, r in results["measures"].items():
            ratio = r["seconds"] / floor if floor else float("nan")
            r["ratio_to_floor"] = ratio
            print(f"{m:22s}{r['seconds']:10.1f}{ratio:9.2f}{r['peak_mib']:16.0f}")
        results["loadavg_end"] = os.getloadavg()
        print(f"load average at end: {results['loadavg_end']}")
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=1))
    finally:
        if a.keep:
            print(f"kept the shards in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    sys.exit(main())
