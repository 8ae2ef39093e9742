"""Exceptions raised by :mod:`unireps.models`."""

from __future__ import annotations


class ModelNotAvailableError(FileNotFoundError):
    """A model's files are not on this machine and downloading was not allowed.

    The message names the model, where it was looked for and how to get it.
    """


class ModalityError(ValueError):
    """The encoder has no tower for the requested modality (e.g. ``encode_images`` on a text model)."""


class WeightsMismatchError(RuntimeError):
    """Weight files do not have the recorded sha256 (a corrupted or substituted checkpoint)."""
