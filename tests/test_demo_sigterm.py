"""Stopping `unireps demo` with SIGTERM while the app warms up is clean (issue 21): the report's Flower section ran
Ray in a child process, so the serving process has neither Ray nor Ray's SIGTERM handler (which raised SystemExit
in the middle of the app's warm-up and ended in a Ray stack trace and "Aborted")."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_app_support import ZOO_CACHE, tiny_zoo_env

pytest.importorskip("flwr")
pytest.importorskip("ray")
pytest.importorskip("gradio")

pytestmark = pytest.mark.slow  # a Flower simulation (Ray start-up) and the app's start: about a minute

SCRIPT = Path(__file__).with_name("demo_sigterm_child.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_during_app_warm_up_stops_the_demo_cleanly(tmp_path):
    with tiny_zoo_env():
        pass  # the tiny zoo, built once; the served app lists it
    env = dict(os.environ, UNIREPS_CACHE=str(ZOO_CACHE), GRADIO_ANALYTICS_ENABLED="False",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(tmp_path / "demo"), str(_free_port())],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "Serving the interactive module" in line:
                break
        assert seen and "Serving the interactive module" in seen[-1], "".join(seen)[-3000:]
        time.sleep(2)  # the app is building and warming up
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = "".join(seen) + rest
    assert "engine flower" in text and "ray loaded in the demo process: False" in text, text[-3000:]
    assert "SIGTERM handler: <Handlers.SIG_DFL: 0>" in text, text[-3000:]
    assert "Traceback" not in text and "Aborted" not in text, text[-3000:]
    assert proc.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM), (proc.returncode, text[-3000:])
