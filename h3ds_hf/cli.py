"""The ``h3ds-hf`` command line: one sub-command per module of :mod:`h3ds_hf.commands`.

Errors the package raises on purpose (:class:`~h3ds_hf.errors.H3DSError`) and OS errors become
one line on stderr and exit status 1 (``--debug`` adds the traceback); Ctrl-C and SIGTERM print
``h3ds-hf: interrupted`` and exit 130. Whatever an error's source (a server's body included),
every secret the process holds is scrubbed from what is printed or logged.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
import traceback

from h3ds_hf.distribution import __version__
from h3ds_hf.errors import H3DSError, SecretFilter, scrub

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
    "space",
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
    """Run the CLI; returns the process exit status (130 when interrupted)."""
    # SIGTERM (kill, a job scheduler) unwinds like Ctrl-C: temporary folders are removed.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    debug = False
    command = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        debug, command = args.debug, args.command
        _configure_logging(debug)
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("h3ds-hf: interrupted", file=sys.stderr)
        return 130
    except (H3DSError, OSError, RecursionError, MemoryError) as error:
        if debug:  # the traceback, still without any secret in it
            print(scrub(traceback.format_exc()), file=sys.stderr, end="")
        prefix = f"h3ds-hf {command}" if command else "h3ds-hf"
        print(f"{prefix}: error: {one_line(error)}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _configure_logging(debug: bool) -> None:
    """Log to stderr, every record scrubbed of secrets whichever library logged it."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())


def one_line(error: BaseException) -> str:
    """An error as one line of text, scrubbed of every secret the process holds."""
    if isinstance(error, RecursionError):
        text = "input nested too deeply"
    elif isinstance(error, MemoryError):
        text = "out of memory"
    else:
        text = str(error) or type(error).__name__
    if isinstance(error, OSError) and not isinstance(error, H3DSError) and error.filename:
        text = f"{error.strerror or text}: {error.filename}"
    return scrub(" ".join(text.split()))


if __name__ == "__main__":
    sys.exit(main())
