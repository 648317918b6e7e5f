"""The Hub dataset itself as a ground-truth source: ``--source ORG/NAME``.

``ORG/NAME``, ``ORG/NAME@REVISION`` or ``hf://datasets/ORG/NAME[@REVISION]`` names the
published dataset. Its files are read through huggingface_hub's ``HfFileSystem`` with HTTP
range requests for the ground-truth columns of one row group (one scene) at a time, never the
photos, at one fixed commit (resolved once, recorded as :attr:`HubRelease.revision`). The token
is the argument's, else $HF_TOKEN or the login cache; without access the error says where to
request it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from huggingface_hub import HfApi, HfFileSystem

from h3ds_hf.errors import H3DSError, HubError
from h3ds_hf.hub.access import dataset_page, hub_error
from h3ds_hf.hub.calls import HUB_FAILURES, check_repo_id, endpoint_of, failed_step
from h3ds_hf.hub.prepared import ParquetRelease
from h3ds_hf.scene import GroundTruth

#: The ``hf://`` URL prefix of Hub datasets (huggingface_hub's and datasets' spelling).
HF_DATASETS_URL = "hf://datasets/"
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_HUB_SOURCE = re.compile(rf"^(?P<repo>{_NAME}/{_NAME})(?:@(?P<revision>[^\s@]+))?$")


def parse_hub_source(source: str | Path) -> tuple[str, str | None] | None:
    """``(repo_id, revision)`` if ``source`` names a Hub dataset, else None.

    A path that exists locally is never a Hub source, so a local folder ``org/name`` wins.
    """
    text = str(source)
    explicit = text.startswith(HF_DATASETS_URL)
    if explicit:
        text = text[len(HF_DATASETS_URL) :].rstrip("/")
    elif Path(text).expanduser().exists():
        return None
    match = _HUB_SOURCE.match(text)
    if match is None:
        if explicit:
            raise HubError(f"{source}: expected hf://datasets/ORG/NAME[@REVISION]")
        return None
    return check_repo_id(match["repo"], what="dataset repository"), match["revision"]


class HubRelease(ParquetRelease):
    """The published dataset at one commit, read in place on the Hub.

    Args:
        repo_id: ``ORG/NAME`` of the dataset.
        revision: a branch, tag or commit (default: the main branch, resolved to its commit).
        token: a token with access (default: $HF_TOKEN or the login cache).
        endpoint: the Hub (default: $HF_ENDPOINT or huggingface.co).

    Raises:
        GatedDatasetError: access not granted (names the page to request it).
        HubError: no such dataset, or the Hub cannot be reached (names the step).
    """

    def __init__(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        token: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.repo_id = check_repo_id(repo_id, what="dataset repository")
        self.endpoint = endpoint_of(endpoint)
        api = HfApi(endpoint=self.endpoint, token=token)
        with self._translated("reading the dataset's information"):
            sha = api.dataset_info(repo_id, revision=revision).sha
        fs = HfFileSystem(endpoint=self.endpoint, token=token)
        with self._translated("listing the dataset's files"):
            super().__init__(
                fs,
                f"datasets/{repo_id}@{quote(sha or 'main', safe='')}",
                description=f"{HF_DATASETS_URL}{repo_id}@{sha}",
                revision=sha,
            )

    @contextmanager
    def _translated(self, step: str) -> Iterator[None]:
        """Access failures as GatedDatasetError / HubError, other failures naming the step."""
        try:
            yield
        except H3DSError:
            raise
        except HUB_FAILURES as error:
            translated = hub_error(error, self.repo_id)
            if translated is not None:
                raise translated from None
            after = f"dataset page: {dataset_page(self.repo_id)}"
            raise failed_step(error, step=step, endpoint=self.endpoint, after=after) from None

    def ground_truth(self, scene_id: str) -> GroundTruth:
        with self._translated(f"reading the ground truth of scene {scene_id}"):
            return super().ground_truth(scene_id)
