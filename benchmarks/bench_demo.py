"""Wall and CPU of a warm `unireps demo --no-serve`, per step, with the CPU of every process it starts.

The report's own ``timings.json`` gives each step's wall seconds and its process CPU; Ray's workers, the federated
child process and Chromium run in other processes, so this script also samples the CPU of the whole process tree
(psutil, every 0.25 s: each process's user + system time, summed over every process seen) and splits it at the
demo's progress lines ("analysis: convergence...", "screenshots of ...").  A phase's tree CPU therefore includes
whatever ran beside it (the federated child runs beside the in-process sections).

Run from the repository root (``--src`` picks the source tree, e.g. another worktree for a before/after pair)::

    python benchmarks/bench_demo.py --out /tmp/demo-after
    python benchmarks/bench_demo.py --src /tmp/main-before/src --out /tmp/demo-before
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

SAMPLE_S = 0.25


class TreeCPU:
    """CPU seconds of a process and all its descendants (the last sample of each process, summed)."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.seen: dict[int, float] = {}
        self.lock = threading.Lock()

    def sample(self) -> float:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            procs = []
        for p in procs:
            try:
                t = p.cpu_times()
                with self.lock:
                    self.seen[p.pid] = max(self.seen.get(p.pid, 0.0), t.user + t.system)
            except psutil.Error:
                pass
        return self.total()

    def total(self) -> float:
        with self.lock:
            return sum(self.seen.values())


def phase_of(line: str) -> str | None:
    line = line.strip()
    if line.startswith("analysis: "):
        return line[len("analysis: "):].rstrip(".")
    if line.startswith("real networks: "):
        return "realnets: " + line[len("real networks: "):].split(" (")[0].split(" ...")[0][:30]
    for prefix, name in (("building the zoo", "zoo"), ("screenshots of the interactive module", "screenshots"),
                         ("snippet: ", "snippets"), ("writing tables and figures", "write tables and figures"),
                         ("writing the post", "post, standalone and check")):
        if line.startswith(prefix):
            return name
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default="src", help="the source tree to run (PYTHONPATH)")
    ap.add_argument("--out", required=True, help="the demo's run folder")
    ap.add_argument("extra", nargs="*", help="more `unireps demo` options, after --")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(Path(args.src).resolve()), GRADIO_ANALYTICS_ENABLED="False",
               PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "unireps", "demo", "--no-serve", "--out", args.out, *args.extra]
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    tree = TreeCPU(proc.pid)
    stop = threading.Event()
    threading.Thread(target=lambda: [tree.sample() for _ in iter(lambda: stop.wait(SAMPLE_S), True)],
                     daemon=True).start()
    phases: list[tuple[str, float, float]] = [("start", 0.0, 0.0)]
    for line in proc.stdout:
        sys.stdout.write(line)
        name = phase_of(line)
        if name and name != phases[-1][0]:
            phases.append((name, time.perf_counter() - t0, tree.sample()))
    proc.wait()
    stop.set()
    wall, cpu = time.perf_counter() - t0, tree.sample()
    phases.append(("end", wall, cpu))
    print(f"\nexit {proc.returncode}; wall {wall:.1f} s; CPU of the process tree {cpu:.1f} s; load average "
          f"{'/'.join(f'{v:.2f}' for v in load0)} -> {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("phases (from one progress line to the next): wall s, tree CPU s")
    for (name, w0, c0), (_, w1, c1) in zip(phases, phases[1:]):
        print(f"  {name:28s} {w1 - w0:7.1f} {c1 - c0:7.1f}")
    timings = Path(args.out) / "timings.json"
    if timings.is_file():
        t = json.loads(timings.read_text())
        print("timings.json (the report's steps): wall s, CPU s of the step's process")
        for k, v in t["wall_s"].items():
            print(f"  {k:28s} {v:7.1f} {t['cpu_s'].get(k, float('nan')):7.1f}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
