"""``h3ds-hf push DIR --repo-id ORG/NAME``: publish a prepared folder as a gated Hub dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from h3ds_hf.hub.push import push_dataset


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push",
        help="publish a prepared dataset folder to the Hugging Face Hub, gated",
        description="Create the dataset repository ORG/NAME (if needed), upload DIR (written "
        "by `h3ds-hf prepare`) in one commit and turn on manual access approval. The token "
        "comes from $HF_TOKEN or `hf auth login`; it is never printed.",
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="prepared dataset folder")
    parser.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="dataset repo")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    result = push_dataset(args.directory, args.repo_id, private=args.private)
    print(f"pushed {result.files} files: {result.commit_url}")
    print(f"gated (manual approval): {result.repo_url}")
    return 0
