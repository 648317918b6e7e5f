"""The Space folder ``h3ds-hf space`` writes, and the Space it creates on the Hub.

The folder is the shipped metric folder (``metric/h3ds_chamfer``): the card with the Space's
front matter (gradio :data:`SDK_VERSION`, the dataset in ``datasets:``), ``app.py`` (which
imports everything from the installed h3ds-hf), the metric module (so that
``evaluate.load("ORG/h3ds_chamfer")`` finds it) and a ``requirements.txt`` that installs h3ds-hf
from where the maintainer says it is (it is not on PyPI). Spaces install gradio from
``sdk_version`` themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, SpaceCard

from h3ds_hf.atomic import atomic_write_text
from h3ds_hf.errors import H3DSError
from h3ds_hf.hub.calls import check_repo_id, hub_step
from h3ds_hf.hub.dataset_card import PLACEHOLDER_REPO_ID
from h3ds_hf.metric import metric_path
from h3ds_hf.space.names import DATASET_ENV, SDK_VERSION

logger = logging.getLogger(__name__)

#: Files of the shipped metric folder copied into the Space.
SPACE_FILES = ("README.md", "app.py", "h3ds_chamfer.py")
REQUIREMENTS = "requirements.txt"


@dataclass(frozen=True)
class SpaceFolder:
    """A written Space folder and what it was written for."""

    folder: Path
    dataset_id: str
    files: tuple[str, ...]


def space_card(dataset_id: str) -> str:
    """The shipped card with the Space's front matter for ``dataset_id``."""
    text = (Path(metric_path()) / "README.md").read_text(encoding="utf-8")
    card = SpaceCard(text.replace(PLACEHOLDER_REPO_ID, dataset_id))
    card.data.sdk = "gradio"
    card.data.sdk_version = SDK_VERSION
    card.data.datasets = [dataset_id]
    return str(card)


def write_space(
    output: str | Path, requirements: Sequence[str], dataset_id: str = PLACEHOLDER_REPO_ID
) -> SpaceFolder:
    """Write a ready Space folder into ``output``.

    Args:
        output: the folder (created; files of the same names are replaced).
        requirements: requirements.txt lines; one must install h3ds-hf, e.g.
            ``"h3ds-hf @ git+https://github.com/ORG/h3ds-hf@v0.1.0"``.
        dataset_id: the H3DS dataset on the Hub (front matter ``datasets:``, card examples).

    Raises:
        H3DSError: no requirement names h3ds-hf.
    """
    lines = [line.strip() for line in requirements if line.strip()]
    if not any(line.lower().replace("_", "-").startswith("h3ds-hf") for line in lines):
        raise H3DSError(
            'give --requirement "h3ds-hf @ git+https://..." (or a wheel URL): h3ds-hf is not '
            "on PyPI, the Space must be told where to install it from"
        )
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    source = Path(metric_path())
    atomic_write_text(output / "README.md", space_card(dataset_id))
    for name in SPACE_FILES[1:]:
        atomic_write_text(output / name, (source / name).read_text(encoding="utf-8"))
    atomic_write_text(output / REQUIREMENTS, "\n".join(lines) + "\n")
    return SpaceFolder(output, dataset_id, (*SPACE_FILES, REQUIREMENTS))


def push_space(
    api: HfApi,
    written: SpaceFolder,
    space_id: str,
    *,
    secrets: Mapping[str, str],
    private: bool = False,
) -> str:
    """Create the Space (gradio SDK) with its secrets and ``H3DS_DATASET`` variable, then
    upload the folder in one commit. Returns the Space's URL.

    Secrets and the variable are set when the Space is created (an existing Space keeps its
    settings: change them on its settings page). Their values are never logged.
    """
    check_repo_id(space_id, what="Space")
    variables = []
    if written.dataset_id != PLACEHOLDER_REPO_ID:
        variables.append({"key": DATASET_ENV, "value": written.dataset_id})
    held = [s for s in secrets.values() if s]
    with hub_step("creating the Space", token=held[0] if held else None):
        url = api.create_repo(
            space_id,
            repo_type="space",
            space_sdk="gradio",
            private=private,
            exist_ok=True,
            space_secrets=[{"key": k, "value": v} for k, v in secrets.items()] or None,
            space_variables=variables or None,
        )
    with hub_step("uploading the Space's files"):
        api.upload_folder(
            repo_id=space_id,
            repo_type="space",
            folder_path=written.folder,
            allow_patterns=list(written.files),
            commit_message="h3ds-hf space: the h3ds_chamfer Space",
        )
    logger.info("Space %s written (secrets: %s)", space_id, ", ".join(secrets) or "none")
    return str(url)
