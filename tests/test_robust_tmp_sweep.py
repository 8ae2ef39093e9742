"""Issue 18, case 5: an extraction killed with kill -9 leaves its temporary layer file; the next write to the
same cache directory removes it (its writer process is gone), and never touches a live writer's file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

from unireps.models.cache import LayerWriter


def test_tmp_files_of_killed_writers_are_swept(tmp_path):
    child = textwrap.dedent(f"""
        import os, signal
        from unireps.models.cache import LayerWriter
        w = LayerWriter({str(tmp_path)!r}, "layer0.mean", "X", 1000, 256, {{}})
        w.write(slice(0, 10), __import__("numpy").ones((10, 256), "float32"))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", child], env=env, timeout=120)
    assert proc.returncode == -9
    stale = [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    assert len(stale) == 1 and stale[0].stat().st_size > 1_000_000  # what kill -9 leaves behind
    live = LayerWriter(tmp_path, "other.mean", "X", 4, 3, {})  # a new writer in the same directory
    left = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tmp")
    assert left == [live.tmp.name]  # the dead writer's file is gone, the live one kept
    again = LayerWriter(tmp_path, "third.mean", "X", 4, 3, {})  # a live writer's file is never swept
    assert live.tmp.exists()
    for w in (live, again):
        w.write(slice(0, 4), np.zeros((4, 3), np.float32))
        w.commit()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_any_later_write_sweeps_the_whole_cache(tmp_path):
    from unireps.models.cache import ActivationCache

    entry_a = tmp_path / "activations" / "a"
    child = textwrap.dedent(f"""
        import os, signal
        from unireps.models.cache import LayerWriter
        LayerWriter({str(entry_a)!r}, "layer0.mean", "X", 100, 8, {{}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", child], env=env, timeout=120).returncode == -9
    assert [p for p in entry_a.iterdir() if p.suffix == ".tmp"]
    w = ActivationCache(tmp_path).writer(tmp_path / "activations" / "b", "emb", "mean", {}, 2, 2)
    assert not [p for p in entry_a.iterdir() if p.suffix == ".tmp"]  # another entry's leftovers are gone too
    w.abort()
