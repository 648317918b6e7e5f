"""``h3ds-hf push``: publish a prepared dataset folder as a gated Hub dataset, never exposed.

The scans are licensed for approved researchers only, so no data-bearing commit may ever land
in a repository that is public and ungated, not even for a moment. The steps, each verified by
reading the repository's settings back before the next one:

1. check that the token can write to the namespace;
2. create the repository **private** (or find the existing one); an existing repository that
   is public and ungated is made private first;
3. turn on manual gating;
4. commit every file of the folder in one commit (``create_commit``);
5. unless ``private``: make the repository public, which, gated, shows the card and the access
   form to everyone and the files to approved users only.

If a step fails, the repository is left private (or as gated as it was) and the error names
the step; running the same command again resumes (unchanged files are not uploaded again).
The token comes from the argument, else $HF_TOKEN or the login cache; it is never printed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, get_token
from huggingface_hub.hf_api import DatasetInfo

from h3ds_hf.errors import HubError, SourceError
from h3ds_hf.hub.calls import check_repo_id, endpoint_of, hub_step
from h3ds_hf.hub.prepare import MANIFEST_NAME

logger = logging.getLogger(__name__)

#: Files of a prepared folder that stay local (the manifest describes the local inputs).
LOCAL_ONLY = frozenset({MANIFEST_NAME})
#: The gating published datasets get: every access request is approved by a maintainer.
GATING = "manual"


@dataclass(frozen=True)
class PushResult:
    """Where the dataset went and how it is exposed."""

    repo_url: str
    commit_url: str
    files: int
    private: bool
    gated: str


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


def _exposure(info: DatasetInfo) -> str:
    gated = info.gated or "not gated"
    return f"{'private' if info.private else 'public'}, {gated}"


class _Publisher:
    """The push's steps against one repository; each failure names its step."""

    def __init__(self, api: HfApi, repo_id: str, token: str) -> None:
        self.api, self.repo_id, self.token = api, repo_id, token
        self.endpoint = endpoint_of(api.endpoint)
        self.state = "nothing was created or changed"

    def step(self, what: str):
        resume = f"rerun `h3ds-hf push ... --repo-id {self.repo_id}` to resume"
        return hub_step(
            what, endpoint=self.endpoint, token=self.token, after=f"{self.state}; {resume}"
        )

    def settings(self) -> DatasetInfo:
        with self.step("reading the repository's settings"):
            return self.api.dataset_info(self.repo_id)

    def check_token(self) -> None:
        with self.step("checking the token"):
            whoami = self.api.whoami()
        namespace = self.repo_id.split("/")[0]
        names = {whoami.get("name")} | {org.get("name") for org in whoami.get("orgs", [])}
        role = ((whoami.get("auth") or {}).get("accessToken") or {}).get("role")
        if role == "read":
            raise HubError(f"the token is read-only: it cannot create or write {self.repo_id}")
        if namespace not in names:
            raise HubError(
                f"the token belongs to {whoami.get('name')!r}, who is not a member of "
                f"{namespace!r}: it cannot write {self.repo_id}"
            )

    def ensure_private_or_gated(self) -> DatasetInfo:
        with self.step("creating the repository (private)"):
            self.api.create_repo(self.repo_id, repo_type="dataset", private=True, exist_ok=True)
        info = self.settings()
        if not info.private and not info.gated:
            with self.step("making the existing public repository private"):
                self.api.update_repo_settings(self.repo_id, private=True, repo_type="dataset")
            info = self.settings()
            if not info.private:
                raise HubError(f"{self.repo_id} is still public after making it private")
        self.state = f"{self.repo_id} is {_exposure(info)}"
        return info

    def gate(self) -> DatasetInfo:
        with self.step("turning on manual gating"):
            self.api.update_repo_settings(self.repo_id, gated=GATING, repo_type="dataset")
        info = self.settings()
        if info.gated != GATING:
            raise HubError(
                f"{self.repo_id} reports gated={info.gated!r} after gating; {self.state}"
            )
        self.state = f"{self.repo_id} is {_exposure(info)}"
        return info

    def make_private(self) -> DatasetInfo:
        with self.step("making the repository private"):
            self.api.update_repo_settings(self.repo_id, private=True, repo_type="dataset")
        info = self.settings()
        self.state = f"{self.repo_id} is {_exposure(info)}"
        return info

    def publish(self) -> DatasetInfo:
        with self.step("making the gated repository public"):
            self.api.update_repo_settings(self.repo_id, private=False, repo_type="dataset")
        info = self.settings()
        if info.gated != GATING:  # someone turned gating off meanwhile: hide it again
            self.make_private()
            raise HubError(f"{self.repo_id} lost its gating while being published; {self.state}")
        self.state = f"{self.repo_id} is {_exposure(info)}"
        return info


def push_dataset(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str = "Upload H3DS (h3ds-hf prepare)",
) -> PushResult:
    """Publish ``folder`` as the gated dataset ``repo_id`` in the order of the module docs.

    Args:
        folder: written by ``h3ds-hf prepare`` (its manifest stays local).
        repo_id: ``namespace/name``.
        private: keep the repository private (gated too, ready to be made public).
        token: a write token (default $HF_TOKEN or the login cache).
        endpoint: the Hub (default $HF_ENDPOINT or huggingface.co).

    Raises:
        SourceError: ``folder`` is not a folder written by ``h3ds-hf prepare``.
        HubError: invalid repo id, no token, a token that cannot write there, or a failed step
            (its message names the step, the endpoint and the repository's state).
    """
    folder = Path(folder)
    if not (folder / MANIFEST_NAME).is_file() or not (folder / "README.md").is_file():
        raise SourceError(f"{folder} is not a dataset folder written by `h3ds-hf prepare`")
    repo_id = check_repo_id(repo_id, what="dataset repository")
    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set $HF_TOKEN or run `hf auth login`")
    publisher = _Publisher(HfApi(endpoint=endpoint, token=token), repo_id, token)
    publisher.check_token()
    info = publisher.ensure_private_or_gated()
    if private and not info.private:
        info = publisher.make_private()
    info = publisher.gate()
    operations = _operations(folder)
    logger.info("committing %d files to %s (%s)", len(operations), repo_id, _exposure(info))
    with publisher.step(f"uploading {len(operations)} files in one commit"):
        commit = publisher.api.create_commit(
            repo_id, operations=operations, commit_message=commit_message, repo_type="dataset"
        )
    if not private and info.private:
        info = publisher.publish()
    repo_url = f"{publisher.endpoint}/datasets/{repo_id}"
    return PushResult(repo_url, commit.commit_url, len(operations), info.private, str(info.gated))
