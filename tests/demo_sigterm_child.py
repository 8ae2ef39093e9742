"""Run by tests/test_demo_sigterm.py (not a test module): `unireps demo` whose report runs only the federated section
(quick grid, Flower's Ray simulation, in run_standard's child process) and then serves the app on the tiny zoo.
The federated child is started by `unireps demo` itself, before the (skipped) real networks, as in a real run.
Before serving it prints whether Ray is loaded in this process and which SIGTERM handler is installed."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import SimpleNamespace

from unireps.cli import cmd_report, main
from unireps.report import standard


def _empty(*args, **kwargs):
    return {}, {}, {}


def _config(args):
    return standard.RunConfig(quick_applications=True, federated_seeds=1)


def _report(args, federated=None):
    for name in dir(standard):  # every section but the federated one: nothing (the full run takes minutes)
        if name.startswith("section_") and name != "section_federated":
            setattr(standard, name, _empty)
    standard.eval_set = lambda n: list(range(n))
    standard._available = lambda preset: set()
    import unireps.zoo

    unireps.zoo.build = lambda **kw: None
    results = standard.run_standard(_config(args), progress=print, federated=federated)
    n = results.numbers
    print(f"federated section: engine {n['federated_engine']}, {n['federated_clients']} clients; "
          f"ray loaded in the demo process: {'ray' in sys.modules}; SIGTERM handler: "
          f"{signal.getsignal(signal.SIGTERM)!r}", flush=True)
    out = Path(args.out)
    return {"results": SimpleNamespace(numbers=n), "out": out, "post": out / "post.md",
            "standalone": out / "index.html", "problems": [], "run_time_s": 0.0}


if __name__ == "__main__":
    cmd_report._report, cmd_report._config = _report, _config
    out, port = sys.argv[1], sys.argv[2]
    raise SystemExit(main(["demo", "--no-realnets", "--no-screenshots", "--out", out, "--port", port]))
