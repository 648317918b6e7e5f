"""Loading the gated Hub dataset with an error that says how to get access.

The Hub answers 401 (not logged in) or 403 (access not granted yet) for a gated dataset;
datasets turns that into a generic ``DatasetNotFoundError``. :func:`load_h3ds` translates it
into :class:`~h3ds_hf.errors.GatedDatasetError` naming the page where access is requested.
"""

from __future__ import annotations

from typing import Any

import datasets
from datasets.exceptions import DatasetNotFoundError
from huggingface_hub import constants
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from h3ds_hf.benchmark.names import DEFAULT_CONFIG
from h3ds_hf.errors import GatedDatasetError, HubError


def dataset_page(repo_id: str) -> str:
    """The dataset's page on the Hub in use ($HF_ENDPOINT, by default huggingface.co)."""
    return f"{constants.ENDPOINT.rstrip('/')}/datasets/{repo_id}"


def _gated(repo_id: str, status: int | None) -> GatedDatasetError:
    why = "you are not logged in" if status == 401 else "your access is not granted yet"
    return GatedDatasetError(
        f"{repo_id} is a gated dataset and {why}: request access at "
        f"{dataset_page(repo_id)} and log in (`hf auth login` or $HF_TOKEN)"
    )


def _missing(repo_id: str) -> HubError:
    return HubError(
        f"dataset {repo_id} does not exist on {constants.ENDPOINT} or is private "
        "(log in with `hf auth login` or $HF_TOKEN if you have access)"
    )


def hub_error(error: BaseException, repo_id: str) -> HubError | None:
    """The H3DS error for a Hub access failure anywhere in ``error``'s chain, else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, GatedRepoError):
            status = current.response.status_code if current.response is not None else None
            return _gated(repo_id, status)
        if isinstance(current, RepositoryNotFoundError):
            return _missing(repo_id)
        if isinstance(current, HfHubHTTPError) and current.response is not None:
            status = current.response.status_code
            if status in {401, 403}:
                return GatedDatasetError(
                    f"no access to dataset {repo_id} (HTTP {status}): request access at "
                    f"{dataset_page(repo_id)} and log in (`hf auth login` or $HF_TOKEN)"
                )
        if isinstance(current, DatasetNotFoundError):
            # datasets re-raises its own error `from None` after a cache lookup, which drops
            # the Hub error from the chain: its message is all that is left.
            text = str(current)
            if "gated dataset" in text:
                return _gated(repo_id, 401 if "authenticated" in text else 403)
            if "doesn't exist on the Hub" in text:
                return _missing(repo_id)
        current = current.__cause__ or current.__context__
    return None


def load_h3ds(
    repo_id: str,
    config: str = DEFAULT_CONFIG,
    split: str | None = "test",
    *,
    token: str | bool | None = None,
    **kwargs: Any,
) -> datasets.Dataset | datasets.DatasetDict | datasets.IterableDataset:
    """``datasets.load_dataset(repo_id, config, split=split, token=token, **kwargs)`` whose
    access failures become :class:`GatedDatasetError` (with the page to request access) or
    :class:`HubError`. The token defaults to $HF_TOKEN or the login cache."""
    try:
        return datasets.load_dataset(repo_id, config, split=split, token=token, **kwargs)
    except (DatasetNotFoundError, HfHubHTTPError, ConnectionError) as error:
        translated = hub_error(error, repo_id)
        if translated is None:
            raise
        # One clear exception: the Hub error stays reachable as __context__, unprinted.
        raise translated from None
