"""Every exception unireps raises on purpose derives from :class:`UnirepsError`.

Each class also derives from the built-in exception it replaced (``ValueError``, ``FileNotFoundError``,
``RuntimeError``), so ``except ValueError`` written against earlier versions still catches it. This module is the
bottom layer: it imports nothing from unireps (and not torch), so the CLI can catch ``UnirepsError`` cheaply.

>>> from unireps.errors import ModelNotAvailableError, UnirepsError
>>> issubclass(ModelNotAvailableError, UnirepsError) and issubclass(ModelNotAvailableError, FileNotFoundError)
True
"""

from __future__ import annotations

__all__ = [
    "AmbiguousModelNameError",
    "EmbeddingsIntegrityError",
    "IncompatibleCutsError",
    "InputError",
    "MissingDependencyError",
    "ModalityError",
    "ModelNotAvailableError",
    "ShardError",
    "UnirepsError",
    "UnknownModelError",
    "WeightsMismatchError",
]


class UnirepsError(Exception):
    """The common base: a problem the user can fix; the message names it and says how."""


class ModelNotAvailableError(UnirepsError, FileNotFoundError):
    """A model's files are not on this machine and downloading (or building) was not allowed.

    The message names the model, where it was looked for and how to get it.
    """


class UnknownModelError(UnirepsError, ValueError):
    """A model name that no registry entry, source prefix, path or hub id matches."""


class AmbiguousModelNameError(UnknownModelError):
    """A model name that means two different models (e.g. a registered name and a local folder); the message
    lists the spellings that pick each one."""


class ModalityError(UnirepsError, ValueError):
    """The encoder has no tower for the requested modality (e.g. ``encode_images`` on a text model)."""


class WeightsMismatchError(UnirepsError, RuntimeError):
    """Weight files do not have the recorded sha256 (a corrupted or substituted checkpoint)."""


class ShardError(UnirepsError, ValueError):
    """A shard file that cannot be opened or read (missing, truncated, not .npy/.safetensors, wrong shape)."""


class EmbeddingsIntegrityError(UnirepsError, ValueError):
    """A file of an export is missing, or its bytes do not match the sha256 recorded in the manifest."""


class IncompatibleCutsError(UnirepsError, ValueError):
    """The activations at the two cuts cannot be joined by a stitching layer (kind or spatial size differ)."""


class MissingDependencyError(UnirepsError, ImportError):
    """An optional package that the requested path needs is not installed; the message names the extra to
    install (``pip install 'unireps[...]'``) or the option that avoids it."""


class InputError(UnirepsError, ValueError):
    """A problem with what an app visitor supplied; the message is shown as is."""
