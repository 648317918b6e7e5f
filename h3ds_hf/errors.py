"""One exception hierarchy for everything h3ds_hf refuses to do.

Every error the package raises on purpose derives from :class:`H3DSError`, so callers (and the
CLI, which turns them into one line on stderr) can catch the whole family at once. Messages are
written for the person at the keyboard: they name the file, scene or option at fault and never
contain a token or password.
"""

from __future__ import annotations


class H3DSError(Exception):
    """Base class of every error raised on purpose by h3ds_hf."""


class CatalogError(H3DSError):
    """A catalog (release description) is missing, unreadable or inconsistent."""


class UnknownSceneError(H3DSError, KeyError):
    """A scene id is not part of the catalog in use."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownViewsConfigError(H3DSError, KeyError):
    """A views config (e.g. '3') is not defined for a scene or release."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownTagError(H3DSError, ValueError):
    """A scene tag (e.g. 'h3d-net') is used by no scene of the catalog."""


class UnknownRegionError(H3DSError, ValueError):
    """A region id is not one of 'face', 'face_sphere', 'nose'."""


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


class HubError(H3DSError):
    """A Hugging Face Hub operation failed (no token, no access, repository missing)."""


class GatedDatasetError(HubError):
    """The dataset is gated and the caller has not been granted access yet."""
