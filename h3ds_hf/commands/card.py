"""``h3ds-hf card``: publish H3DS results on a model's Hub card (model-index, .eval_results)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from h3ds_hf.hub.names import EVAL_RESULTS_PATH, PLACEHOLDER_REPO_ID

#: Environment variable giving the default --dataset-id.
DATASET_ID_ENV = "H3DS_DATASET_ID"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "card",
        help="write H3DS results into a model card (model-index and .eval_results)",
        description="Merge the face / head chamfer of an `h3ds-hf evaluate` results JSON into a "
        f"model card: model-index metadata and a table in README.md, and {EVAL_RESULTS_PATH} "
        "with the benchmark's task ids. The existing card (in --output, or on the Hub with "
        "--push) keeps its content. --push uploads both files in one commit (or a pull request "
        "with --create-pr) with the token of HF_TOKEN or `hf auth login`.",
    )
    parser.add_argument("--results", type=Path, required=True, metavar="FILE", help="results JSON")
    parser.add_argument(
        "--model-id", required=True, metavar="ORG/MODEL", help="the model repository"
    )
    parser.add_argument(
        "--dataset-id",
        default=os.environ.get(DATASET_ID_ENV, PLACEHOLDER_REPO_ID),
        metavar="ORG/NAME",
        help=f"the H3DS dataset repository (default: ${DATASET_ID_ENV}, else "
        f"{PLACEHOLDER_REPO_ID}, which cannot be pushed)",
    )
    parser.add_argument(
        "--output", type=Path, metavar="DIR", help="folder to write README.md and the YAML into"
    )
    parser.add_argument("--push", action="store_true", help="upload to the model repository")
    parser.add_argument(
        "--create-pr", action="store_true", help="with --push: open a pull request instead"
    )
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="also publish means over incomplete scene sets",
    )
    parser.set_defaults(handler=run, card_parser=parser)


def run(args: argparse.Namespace) -> int:
    # Imported when run, so that `h3ds-hf --help` does not load the Hub stack.
    from h3ds_hf.benchmark.report import load_results
    from h3ds_hf.hub.model_card import (
        build_card_files,
        check_dataset_id,
        hub_api,
        push_card_files,
        read_hub,
        read_local,
        write_card_files,
    )

    if args.output is None and not args.push:
        args.card_parser.error("give --output DIR, --push, or both")
    if args.create_pr and not args.push:
        args.card_parser.error("--create-pr needs --push")
    results = load_results(args.results)
    api = None
    if args.push:
        check_dataset_id(args.dataset_id)
        api = hub_api()
        readme, eval_results = read_hub(api, args.model_id)
    else:
        readme, eval_results = read_local(args.output)
    files = build_card_files(
        results,
        model_id=args.model_id,
        dataset_id=args.dataset_id,
        existing_readme=readme,
        existing_eval_results=eval_results,
        allow_incomplete=args.allow_incomplete,
    )
    for figure in files.figures:
        print(f"{figure.task_id} ({figure.config}, {figure.split}): {figure.value_mm:.4f} mm")
    if args.output is not None:
        card_path, yaml_path = write_card_files(files, args.output)
        print(f"wrote {card_path} and {yaml_path}")
    if api is not None:
        url = push_card_files(api, args.model_id, files, create_pr=args.create_pr)
        print(f"pushed to {url}")
    return 0
