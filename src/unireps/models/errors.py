"""Exceptions raised by :mod:`unireps.models` (defined in :mod:`unireps.errors`, re-exported here)."""

from __future__ import annotations

from ..errors import (
    AmbiguousModelNameError,
    ModalityError,
    ModelNotAvailableError,
    UnknownModelError,
    WeightsMismatchError,
)

__all__ = [
    "AmbiguousModelNameError", "ModalityError", "ModelNotAvailableError", "UnknownModelError", "WeightsMismatchError",
]
