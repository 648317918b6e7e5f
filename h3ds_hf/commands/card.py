"""``h3ds-hf card``: publish H3DS results on a model's Hub card (model-index, .eval_results)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from h3ds_hf.errors import HubError
from h3ds_hf.hub.names import EVAL_RESULTS_PATH, EVAL_YAML, PLACEHOLDER_REPO_ID

if TYPE_CHECKING:
    from h3ds_hf.hub.eval_yaml import BenchmarkTasks

#: Environment variable giving the default --dataset-id.
DATASET_ID_ENV = "H3DS_DATASET_ID"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "card",
        help="write H3DS results into a model card (model-index and .eval_results)",
        description="Merge the face / head chamfer of an `h3ds-hf evaluate` results JSON into a "
        f"model card: model-index metadata and a table in README.md, {EVAL_RESULTS_PATH} and "
        "the results file its entries cite as their source. Only the tasks the dataset's "
        f"{EVAL_YAML} defines are published (read from --dataset-dir, else from --dataset-id on "
        "the Hub); the others are listed on stderr. The existing card (in --output, or on the "
        "Hub with --push) keeps its content. --push uploads the files in one commit (or a pull "
        "request with --create-pr) with the token of HF_TOKEN or `hf auth login`.",
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
        f"{PLACEHOLDER_REPO_ID}, which is no Hub dataset: usable only with --output and "
        "--dataset-dir or --no-task-check)",
    )
    parser.add_argument(
        "--dataset-dir",
        type=Path,
        metavar="DIR",
        help=f"a prepared or downloaded dataset folder to read {EVAL_YAML} from (default: "
        "download it from --dataset-id)",
    )
    parser.add_argument(
        "--dataset-revision",
        metavar="REV",
        help="the dataset revision the results refer to: with --dataset-dir or --no-task-check a "
        "commit sha recorded as is; from the Hub any revision, resolved to its sha (default: "
        "the main branch's)",
    )
    parser.add_argument(
        "--no-task-check",
        action="store_true",
        help=f"publish every figure without reading {EVAL_YAML} (e.g. offline); the task ids "
        "may then be ones the dataset does not define",
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="folder to write the card's files into (README.md, .eval_results/)",
    )
    parser.add_argument("--push", action="store_true", help="upload to the model repository")
    parser.add_argument(
        "--create-pr", action="store_true", help="with --push: open a pull request instead"
    )
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="also publish means over incomplete scene sets (marked in the table and notes)",
    )
    parser.set_defaults(handler=run, card_parser=parser)


def run(args: argparse.Namespace) -> int:
    # Imported when run, so that `h3ds-hf --help` does not load the Hub stack.
    from h3ds_hf.hub.calls import check_repo_id, hub_api
    from h3ds_hf.hub.card_hub import push_card_files, read_hub
    from h3ds_hf.hub.eval_yaml import check_revision, read_hub_tasks, read_local_tasks
    from h3ds_hf.hub.model_card import build_card_files, read_local, read_results, write_card_files

    if args.output is None and not args.push:
        args.card_parser.error("give --output DIR, --push, or both")
    if args.create_pr and not args.push:
        args.card_parser.error("--create-pr needs --push")
    if args.dataset_dir is not None and args.no_task_check:
        args.card_parser.error("--no-task-check and --dataset-dir exclude each other")
    # Every id and argument is checked before anything is read from the network.
    check_repo_id(args.model_id, "--model-id")
    from_hub = args.dataset_dir is None and not args.no_task_check
    if args.dataset_id == PLACEHOLDER_REPO_ID and (args.push or from_hub):
        raise HubError(
            f"--dataset-id is needed (or ${DATASET_ID_ENV}): the H3DS dataset repository the "
            f"results refer to, ORG/NAME ({PLACEHOLDER_REPO_ID} is no Hub dataset)"
        )
    if args.dataset_id != PLACEHOLDER_REPO_ID:
        check_repo_id(args.dataset_id, "--dataset-id")
    if args.dataset_revision is not None and not from_hub:
        check_revision(args.dataset_revision)
    results = read_results(args.results)
    api = hub_api(token_required=args.push)

    tasks: BenchmarkTasks | None = None
    if args.dataset_dir is not None:
        tasks = read_local_tasks(args.dataset_dir, revision=args.dataset_revision)
    elif from_hub:
        tasks = read_hub_tasks(api, args.dataset_id, revision=args.dataset_revision)
    existing = read_hub(api, args.model_id) if args.push else read_local(args.output)
    files = build_card_files(
        results,
        model_id=args.model_id,
        dataset_id=args.dataset_id,
        existing_readme=existing.readme,
        existing_eval_results=existing.eval_results,
        allow_incomplete=args.allow_incomplete,
        tasks=tasks,
        dataset_revision=args.dataset_revision if tasks is None else tasks.revision,
        endpoint=api.endpoint,
    )
    if tasks is not None:
        at = f" at revision {tasks.revision}" if tasks.revision else ""
        print(f"tasks: {len(tasks.tasks)} defined by {tasks.origin}{at}")
    for line in files.left_out:
        print(f"h3ds-hf card: {line}", file=sys.stderr)
    for figure in files.figures:
        partial = "" if figure.complete else f", {figure.scenes} of {figure.expected} scenes"
        print(
            f"{figure.task_id} ({figure.config}, {figure.split}{partial}): {figure.value_mm:.4f} mm"
        )
    if args.output is not None:
        card_path, yaml_path = write_card_files(files, args.output)
        print(f"wrote {card_path}, {yaml_path} and {args.output / files.results_path}")
    if args.push:
        url = push_card_files(
            api, args.model_id, files, create_pr=args.create_pr, parent_commit=existing.revision
        )
        print(f"pushed to {url}")
    return 0
