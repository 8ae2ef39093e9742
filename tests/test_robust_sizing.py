"""Issue 18, case 3: huge requests are sized up front (memory and disk against what the machine has) and
refused with the numbers and the fix, before anything is allocated."""

from __future__ import annotations

import tracemalloc

import pytest

from unireps.cli import main
from unireps.data import load_dataset
from unireps.models.cache import LayerWriter


def test_huge_shapes_dataset_is_refused_before_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"(?s)TB of memory.*available.*n <="):
            load_dataset("shapes", n=1_000_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # refused before the 8 GB of per-item parameters were drawn


def test_extract_with_absurd_n_exits_with_the_estimate(capsys):
    assert main(["extract", "zoo:clip-s0", "--n", "1000000000"]) == 2
    err = capsys.readouterr().err
    assert "TB of memory" in err and "--n" in err


def test_layer_file_larger_than_the_free_disk_is_refused(tmp_path):
    with pytest.raises(OSError, match=r"(?s)disk.*GB"):
        LayerWriter(tmp_path, "layer.mean", "X", 10**12, 4096, {})
    assert not list(tmp_path.iterdir())
