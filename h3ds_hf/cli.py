"""The ``h3ds-hf`` command line: one sub-command per module of :mod:`h3ds_hf.commands`.

Errors the package raises on purpose (:class:`~h3ds_hf.errors.H3DSError`) and OS errors become
one line on stderr and exit status 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from h3ds_hf.distribution import __version__
from h3ds_hf.errors import H3DSError

#: Sub-command modules under h3ds_hf.commands, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "info",
    "extract",
    "evaluate",
    "report",
    "prepare",
    "export",
    "check",
    "push",
    "card",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="h3ds-hf",
        description="The H3DS 3D-head dataset and its official evaluation, Hugging Face style.",
    )
    parser.add_argument("--version", action="version", version=f"h3ds-hf {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"h3ds_hf.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"h3ds_hf.commands.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("h3ds-hf: interrupted", file=sys.stderr)
        return 130
    except (H3DSError, OSError) as error:
        if args.debug:
            raise
        print(f"h3ds-hf {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and not isinstance(error, H3DSError) and error.filename:
        text = f"{error.strerror or text}: {error.filename}"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
