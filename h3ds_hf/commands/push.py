"""``h3ds-hf push DIR --repo-id ORG/NAME``: publish a prepared folder as a gated Hub dataset."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push",
        help="publish a prepared dataset folder to the Hugging Face Hub, gated",
        description="Publish DIR (written by `h3ds-hf prepare`) as the gated dataset "
        "ORG/NAME without ever exposing it: the repository is created private, gated "
        "(manual approval) and checked, the files are committed in one commit, and only then "
        "is it made public (still gated). A failed step leaves it private; rerun to resume. "
        "The token comes from $HF_TOKEN or `hf auth login`; it is never printed.",
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="prepared dataset folder")
    parser.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="dataset repo")
    parser.add_argument(
        "--private", action="store_true", help="keep the repository private (and gated)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from h3ds_hf.hub.push import push_dataset  # imported when run: it loads huggingface_hub

    result = push_dataset(args.directory, args.repo_id, private=args.private)
    print(f"pushed {result.files} files: {result.commit_url}")
    exposure = "private" if result.private else "public"
    print(f"{exposure}, gated ({result.gated} approval of access requests): {result.repo_url}")
    return 0
