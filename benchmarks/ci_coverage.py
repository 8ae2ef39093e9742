"""Coverage of the 95% intervals over stimuli: the percentile bootstrap against the jackknife, by Monte Carlo.

Each setting draws ``--draws`` independent stimulus sets: X = Z A + s E_x and Y = Z B + s E_y with Z (n, 5) shared
latent directions, A, B (5, d) fixed per setting, E standard normal noise and s = ``--noise``.  The target is the
mean of the estimator over the draws (the value the interval is meant to cover at this n: the estimator's
small-sample bias is not the interval's business).  For each draw, ``bootstrap_ci`` (``--n-boot`` resamples,
seed = the draw's index) and ``jackknife_ci`` (defaults) are computed; the script prints, per setting, the share of
draws whose interval covers the target, the mean width, and the mean share of bootstrap resamples at or below the
draw's own value (0.5 when they spread around it).  ``ci="auto"`` in ``unireps.analysis.compare_models`` follows
from these numbers (``unireps.analysis.ci_method_for``).

    python benchmarks/ci_coverage.py linear_cka --n 100 --ratios 0.05,0.1,0.25,0.5,1,2
    python benchmarks/ci_coverage.py linear_cka --n 300 --draws 60 --noise 1 --ratios 0.05,0.2,1
    python benchmarks/ci_coverage.py mutual_knn --n 100 --draws 60 --ratios 0.1,0.5,2
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def draws_for(n: int, d: int, noise: float, count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(5, d)), rng.normal(size=(5, d))
    out = []
    for _ in range(count):
        Z = rng.normal(size=(n, 5))
        out.append((Z @ A + noise * rng.normal(size=(n, d)), Z @ B + noise * rng.normal(size=(n, d))))
    return out


def coverage(metric: str, n: int, ratio: float, noise: float, count: int, n_boot: int, seed: int) -> str:
    import unireps.metrics as M

    kw = {"k": 10} if metric in ("mutual_knn", "jaccard_knn") else {}
    fn = M.get_metric(metric).fn
    d = max(2, int(round(ratio * n)))
    data = draws_for(n, d, noise, count, seed)
    values = np.array([fn(X, Y, **kw) for X, Y in data])
    target = values.mean()
    t0 = time.perf_counter()
    boot_cover, jack_cover, boot_width, jack_width, below = 0, 0, [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the shift warning fires on most low-signal draws: counted here instead
        for i, (X, Y) in enumerate(data):
            b = M.bootstrap_ci(X, Y, metric, n_boot=n_boot, seed=i, **kw)
            j = M.jackknife_ci(X, Y, metric, **kw)
            boot_cover += b.low <= target <= b.high
            jack_cover += j.low <= target <= j.high
            boot_width.append(b.high - b.low)
            jack_width.append(j.high - j.low)
            below.append(np.mean(b.samples <= b.value))
    return (f"| {metric} | {n} | {d} | {ratio:g} | {noise:g} | {target:.4f} | {values.std(ddof=1):.4f} | "
            f"{boot_cover / count:.2f} | {np.mean(boot_width):.4f} | {np.mean(below):.2f} | {jack_cover / count:.2f} | "
            f"{np.mean(jack_width):.4f} | {time.perf_counter() - t0:.0f} s |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("metric", choices=("linear_cka", "mutual_knn"))
    ap.add_argument("--n", type=int, default=100, help="stimuli per draw")
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--ratios", default="0.05,0.1,0.25,0.5,1,2", help="features per stimulus, d / n")
    ap.add_argument("--noise", type=float, default=3.0, help="sd of the noise added to the 5 shared directions")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    print("| measure | n | d | d/n | noise sd | target (mean of the estimator) | sd over draws | bootstrap: "
          "coverage | width | resamples <= value | jackknife: coverage | width | time |")
    print("|" + "---|" * 13)
    for ratio in (float(r) for r in args.ratios.split(",")):
        print(coverage(args.metric, args.n, ratio, args.noise, args.draws, args.n_boot, args.seed), flush=True)


if __name__ == "__main__":
    main()
