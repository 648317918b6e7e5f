"""``h3ds-hf extract ZIP DIR``: decrypt and unpack the official release safely and fast."""

from __future__ import annotations

import argparse
from pathlib import Path

from h3ds_hf.commands.common import add_source_arguments, catalog_from_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract the official (encrypted) zip into a folder",
        description="Extract the official H3DS zip into DIR (which becomes the release root). "
        "The password is the access token, read from $H3DS_ACCESS_TOKEN. The archive's md5 is "
        "checked against the release catalog; nothing is left behind on error.",
    )
    parser.add_argument("zip", type=Path, metavar="ZIP", help="the release archive")
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder to create")
    add_source_arguments(parser)
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="threads extracting (default: one per core, at most 8)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run, extract_parser=parser)


def run(args: argparse.Namespace) -> int:
    from h3ds_hf.release.extract import extract_release  # imported when run

    if args.jobs is not None and args.jobs < 1:
        args.extract_parser.error("--jobs must be at least 1")
    target = extract_release(
        args.zip,
        args.directory,
        catalog=catalog_from_arguments(args),
        progress=not args.no_progress,
        jobs=args.jobs,
    )
    print(f"extracted to {target}")
    return 0
