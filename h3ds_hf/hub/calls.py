"""Calling the Hub: repo ids checked before any request, and every failure one clear line.

A Hub call can fail in many ways (offline mode, nothing listening, a proxy, HTTP 401 / 403 /
412 / 5xx with a server message that may even echo the request's headers). :func:`hub_step`
wraps a step of work and turns any of them into one :class:`~h3ds_hf.errors.HubError` that
names the step and the endpoint, with every token removed from the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub import HfApi, constants, get_token
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
)
from huggingface_hub.utils import validate_repo_id

from h3ds_hf.errors import REDACTED, HubError, register_secret, scrub

#: What a step can raise when the network or the Hub fails (offline mode and a missing local
#: entry are OSErrors too).
HUB_FAILURES = (HfHubHTTPError, httpx2.HTTPError, OSError)
#: Token-shaped text anywhere in a message: ``Bearer ...`` and ``hf_...`` strings.
_TOKEN_SHAPES = re.compile(r"(?i)(bearer\s+)\S+|\bhf_[A-Za-z0-9]{6,}")


def check_repo_id(repo_id: str, what: str = "repository") -> str:
    """``repo_id`` if it is a Hub id ``ORG/NAME``; HubError naming ``what`` otherwise.

    Checked before any request: ``a/b/c``, ``../../etc``, spaces and quotes never leave here.
    """
    try:
        if not isinstance(repo_id, str) or repo_id.count("/") != 1:
            raise HFValidationError("not ORG/NAME")
        validate_repo_id(repo_id)
    except HFValidationError:
        raise HubError(
            f"{what} {repo_id!r} is not a Hub repository id: ORG/NAME, of letters, digits, "
            "'-', '_' and '.'"
        ) from None
    return repo_id


def hub_api(endpoint: str | None = None, *, token_required: bool = True) -> HfApi:
    """An HfApi with the user's token (``HF_TOKEN`` or the login cache), if any.

    Raises:
        HubError: ``token_required`` and no token is available.
    """
    token = get_token()
    if not token and token_required:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return HfApi(endpoint=endpoint, token=token or None)


def endpoint_of(endpoint: str | None = None) -> str:
    """The Hub in use: ``endpoint``, else $HF_ENDPOINT, else huggingface.co."""
    return (endpoint or constants.ENDPOINT).rstrip("/")


def without_secrets(text: str, *secrets: str | None) -> str:
    """``text`` scrubbed of every secret the process holds (:func:`h3ds_hf.errors.scrub`), of
    ``secrets`` and of anything shaped like a token (``Bearer ...``, ``hf_...``: servers may
    echo a request's Authorization header, even one with a token we do not know)."""
    for secret in secrets:
        register_secret(secret)
    return _TOKEN_SHAPES.sub(lambda match: f"{match.group(1) or ''}{REDACTED}", scrub(text))


def hub_failure(error: BaseException, *, step: str, endpoint: str | None = None) -> str:
    """One line saying why ``step`` failed on the Hub at ``endpoint`` (tokens removed)."""
    where = endpoint_of(endpoint)
    if isinstance(error, OfflineModeIsEnabled):
        return f"{step}: offline mode is on (HF_HUB_OFFLINE=1)"
    if isinstance(error, httpx2.TransportError | LocalEntryNotFoundError | ConnectionError):
        reason = " ".join(str(error).split()) or type(error).__name__
        return f"cannot reach the Hub at {where} ({step}): {reason[:300]}"
    status = getattr(getattr(error, "response", None), "status_code", None)
    message = getattr(error, "server_message", None) or str(error).splitlines()[0]
    message = " ".join(message.split())[:300]
    if status == 401:
        text = (
            f"the Hub at {where} refused the token ({step}, 401): check HF_TOKEN or `hf auth login`"
        )
    elif status == 403:
        text = (
            f"your token cannot do this ({step}, 403): it needs write access to the repository "
            f"or its namespace; {message}"
        )
    elif status == 412:
        text = f"{step}: the repository changed meanwhile (412); run the command again"
    elif status is not None:
        text = f"the Hub at {where} failed ({step}, HTTP {status}): {message}"
    else:
        text = f"{step} failed on {where}: {message}"
    return text


def failed_step(
    error: BaseException,
    *,
    step: str,
    endpoint: str | None = None,
    token: str | None = None,
    after: str = "",
) -> HubError:
    """The one-line HubError for a failed ``step`` (tokens removed, ``after`` appended)."""
    message = hub_failure(error, step=step, endpoint=endpoint) + (f"; {after}" if after else "")
    return HubError(" ".join(without_secrets(message, token).split()))


@contextmanager
def hub_step(
    step: str, *, endpoint: str | None = None, token: str | None = None, after: str = ""
) -> Iterator[None]:
    """Run a step of Hub work; any Hub or network failure becomes one HubError.

    Args:
        step: what is being done, for the message ("creating the repository").
        endpoint: the Hub in use (default: $HF_ENDPOINT).
        token: a token to keep out of the message (the process's are removed anyway).
        after: what the user should know or do next, appended to the message.
    """
    try:
        yield
    except HubError:
        raise
    except HUB_FAILURES as error:
        raise failed_step(error, step=step, endpoint=endpoint, token=token, after=after) from None
