"""``h3ds-hf space --output DIR --requirement "h3ds-hf @ ..."``: write (and push) the Space."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from h3ds_hf.commands.card import DATASET_ID_ENV
from h3ds_hf.errors import H3DSError
from h3ds_hf.hub.names import PLACEHOLDER_REPO_ID
from h3ds_hf.space.names import DATASET_ENV, SDK_VERSION, TOKEN_ENV


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "space",
        help="write the h3ds_chamfer Space folder (gradio app, card, requirements), and push it",
        description=f"Write a ready Space folder into DIR: the card with its front matter "
        f"(gradio {SDK_VERSION}, the dataset), app.py, the metric module and a requirements.txt "
        "installing h3ds-hf from --requirement (it is not on PyPI). --push creates the Space "
        f"ORG/NAME (gradio SDK) with the {DATASET_ENV} variable and the secrets named by "
        "--secret (values taken from the environment variables of those names, never "
        "printed), then uploads the folder, with the token of HF_TOKEN or `hf auth login`.",
    )
    parser.add_argument("--output", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--requirement",
        action="append",
        required=True,
        metavar="SPEC",
        help='a requirements.txt line, e.g. "h3ds-hf @ git+https://github.com/ORG/h3ds-hf@v0.1.0" '
        "(repeatable; one must install h3ds-hf)",
    )
    parser.add_argument(
        "--dataset-id",
        default=os.environ.get(DATASET_ID_ENV, PLACEHOLDER_REPO_ID),
        metavar="ORG/NAME",
        help=f"the H3DS dataset on the Hub (default: ${DATASET_ID_ENV}, else "
        f"{PLACEHOLDER_REPO_ID}); the Space's {DATASET_ENV} variable",
    )
    parser.add_argument("--push", action="store_true", help="create the Space and upload DIR")
    parser.add_argument("--space-id", metavar="ORG/NAME", help="with --push: the Space")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="NAME",
        help=f"with --push: a Space secret whose value is $NAME here (e.g. {TOKEN_ENV}, a token "
        "granted access to the dataset); repeatable",
    )
    parser.add_argument("--private", action="store_true", help="with --push: a private Space")
    parser.set_defaults(handler=run, space_parser=parser)


def run(args: argparse.Namespace) -> int:
    if args.push and not args.space_id:
        args.space_parser.error("--push needs --space-id ORG/NAME")
    if (args.space_id or args.secret or args.private) and not args.push:
        args.space_parser.error("--space-id, --secret and --private go with --push")
    if args.push and args.dataset_id == PLACEHOLDER_REPO_ID:
        args.space_parser.error(f"--push needs --dataset-id ORG/NAME (or ${DATASET_ID_ENV})")
    # Imported when run, so that `h3ds-hf --help` does not load the Hub stack.
    from h3ds_hf.hub.calls import hub_api
    from h3ds_hf.space.folder import push_space, write_space

    secrets = {}
    for name in args.secret:
        value = os.environ.get(name)
        if not value:
            raise H3DSError(f"--secret {name}: the environment variable {name} is not set")
        secrets[name] = value
    written = write_space(args.output, args.requirement, args.dataset_id)
    print(f"Space folder: {written.folder} ({', '.join(written.files)}; gradio {SDK_VERSION})")
    print(f"try it: cd {written.folder} && {DATASET_ENV}=ORG/NAME python app.py")
    if not args.push:
        return 0
    url = push_space(hub_api(), written, args.space_id, secrets=secrets, private=args.private)
    print(f"Space: {url}")
    print(f"secrets set: {', '.join(secrets) or 'none'}; variable {DATASET_ENV}: {args.dataset_id}")
    return 0
