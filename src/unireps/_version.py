"""The package version, in the bottom layer (importing :mod:`unireps` itself pulls in its shortcuts)."""

__version__ = "0.1.0"
