"""Arguments shared by several sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from h3ds_hf.release.catalog import RELEASES, Catalog, load_catalog


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """--catalog FILE and --release v1|v2, which say what a source must contain."""
    parser.add_argument(
        "--catalog",
        type=Path,
        metavar="FILE",
        help="custom catalog (the authors' TOML shape) describing the release",
    )
    parser.add_argument(
        "--release",
        choices=RELEASES,
        help="official release to expect (default: inferred from version.txt)",
    )


def catalog_from_arguments(args: argparse.Namespace) -> Catalog | None:
    """The catalog the user asked for, or None to infer it from the source."""
    if args.catalog is not None:
        return load_catalog(path=args.catalog)
    if args.release is not None:
        return load_catalog(args.release)
    return None


def views_argument(text: str) -> str | None:
    """A --views value: a views config id ('3'), or None for 'all'."""
    text = text.strip()
    return None if text == "all" else text
