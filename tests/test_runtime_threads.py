"""unireps.runtime's thread limits: set inside, restored after, also when the body raises."""

import pytest
import torch

from unireps.runtime import deterministic, threads_for_small_ops


@pytest.mark.parametrize("ctx", [deterministic, threads_for_small_ops])
def test_threads_are_limited_inside_and_restored_after_an_error(ctx):
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"), ctx(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_deterministic_restores_the_algorithm_setting():
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic():
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before


def test_small_ops_never_raise_the_thread_count():
    before = torch.get_num_threads()
    with threads_for_small_ops(before + 4):
        assert torch.get_num_threads() == before
