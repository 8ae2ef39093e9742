"""``python -m unireps`` is the same command line as the ``unireps`` script."""

import subprocess
import sys


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "unireps", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "demo" in out.stdout and "federated" in out.stdout


def test_python_dash_m_reports_a_bad_command():
    out = subprocess.run([sys.executable, "-m", "unireps", "no-such-command"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    assert "no-such-command" in out.stderr
