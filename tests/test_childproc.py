"""The report's child-process sections (unireps.childproc): the value, the child's exception and a dead
child come back to the parent; stop() ends a running child; the federated section gives the same tables and numbers
in the child as in the report's own process."""

from __future__ import annotations

import os
import signal
import time

import pandas as pd
import pytest

from unireps.childproc import ChildSection, ChildSectionError


def _fail(message):
    raise ValueError(message)


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def _pid_then_sleep(path, seconds):
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(seconds)


def _spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return "done"


def test_value_wall_and_cpu_of_the_child():
    value, wall, cpu = ChildSection(_spin, 0.3).result()
    assert value == "done" and wall >= cpu >= 0.3


def test_the_childs_exception_is_raised_in_the_parent():
    with pytest.raises(ValueError, match="bad input in the child"):
        ChildSection(_fail, "bad input in the child").result()


def test_a_child_that_dies_gives_a_clear_error():
    with pytest.raises(ChildSectionError, match="ended without a result"):
        ChildSection(_die).result()


def test_stop_ends_a_running_child(tmp_path):
    job = ChildSection(_pid_then_sleep, str(tmp_path / "pid"), 120)
    for _ in range(600):
        if (tmp_path / "pid").exists() and (tmp_path / "pid").read_text():
            break
        time.sleep(0.05)
    pid = int((tmp_path / "pid").read_text())
    t = time.perf_counter()
    job.stop()
    assert time.perf_counter() - t < 30
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.slow  # two federated grids (the in-process loop): about 20 s
def test_federated_section_in_the_child_equals_in_process():
    from unireps.report.standard import RunConfig, _federated_in_child, section_federated

    cfg = RunConfig(quick_applications=True, federated_engine="inprocess", federated_seeds=2)
    (tables, figures, numbers), wall, cpu = ChildSection(_federated_in_child, cfg).result()
    want_tables, _, want_numbers = section_federated(cfg)
    assert numbers == want_numbers and numbers["federated_seeds"] == 2
    assert list(tables) == list(want_tables)
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], want_tables[name])
    assert wall > 0 and cpu > 0
