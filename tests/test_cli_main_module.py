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


def test_the_command_line_starts_without_the_heavy_libraries():
    """Building the parser (every command's options, ``unireps --help``) imports no torch, pandas, scipy,
    transformers or gradio: each command imports what it needs when it runs, so help and bad options answer at
    once.  The heavy libraries load with the command that uses them (here ``unireps datasets``: pandas)."""
    code = ("import sys; from unireps.cli.main import build_parser, main; build_parser().format_help(); "
            "heavy = ('torch', 'pandas', 'scipy', 'transformers', 'gradio'); "
            "print(sorted(m for m in heavy if m in sys.modules)); main(['datasets', '--json']); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "[]"
    assert "pandas" in lines[-1]
