"""Bounded loopback load test of the app: N concurrent clients, each doing K explorer comparisons.

    .venv/bin/python benchmarks/bench_app_load.py [--clients 20] [--requests 5] [--src SRC ...] [--client http]
                                                  [--out FILE]

For each ``--src`` (a ``src`` directory; default: this checkout's), the app is started in its own process
(``unireps.app.launch`` on 127.0.0.1, one torch thread per computation, the app's default queue settings) with
the zoo of ``$UNIREPS_CACHE`` (default ``~/.cache/unireps``) and a fresh analytics file.  The benchmark waits for
the start-up warm-up to finish (``/healthz``: every task done), then:

1. one client alone: K comparisons in a row;
2. ``--clients`` clients at once (one thread each), each doing K comparisons in a row.

A comparison is ``/explorer_compare`` on the ``shapes`` reference set (120 images) with 2 or 3 zoo image models
drawn at random (seeded per client) and the page's two default measures (linear CKA and mutual k-NN, 95% bootstrap
CIs): what a visitor of the explorer does.  The client (``--client``) is by default what a browser sends: one POST
to the page's queue and one event stream per comparison, one session per client; ``gradio_client`` runs the Python
client instead (it costs the shared cores about 0.09 s of CPU per comparison, more than the server).

Reported per phase: median and p95 latency, comparisons per second, and the CPU time per comparison of the server
process and of the load generator (user + system, load-independent, unlike the latencies), with the host's load
average (``uptime``) before and after, since the machine may be shared.  Every request must answer; a request
taking longer than ``--timeout`` fails the run (bounded).  Passing two ``--src`` runs both on the same host one
after the other (e.g. main before a change and the branch after it); the last lines summarise each run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
MEASURES = ["linear_cka", "mutual_knn"]

SERVER = """
import sys
from unireps.app import launch
launch(host="127.0.0.1", port=int(sys.argv[1]), analytics_db=sys.argv[2], cache_dir=sys.argv[3] or None,
       precompute=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def zoo_image_models(src: Path) -> list[str]:
    code = ("from unireps.app.engine import AppConfig, Engine; import json; "
            "print(json.dumps(Engine(AppConfig(toy_models=False)).names('image', twins=False, kinds=('zoo',))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(src)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> float:
    import httpx

    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError("the app process exited during start-up")
        try:
            tasks = httpx.get(url + "/healthz", timeout=5).json()["tasks"]
            if tasks and all(v in ("done", "error") for v in tasks.values()):
                return time.time() - t0
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(1.0)
    raise TimeoutError(f"the app's warm-up did not finish within {timeout:.0f} s")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def fn_index(url: str, api_name: str) -> int:
    """The event id the page's config gives ``api_name`` (what a browser sends to the queue)."""
    import httpx

    deps = httpx.get(url + "/unireps-multimodal/config", timeout=30).json()["dependencies"]
    return next(d["id"] for d in deps if d.get("api_name") == api_name)


def http_client_run(url: str, models: list[str], k: int, seed: int, timeout: float, fn: int) -> list[float]:
    """What a browser does for one comparison: POST the inputs to the page's queue (``queue/join``), then read the
    event stream (``queue/data``) until the event completes; one keep-alive connection and one session per client
    (as one open page: the server builds a session's state at its first event)."""
    import httpx

    rng = random.Random(seed)
    base = url + "/unireps-multimodal/gradio_api/queue"
    session = f"bench{seed}x{rng.getrandbits(48):x}"
    times = []
    with httpx.Client(timeout=timeout) as http:
        for _ in range(k):
            chosen = rng.sample(models, rng.choice([2, 3]))
            t0 = time.perf_counter()
            r = http.post(base + "/join", json={"data": [chosen, "shapes", MEASURES, "image", False, False, None],
                                                "event_data": None, "fn_index": fn, "trigger_id": None,
                                                "session_hash": session})
            r.raise_for_status()
            event = r.json()["event_id"]
            out = None
            with http.stream("GET", base + "/data", params={"session_hash": session}) as stream:
                for line in stream.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    msg = json.loads(line[5:])
                    if msg.get("event_id") == event and msg.get("msg") == "process_completed":
                        out = msg
                        break
                    if time.perf_counter() - t0 > timeout:
                        break
            if out is None:  # bounded: counted as a failure at the timeout, the client moves on
                times.append(float("inf"))
                continue
            times.append(time.perf_counter() - t0)
            status = (out.get("output") or {}).get("data", [""])[0]
            if not out.get("success") or f"{len(chosen)} models on" not in str(status):
                raise RuntimeError(f"unexpected answer: {out!r}"[:500])
    return times


def client_run(url: str, models: list[str], k: int, seed: int, timeout: float) -> list[float]:
    from gradio_client import Client

    rng = random.Random(seed)
    c = Client(url + "/unireps-multimodal/", verbose=False, analytics_enabled=False, download_files=False,
               httpx_kwargs={"timeout": timeout})
    times = []
    try:
        for _ in range(k):
            chosen = rng.sample(models, rng.choice([2, 3]))
            t0 = time.perf_counter()
            job = c.submit(chosen, "shapes", MEASURES, "image", False, False, api_name="/explorer_compare")
            try:
                out = job.result(timeout=timeout)
            except TimeoutError:  # bounded: counted as a failure at the timeout, the client moves on
                job.cancel()
                times.append(float("inf"))
                continue
            times.append(time.perf_counter() - t0)
            if f"{len(chosen)} models on" not in out[0]:
                raise RuntimeError(f"unexpected answer: {out[0]!r}")
    finally:
        c.close()
    return times


def summary(times: list[float], wall: float) -> dict:
    """Median and p95 over every request; a timed-out request counts as infinitely slow (so a run with more than
    5% time-outs reports p95 = inf)."""
    q = sorted(times)
    return {"n": len(q), "timed_out": sum(1 for t in q if t == float("inf")),
            "median_s": round(statistics.median(q), 3),
            "p95_s": round(q[min(len(q) - 1, int(round(0.95 * (len(q) - 1))))], 3), "max_s": round(q[-1], 3),
            "wall_s": round(wall, 2), "requests_per_s": round(len(q) / wall, 2)}


def run_one(src: Path, clients: int, k: int, timeout: float, warmup_timeout: float, cache_dir: str,
            client: str = "http") -> dict:
    models = zoo_image_models(src)
    if len(models) < 3:
        raise SystemExit(f"need at least 3 zoo image models (found {models}); build the zoo: `unireps zoo build`")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    tmp = tempfile.mkdtemp(prefix="unireps-bench-app-")
    log = open(Path(tmp) / "server.log", "w")
    env = {**os.environ, "PYTHONPATH": str(src), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(Path(tmp) / "a.sqlite"), cache_dir],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        res = {"src": str(src), "client": client, "zoo_image_models": len(models), "uptime_start": uptime()}
        res["warmup_s"] = round(wait_ready(url, proc, warmup_timeout), 1)
        if client == "http":
            fn = fn_index(url, "explorer_compare")
            run = lambda *a: http_client_run(*a, fn=fn)  # noqa: E731
        else:
            run = client_run
        res["uptime_before"] = uptime()
        for phase, n_clients in (("one_client", 1), (f"{clients}_clients", clients)):
            s0, c0, t0 = process_cpu_s(proc.pid), own_cpu_s(), time.perf_counter()
            with ThreadPoolExecutor(max_workers=n_clients) as pool:
                seeds = [10_000] if n_clients == 1 else range(n_clients)
                futures = [pool.submit(run, url, models, k, i, timeout) for i in seeds]
                times = [t for f in futures for t in f.result()]  # each request is bounded by --timeout
            res[phase] = summary(times, time.perf_counter() - t0)
            res[phase]["server_cpu_s_per_comparison"] = round((process_cpu_s(proc.pid) - s0) / len(times), 4)
            res[phase]["client_cpu_s_per_comparison"] = round((own_cpu_s() - c0) / len(times), 4)
            if n_clients == 1:
                print(json.dumps(res, indent=1), flush=True)
        res["uptime_after"] = uptime()
        return res
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=5, help="comparisons per client")
    ap.add_argument("--src", action="append", help="src directory to serve (repeatable; default: this checkout)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per request")
    ap.add_argument("--warmup-timeout", type=float, default=1500.0)
    ap.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "unireps-bench-app-cache"),
                    help="the app's activation/result cache (shared by the runs, so both start from the same "
                         "embeddings on disk)")
    ap.add_argument("--client", choices=("http", "gradio_client"), default="http",
                    help="http: what a browser sends (one POST to the queue, one event stream; light, so the load "
                         "generator takes little of the cores it shares with the server); gradio_client: the Python "
                         "client (about 0.09 s of CPU per comparison on this 2-core VM, measured)")
    ap.add_argument("--out", help="write the results as JSON here too")
    args = ap.parse_args()
    srcs = [Path(s).resolve() for s in (args.src or [str(ROOT / "src")])]
    results = []
    for src in srcs:
        r = run_one(src, args.clients, args.requests, args.timeout, args.warmup_timeout, args.cache_dir, args.client)
        print(json.dumps(r, indent=1), flush=True)
        results.append(r)
    key = f"{args.clients}_clients"
    for r in results:
        x = r[key]
        print(f"{r['src']}: {args.clients} clients x {args.requests} comparisons ({args.client} client): median "
              f"{x['median_s']} s, p95 {x['p95_s']} s, {x['requests_per_s']} comparisons/s; CPU per comparison: "
              f"server {x['server_cpu_s_per_comparison']} s, load generator {x['client_cpu_s_per_comparison']} s; "
              f"load average before: {r['uptime_before'].split('load average:')[-1].strip()}, after: "
              f"{r['uptime_after'].split('load average:')[-1].strip()} (on {os.cpu_count()} cores)")
    if len(results) == 2:
        a, b = results[0][key], results[1][key]
        print(f"median {a['median_s']} s -> {b['median_s']} s ({a['median_s'] / b['median_s']:.1f}x); "
              f"p95 {a['p95_s']} s -> {b['p95_s']} s ({a['p95_s'] / b['p95_s']:.1f}x); server CPU per comparison "
              f"{a['server_cpu_s_per_comparison']} s -> {b['server_cpu_s_per_comparison']} s")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
