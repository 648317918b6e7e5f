"""``h3ds-hf demo``: the whole pipeline on the built-in synthetic mini-H3DS."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from h3ds_hf.errors import OutputExistsError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on a synthetic mini-H3DS",
        description="Generate a synthetic mini-H3DS (never the real data), read it from its "
        "encrypted zip, evaluate perturbed reconstructions and print the face / head table, "
        "then prepare it as a Hub dataset, score it with the metric, write a model card and "
        "export one scene for nerfstudio.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="new folder to keep everything in (default: a temporary one, removed at the end)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from h3ds_hf.demo import run_demo  # imported when run: it loads everything

    if args.output is None:  # a throw-away folder, removed at the end
        with tempfile.TemporaryDirectory(prefix="h3ds-hf-demo-") as folder:
            run_demo(Path(folder), print, progress=not args.no_progress)
        print("(the temporary folder is removed; pass --output DIR to keep the files)")
        return 0
    output = args.output
    if output.exists() and any(output.iterdir()):
        raise OutputExistsError(f"{output} is not empty: choose a new --output folder")
    output.mkdir(parents=True, exist_ok=True)
    run_demo(output, print, progress=not args.no_progress)
    return 0
