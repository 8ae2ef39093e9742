"""The Literal option types list exactly the values the code validates with."""

from __future__ import annotations

from typing import get_args

from unireps import literals
from unireps.metrics.rsa import COMPARE_METHODS, RDM_KINDS
from unireps.models.encoder import MODALITIES
from unireps.models.pooling import POOLINGS
from unireps.transfer.maps import MAP_METHODS
from unireps.transfer.probe import TRANSFER_METHODS


def test_literals_match_the_runtime_choices():
    assert get_args(literals.Modality) == MODALITIES
    assert get_args(literals.Pooling) == POOLINGS
    assert get_args(literals.RDMKind) == RDM_KINDS
    assert get_args(literals.CompareMethod) == COMPARE_METHODS
    assert get_args(literals.MapMethod) == MAP_METHODS
    assert get_args(literals.TransferMethod) == TRANSFER_METHODS


def test_py_typed_ships_with_the_package():
    from pathlib import Path

    import unireps

    assert (Path(unireps.__file__).parent / "py.typed").is_file()
