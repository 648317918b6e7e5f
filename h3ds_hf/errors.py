"""One exception hierarchy for everything h3ds_hf refuses to do.

Every error the package raises on purpose derives from :class:`H3DSError`, so callers (and the
CLI, which turns them into one line on stderr) can catch the whole family at once. Messages are
written for the person at the keyboard: they name the file, scene or option at fault and never
contain a token or password; :func:`scrub` removes any secret from text of another source
(a server's error body, a library's exception) before it is printed, logged or written.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os


class H3DSError(Exception):
    """Base class of every error raised on purpose by h3ds_hf."""


class CatalogError(H3DSError):
    """A catalog (release description) is missing, unreadable or inconsistent."""


class UnknownSceneError(H3DSError, KeyError, FileNotFoundError):
    """A scene id is not part of the catalog in use.

    Also a FileNotFoundError: h3ds 0.4.0 reads a scene's files by path, so code written for
    it catches that (and KeyError, which its catalog lookups raise).
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownViewsConfigError(H3DSError, KeyError):
    """A views config (e.g. '3') is not defined for a scene or release."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownTagError(H3DSError, ValueError):
    """A scene tag (e.g. 'h3d-net') is used by no scene of the catalog."""


class UnknownRegionError(H3DSError, ValueError, FileNotFoundError):
    """A region id is not one of 'face', 'face_sphere', 'nose'.

    Also a FileNotFoundError, what h3ds 0.4.0 raises (it opens ``regions/<id>.txt``).
    """


class SourceError(H3DSError):
    """The raw release (folder or zip) cannot be used."""


class MissingFileError(SourceError, FileNotFoundError):
    """A file the layout requires is absent; the message names it."""


class MalformedFileError(SourceError, ValueError):
    """A file exists but its content is invalid (bad OBJ, indices out of range, NaN, ...)."""


class ArchiveError(SourceError):
    """The release zip cannot be read safely."""


class PasswordRequiredError(ArchiveError):
    """The archive is encrypted and no access token was given."""


class WrongPasswordError(ArchiveError):
    """The access token does not decrypt the archive."""


class CorruptArchiveError(ArchiveError):
    """The archive is truncated, or a member fails its CRC or size checks."""


class ChecksumError(ArchiveError):
    """The archive's md5 differs from the one the catalog records for the release."""


class UnsafeArchiveError(ArchiveError):
    """A member would escape the target folder, or sizes suggest a zip bomb."""


class OutputExistsError(H3DSError, FileExistsError):
    """An output folder exists and was not written by h3ds_hf."""


class EvaluationError(H3DSError, ValueError):
    """A reconstruction cannot be scored (invalid mesh, landmarks, degenerate alignment)."""


class ExportError(H3DSError, ValueError):
    """An export or camera check cannot be made as asked (format, options, thresholds)."""


class MissingLandmarkError(EvaluationError, KeyError):
    """Predicted landmarks lack one the ground truth has (a KeyError, as in h3ds 0.4.0)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class LandmarkIndexError(EvaluationError, IndexError):
    """A predicted landmark's vertex index is not an integer in range (an IndexError, as in
    h3ds 0.4.0)."""


class WorkerDiedError(H3DSError):
    """A worker process of ``--jobs`` stopped abruptly (killed, or out of memory)."""


class HubError(H3DSError):
    """A Hugging Face Hub operation failed (no token, no access, repository missing)."""


class GatedDatasetError(HubError):
    """The dataset is gated and the caller has not been granted access yet."""


# ---------------------------------------------------------------------- secrets

#: Environment variables that may hold a secret: the H3DS access token and the Hub tokens.
SECRET_ENV = ("H3DS_ACCESS_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
#: Replacement of a secret in scrubbed text.
REDACTED = "[REDACTED]"
#: Shorter values are not scrubbed: replacing every "a" of a message would hide the message
#: itself, and no real token is this short.
_MIN_SECRET_LENGTH = 4
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret handed to the package by argument (e.g. a ``token=`` parameter), so
    that :func:`scrub` removes it too. Kept only in this process's memory."""
    if value:
        _registered.add(value)


def secrets_held() -> set[str]:
    """Every secret this process holds: registered ones, the environment's, and the
    huggingface_hub login cache's token (read lazily, only if huggingface_hub is installed)."""
    found = set(_registered)
    found.update(os.environ.get(name) or "" for name in SECRET_ENV)
    found.add(_login_cache_token())
    # A token pasted with a trailing newline is the same secret.
    found |= {value.strip() for value in found}
    return {value for value in found if len(value) >= _MIN_SECRET_LENGTH}


@functools.cache
def _login_cache_token() -> str:
    """The huggingface_hub login cache's token, read once ('' if none)."""
    # Lazy: huggingface_hub is never imported when h3ds_hf is; an unreadable login cache (or
    # no huggingface_hub at all) holds nothing to hide.
    with contextlib.suppress(Exception):
        from huggingface_hub import get_token

        return get_token() or ""
    return ""


def scrub(text: str) -> str:
    """``text`` with every secret of :func:`secrets_held` replaced by ``[REDACTED]``, whatever
    the text's source (an exception, a server's echoed error body, a log record)."""
    for value in sorted(secrets_held(), key=len, reverse=True):  # longest first: no leftovers
        text = text.replace(value, REDACTED)
    return text


class SecretFilter(logging.Filter):
    """A logging filter that scrubs secrets from each record's final message (attach it to a
    handler to cover every logger, or to a logger for that logger's own records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return True


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` whose records are scrubbed of secrets whatever handler the
    application configured (the package's modules log through these)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, SecretFilter) for f in logger.filters):
        logger.addFilter(SecretFilter())
    return logger
