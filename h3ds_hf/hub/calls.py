"""Calling the Hub: repo ids checked before any request, and every failure one clear line.

A Hub call can fail in many ways (nothing listening, a proxy, HTTP 401/403/404/5xx with a
server message that may even echo the request's headers). :func:`hub_step` wraps a step of
work and turns any of them into one :class:`~h3ds_hf.errors.HubError` that names the step and
the endpoint, with every token the process holds removed from the text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub import constants
from huggingface_hub.errors import HfHubHTTPError, HFValidationError
from huggingface_hub.utils import validate_repo_id

from h3ds_hf.errors import HubError

#: What a step can raise when the network or the Hub fails.
HUB_FAILURES = (HfHubHTTPError, httpx2.HTTPError, OSError)


def check_repo_id(repo_id: str, *, what: str = "repository") -> str:
    """``repo_id`` if it is a Hub id ``namespace/name``; HubError (one line) otherwise."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        repo_id = None  # type: ignore[assignment]
    if not repo_id or repo_id.count("/") != 1:
        raise HubError(
            f"invalid {what} id: expected NAMESPACE/NAME with letters, digits, '-', '_' or '.' "
            "(no '--' or '..', at most 96 characters)"
        )
    return repo_id


def endpoint_of(endpoint: str | None = None) -> str:
    """The Hub in use: ``endpoint``, else $HF_ENDPOINT, else huggingface.co."""
    return (endpoint or constants.ENDPOINT).rstrip("/")


def without_secrets(text: str, *secrets: str | None) -> str:
    """``text`` with each of ``secrets`` and the process's $HF_TOKEN / $H3DS_ACCESS_TOKEN
    replaced by ``[token]`` (servers may echo a request's Authorization header)."""
    held = [*secrets, os.environ.get("HF_TOKEN"), os.environ.get("H3DS_ACCESS_TOKEN")]
    for secret in sorted({s.strip() for s in held if s and s.strip()}, key=len, reverse=True):
        text = text.replace(secret, "[token]")
    return text


def failure_reason(error: BaseException) -> str:
    """A short reason for a failed Hub call: status and server message, or the network error."""
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        message = error.server_message or str(error).splitlines()[0]
        if status in {401, 403}:
            message = f"{message} (does the token have write access to this namespace?)"
        return f"HTTP {status}: {message}" if status else message
    reason = str(error).strip() or type(error).__name__
    return f"cannot connect ({reason})" if isinstance(error, httpx2.TransportError) else reason


@contextmanager
def hub_step(
    step: str, *, endpoint: str | None = None, token: str | None = None, after: str = ""
) -> Iterator[None]:
    """Run a step of Hub work; any Hub or network failure becomes one HubError.

    Args:
        step: what is being done, for the message ("creating the repository").
        endpoint: the Hub in use (default: $HF_ENDPOINT).
        token: a token to keep out of the message (the environment's are removed anyway).
        after: what the user should know or do next, appended to the message.
    """
    try:
        yield
    except HUB_FAILURES as error:
        message = f"{step} failed on {endpoint_of(endpoint)}: {failure_reason(error)}"
        message = " ".join(without_secrets(message, token).split())
        raise HubError(f"{message}{'; ' + after if after else ''}") from None
