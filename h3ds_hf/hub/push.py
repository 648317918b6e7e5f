"""``h3ds-hf push``: publish a prepared dataset folder as a gated Hub dataset.

Three calls with huggingface_hub: create the dataset repository (``exist_ok``), add every file
in a single commit (``create_commit``; ``upload_folder`` may split big folders into several
commits when hf_xet is installed), then turn on manual gating. The token comes from the
argument, else $HF_TOKEN or the login cache; it is never printed or logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError

from h3ds_hf.errors import HubError, SourceError
from h3ds_hf.hub.prepare import MANIFEST_NAME

logger = logging.getLogger(__name__)

#: Files of a prepared folder that stay local (the manifest describes the local inputs).
LOCAL_ONLY = frozenset({MANIFEST_NAME})


@dataclass(frozen=True)
class PushResult:
    """Where the dataset went: repository URL, commit URL and the number of files."""

    repo_url: str
    commit_url: str
    files: int


def _operations(folder: Path) -> list[CommitOperationAdd]:
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() not in LOCAL_ONLY
    )
    return [
        CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=path)
        for path in files
    ]


def push_dataset(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str = "Upload H3DS (h3ds-hf prepare)",
) -> PushResult:
    """Create (or reuse) dataset ``repo_id``, commit ``folder`` to it, gate it manually.

    Raises:
        SourceError: ``folder`` is not a folder written by ``h3ds-hf prepare``.
        HubError: no token, or the Hub refused (message without the token).
    """
    folder = Path(folder)
    if not (folder / MANIFEST_NAME).is_file() or not (folder / "README.md").is_file():
        raise SourceError(f"{folder} is not a dataset folder written by `h3ds-hf prepare`")
    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set $HF_TOKEN or run `hf auth login`")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        operations = _operations(folder)
        logger.info("committing %d files to %s", len(operations), repo_id)
        commit = api.create_commit(
            repo_id,
            operations=operations,
            commit_message=commit_message,
            repo_type="dataset",
        )
        api.update_repo_settings(repo_id, gated="manual", repo_type="dataset")
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise HubError(
            f"the Hub refused to publish {repo_id} (HTTP {status}): "
            f"{error.server_message or 'check that your token can write to this namespace'}"
        ) from None
    return PushResult(repo_url=str(repo), commit_url=commit.commit_url, files=len(operations))
