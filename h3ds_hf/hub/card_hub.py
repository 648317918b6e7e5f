"""The model repository on the Hub for ``h3ds-hf card --push``: read the card, commit the files.

The card's files are read at the repository's current commit and pushed in one commit (or pull
request) on top of it, so a concurrent change makes the push fail (412) instead of being lost.
Failures are one line naming the step and the endpoint; tokens never appear in them.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, get_token
from huggingface_hub.errors import RepositoryNotFoundError

from h3ds_hf.errors import HubError
from h3ds_hf.hub.calls import HUB_FAILURES, failed_step
from h3ds_hf.hub.model_card import EVAL_RESULTS_PATH, README_PATH, CardFiles, ExistingCard
from h3ds_hf.hub.untrusted import utf8_text


def hub_api(endpoint: str | None = None, *, token_required: bool = True) -> HfApi:
    """An HfApi with the user's token (``HF_TOKEN`` or the login cache), if any.

    Raises:
        HubError: ``token_required`` and no token is available.
    """
    token = get_token()
    if not token and token_required:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return HfApi(endpoint=endpoint, token=token or None)


def read_hub(api: HfApi, model_id: str) -> ExistingCard:
    """The model repository's README.md and .eval_results/h3ds.yaml (None when absent), read
    at its current commit, and that commit.

    Raises:
        HubError: unreachable, the repository does not exist or cannot be read with this token.
    """
    step = f"reading model {model_id}"
    try:
        info = api.model_info(model_id)
        present = {sibling.rfilename for sibling in info.siblings or []}
        texts = []
        for name in (README_PATH, EVAL_RESULTS_PATH):
            if name not in present:
                texts.append(None)
                continue
            path = api.hf_hub_download(model_id, name, repo_type="model", revision=info.sha)
            texts.append(utf8_text(Path(path).read_bytes(), f"{name} of {model_id}"))
    except RepositoryNotFoundError:
        raise HubError(
            f"model repository {model_id} not found on {api.endpoint}, or not readable with your "
            "token (create it first: `hf repo create`)"
        ) from None
    except HUB_FAILURES as error:
        raise failed_step(error, step=step, endpoint=api.endpoint, token=api.token) from None
    return ExistingCard(texts[0], texts[1], info.sha)


def push_card_files(
    api: HfApi,
    model_id: str,
    files: CardFiles,
    *,
    create_pr: bool = False,
    parent_commit: str | None = None,
) -> str:
    """Upload the files in one commit (or one pull request); returns its URL.

    Args:
        parent_commit: the commit the files were merged with (:func:`read_hub`): the Hub
            refuses the commit if the branch moved since.

    Raises:
        HubError: unreachable, the repository is missing or not writable with this token, or
            the Hub refused the commit.
    """
    operations = [
        CommitOperationAdd(path_in_repo=path, path_or_fileobj=text.encode())
        for path, text in (
            (files.results_path, files.results_json),
            (EVAL_RESULTS_PATH, files.eval_results),
            (README_PATH, files.readme),
        )
    ]
    try:
        info = api.create_commit(
            model_id,
            operations,
            commit_message="Add H3DS evaluation results",
            commit_description="model-index, .eval_results and the results file they cite, "
            "written by `h3ds-hf card`.",
            repo_type="model",
            create_pr=create_pr,
            parent_commit=parent_commit,
        )
    except RepositoryNotFoundError:
        raise HubError(
            f"model repository {model_id} not found on {api.endpoint}, or not writable"
        ) from None
    except HUB_FAILURES as error:
        step = f"committing the card to {model_id}"
        raise failed_step(error, step=step, endpoint=api.endpoint, token=api.token) from None
    return str(info.pr_url if create_pr and info.pr_url else info.commit_url)
