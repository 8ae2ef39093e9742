"""A real Flower deployment on localhost: a SuperLink and two SuperNodes as separate processes (insecure mode), the
run submitted with ``flwr run`` to unireps' ServerApp / ClientApp (``unireps.federated.flower_app``).  The weights
the deployed ServerApp saves equal the in-process reference loop's.  Slow: every process imports torch and each
ClientApp runs in its own subprocess (about 1-2 minutes on 2 loaded cores)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("flwr")

from unireps.federated import FedConfig, run_inprocess  # noqa: E402

SRC = Path(__file__).resolve().parent.parent / "src"
BIN = Path(sys.executable).parent

APP = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "unirepsfed"
version = "1.0.0"
description = "unireps.federated as a Flower App"
license = "Apache-2.0"
dependencies = []

[tool.flwr.app]
publisher = "unireps"

[tool.flwr.app.components]
serverapp = "unireps.federated.flower_app:server_app"
clientapp = "unireps.federated.flower_app:client_app"

[tool.flwr.app.config]
strategy = "{strategy}"
n-clients = 2
alpha = 0.1
rounds = 2
local-epochs = 1
seed = 3
out-dir = "{out}"
"""

CONNECTION = """[superlink]
default = "local-deployment"

[superlink.local-deployment]
address = "127.0.0.1:{port}"
insecure = true
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(path: Path, pattern: str, count: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = path.read_text(errors="replace") if path.exists() else ""
        if len(re.findall(pattern, text)) >= count:
            return
        time.sleep(1)
    raise AssertionError(f"{path.name}: no {count} x {pattern!r} within {timeout:.0f} s:\n{text[-3000:]}")


@pytest.mark.slow
@pytest.mark.skipif(not (BIN / "flower-superlink").exists(), reason="no flower-superlink beside this Python")
def test_a_superlink_and_two_supernodes_run_the_same_federated_training(tmp_path):
    out, app, home = tmp_path / "out", tmp_path / "app", tmp_path / "flwr_home"
    app.mkdir()
    home.mkdir()
    (app / "pyproject.toml").write_text(APP.format(strategy="fedprox", out=out))
    link = _free_port()
    (home / "config.toml").write_text(CONNECTION.format(port=link))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "FLWR_HOME": str(home),
           "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "FLWR_TELEMETRY_ENABLED": "0"}
    procs = []

    def start(name: str, *args: str) -> Path:
        log = tmp_path / f"{name}.log"
        with open(log, "wb") as fh:  # each in its own session: stopped below with its children (SuperExec, apps)
            procs.append(subprocess.Popen([str(BIN / args[0]), *args[1:]], stdout=fh, stderr=subprocess.STDOUT,
                                          env=env, cwd=tmp_path, start_new_session=True))
        return log

    try:
        link_log = start("superlink", "flower-superlink", "--insecure", "--port", str(link))
        _wait_for(link_log, r"Uvicorn running|Application startup complete", 1, 120)
        for k in range(2):
            start(f"supernode{k}", "flower-supernode", "--insecure", "--superlink", f"127.0.0.1:{link}", "--port",
                  str(_free_port()), "--node-config", f"partition-id={k} num-partitions=2")
        _wait_for(link_log, r"Activated node_id", 2, 180)
        run = subprocess.run([str(BIN / "flwr"), "run", str(app), "local-deployment", "--stream"], env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=480)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    from unireps.federated import load_trajectory

    deployed = load_trajectory(out)
    cfg = FedConfig(strategy="fedprox", n_clients=2, alpha=0.1, rounds=2, local_epochs=1, seed=3)
    assert deployed.config == cfg and deployed.engine == "flower-deployment"
    ref = run_inprocess(cfg)
    for r in (1, 2):
        for k in ref.globals[r]:  # Flower sums float32 in reply order: equal up to rounding
            torch.testing.assert_close(deployed.globals[r][k], ref.globals[r][k], rtol=1e-5, atol=1e-6)
        for c in range(2):
            torch.testing.assert_close(deployed.clients[r - 1][c]["fc1.weight"], ref.clients[r - 1][c]["fc1.weight"],
                                       rtol=1e-5, atol=1e-6)
    assert not torch.equal(ref.globals[2]["fc1.weight"], ref.globals[0]["fc1.weight"])  # it trained
    shutil.rmtree(out)
