"""The ``unireps`` command line. Each subcommand lives in its own module and only calls the library."""

from .main import main

__all__ = ["main"]
