"""Entry point: builds the parser from the command modules, runs one, turns errors into one clear line."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UnirepsError
from . import (
    cmd_analysis,
    cmd_app,
    cmd_applications,
    cmd_audit,
    cmd_bridge,
    cmd_datasets,
    cmd_export,
    cmd_federated,
    cmd_metrics,
    cmd_models,
    cmd_report,
)

COMMANDS = [cmd_models, cmd_metrics, cmd_audit, cmd_datasets, cmd_analysis, cmd_applications, cmd_bridge,
            cmd_federated, cmd_report, cmd_export, cmd_app]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unireps",
        description="unireps: when, how and why do different neural models learn the same representations?",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def _version() -> str:
    from .._version import __version__

    return f"unireps {__version__}"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # transformers' per-load "Loading weights" bars drown the CLI's own progress: transformers reads this switch
    # when it is imported (importing it here would cost every command seconds); if it already is, switch it off
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UnirepsError, ValueError, TypeError, KeyError, OSError) as e:
        # UnirepsError: the library's own errors (each says how to fix it), corrupted weights included.
        # ValueError/TypeError/KeyError: bad arguments, as the library's checks report them.
        # OSError: missing files, permissions, a file where a folder is needed, a full disk.
        # Any other exception (e.g. a RuntimeError from torch) is a bug: traceback.
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"unireps {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unireps: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
