"""``h3ds-hf prepare SOURCE --output DIR``: a Hub-ready Parquet dataset folder from a release."""

from __future__ import annotations

import argparse
from pathlib import Path

from h3ds_hf.commands.common import add_source_arguments, catalog_from_arguments
from h3ds_hf.hub.names import EVALUATION_FRAMEWORK


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="write the Hugging Face dataset folder (Parquet, card, eval.yaml) of a release",
        description="Convert a raw H3DS release (folder, or zip with $H3DS_ACCESS_TOKEN) into a "
        "folder ready for `h3ds-hf push` and `datasets.load_dataset(DIR, CONFIG)`: Parquet "
        "shards per config and split with the media embedded, the dataset card and eval.yaml. "
        "Re-running with the same inputs does nothing; the folder is replaced atomically.",
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="release folder or zip")
    parser.add_argument(
        "--output", "-o", type=Path, required=True, metavar="DIR", help="folder to write"
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--configs",
        metavar="NAMES",
        help="comma-separated configs to write, e.g. 3-views,all-views (default: all)",
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=1, metavar="N", help="worker processes (default 1)"
    )
    parser.add_argument(
        "--repo-id", metavar="ORG/NAME", help="repository named in the card's examples"
    )
    parser.add_argument(
        "--evaluation-framework",
        default=EVALUATION_FRAMEWORK,
        metavar="NAME",
        help="eval.yaml's evaluation_framework: one of the Hub's known frameworks (default "
        f"{EVALUATION_FRAMEWORK!r}, not registered with the Hub yet; see the README)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from h3ds_hf.hub.prepare import prepare_dataset  # imported when run: it loads datasets

    configs = None
    if args.configs:
        configs = [name.strip() for name in args.configs.split(",") if name.strip()]
    result = prepare_dataset(
        args.source,
        args.output,
        catalog=catalog_from_arguments(args),
        configs=configs,
        jobs=max(1, args.jobs),
        repo_id=args.repo_id,
        evaluation_framework=args.evaluation_framework,
        progress=not args.no_progress,
    )
    if result.up_to_date:
        print(f"{result.output} is up to date")
        return 0
    for name, splits in result.configs.items():
        sizes = ", ".join(f"{split}: {info.num_examples} scenes" for split, info in splits.items())
        print(f"{name}: {sizes}")
    print(f"wrote {result.output}")
    return 0
