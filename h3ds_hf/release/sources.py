"""Byte-level access to a raw H3DS release: an extracted folder or the official encrypted zip.

A source answers three questions about paths relative to the release root (POSIX style, e.g.
``"1b2a8613401e42a8/full_head.obj"``): which files exist, and what bytes a file holds. The zip
source reads members in place, without extracting: the central directory (plain text) gives
each member's offset, and stream-unzip decrypts ZipCrypto about 70x faster than Python's
zipfile. The archive may hold the release at its root or under one top folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

import stream_unzip

from h3ds_hf.errors import (
    ArchiveError,
    CorruptArchiveError,
    MissingFileError,
    PasswordRequiredError,
    SourceError,
    UnsafeArchiveError,
    WrongPasswordError,
    get_logger,
)

logger = get_logger(__name__)

#: Environment variable holding the H3DS access token (the archive's password).
TOKEN_ENV = "H3DS_ACCESS_TOKEN"
#: Bytes read from the archive file per chunk.
CHUNK_BYTES = 1 << 20
#: A member larger than this is refused whatever its compression ratio.
MAX_MEMBER_BYTES = 8 << 30
#: A member whose declared size exceeds this many times its compressed size (and 1 MiB) is a
#: zip bomb: photos and masks barely compress, meshes about 4x.
MAX_COMPRESSION_RATIO = 200
#: Members under this folder (macOS resource forks) are ignored.
IGNORED_PREFIX = "__MACOSX/"
#: Sum of declared member sizes above which an archive is refused (the real v2 is ~10 GB).
MAX_TOTAL_BYTES = 256 << 30


class Source(Protocol):
    """Read-only access to the files of a release, by path relative to its root."""

    description: str

    def names(self) -> frozenset[str]:
        """Every file path of the release, relative to its root, POSIX style."""
        ...

    def read_bytes(self, name: str) -> bytes:
        """The bytes of one file; :class:`MissingFileError` if absent."""
        ...


class FolderSource:
    """A release extracted to a folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise MissingFileError(f"release folder {self.root} does not exist")
        self.description = str(self.root)
        self._names: frozenset[str] | None = None

    def names(self) -> frozenset[str]:
        if self._names is None:
            found = set()
            for folder, _dirs, files in os.walk(self.root):
                rel = Path(folder).relative_to(self.root).as_posix()
                prefix = "" if rel == "." else rel + "/"
                found.update(prefix + name for name in files)
            self._names = frozenset(found)
        return self._names

    def read_bytes(self, name: str) -> bytes:
        path = self.root / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise MissingFileError(f"missing file {name} in {self.description}") from None
        except OSError as error:
            raise SourceError(f"cannot read {path}: {error.strerror}") from None


@dataclass(frozen=True)
class _Member:
    """One archive member as its central directory describes it."""

    name: str  # path inside the archive
    offset: int  # of the local header
    size: int  # declared uncompressed size
    encrypted: bool


class ZipSource:
    """The official release zip (ZipCrypto-encrypted or plain), read in place.

    Args:
        path: the archive.
        token: the H3DS access token (the zip password); defaults to ``$H3DS_ACCESS_TOKEN``.
            It is kept only in memory and never shown (not even in ``repr``).
    """

    def __init__(self, path: str | Path, token: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.description = str(self.path)
        self._password = _password(token)
        members = _central_directory(self.path)
        self.prefix = _release_prefix([m.name for m in members])
        self._members = {
            m.name[len(self.prefix) :]: m for m in members if m.name.startswith(self.prefix)
        }
        self._names = frozenset(n for n in self._members if n and not n.endswith("/"))
        if any(m.encrypted for m in members) and self._password is None:
            raise PasswordRequiredError(
                f"{self.path} is encrypted: set {TOKEN_ENV} (or pass the token) to read it"
            )

    def __repr__(self) -> str:
        return f"ZipSource({str(self.path)!r})"

    def names(self) -> frozenset[str]:
        return self._names

    def read_bytes(self, name: str) -> bytes:
        member = self._members.get(name)
        if member is None or name.endswith("/"):
            raise MissingFileError(f"missing file {name} in {self.description}")
        with self.path.open("rb") as handle:
            handle.seek(member.offset)
            # Not bounded by the next member's offset: with a data descriptor (sizes stored
            # after the data, as Info-ZIP writes them) the parser reads a little past the
            # data before it knows where the member ends. Only one member is consumed.
            chunks = file_chunks(handle)
            for _name, data in self.stream_members(chunks):
                return b"".join(bounded_chunks(data, member, self.path))
        raise CorruptArchiveError(f"{self.path}: member {member.name} cannot be read")

    def member(self, name: str) -> _Member | None:
        """The central-directory entry of a release file (``name`` relative to the root)."""
        return self._members.get(name)

    def stream_members(self, chunks: Iterator[bytes]) -> Iterator[tuple[str, Iterator[bytes]]]:
        """Decrypt and inflate raw archive bytes into (member name, data chunks) pairs."""
        for name, _size, data in decrypting_members(chunks, self._password, self.path):
            yield name, data

    def archive_md5(self) -> str:
        """md5 hex digest of the whole archive file."""
        return file_md5(self.path)


def file_md5(path: Path) -> str:
    """md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in file_chunks(handle):
            digest.update(chunk)
    return digest.hexdigest()


def open_source(source: str | Path, token: str | None = None) -> FolderSource | ZipSource:
    """Open a release folder or zip archive; :class:`MissingFileError` if neither exists."""
    path = Path(source).expanduser()
    if path.is_dir():
        return FolderSource(path)
    if path.is_file():
        return ZipSource(path, token)
    raise MissingFileError(f"release source {path} does not exist")


def decrypting_members(
    chunks: Iterator[bytes], password: bytes | None, archive: Path
) -> Iterator[tuple[str, int | None, Iterator[bytes]]]:
    """Stream (name, declared size, data chunks) out of raw archive bytes, decrypting
    ZipCrypto, and translate stream-unzip's errors into this package's."""
    try:
        for raw_name, size, data in stream_unzip.stream_unzip(chunks, password=password):
            yield raw_name.decode("utf-8", errors="replace"), size, _translated(data, archive)
    except stream_unzip.UnzipError as error:
        raise _archive_error(error, archive) from None


def _translated(data: Iterator[bytes], archive: Path) -> Iterator[bytes]:
    try:
        yield from data
    except stream_unzip.UnzipError as error:
        raise _archive_error(error, archive) from None


def _archive_error(error: Exception, archive: Path) -> ArchiveError:
    if isinstance(error, stream_unzip.MissingPasswordError):
        return PasswordRequiredError(f"{archive} is encrypted: set {TOKEN_ENV} to read it")
    if isinstance(error, stream_unzip.IncorrectPasswordError):
        return WrongPasswordError(f"the access token does not decrypt {archive}")
    if isinstance(error, stream_unzip.CRC32IntegrityError):
        # ZipCrypto's password check byte passes for 1 wrong password in 256.
        return CorruptArchiveError(
            f"{archive}: a member fails its CRC check (corrupt archive or wrong access token)"
        )
    if isinstance(error, stream_unzip.TruncatedDataError):
        return CorruptArchiveError(f"{archive} is truncated")
    return CorruptArchiveError(f"{archive} is corrupt ({type(error).__name__})")


def _password(token: str | None) -> bytes | None:
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    return token.encode("utf-8") if token else None


def file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The rest of an open file, CHUNK_BYTES at a time."""
    yield from iter(lambda: handle.read(CHUNK_BYTES), b"")


def bounded_chunks(data: Iterator[bytes], member: _Member, archive: Path) -> Iterator[bytes]:
    """Pass a member's chunks through, stopping if it inflates past its declared size."""
    total = 0
    for chunk in data:
        total += len(chunk)
        if total > member.size:
            raise UnsafeArchiveError(f"{archive}: member {member.name} inflates past its size")
        yield chunk


def _central_directory(path: Path) -> list[_Member]:
    """List members from the central directory (no decryption), checking every path and
    size before anything is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise CorruptArchiveError(f"{path} is not a zip archive or is truncated") from None
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from None
    # Resource forks that macOS's archiver adds are not part of the release.
    infos = [info for info in infos if not info.filename.startswith(IGNORED_PREFIX)]
    total = 0
    members = []
    for info in infos:
        check_member_name(info.filename, path)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchiveError(f"{path}: member {info.filename} is a symbolic link")
        if info.file_size > MAX_MEMBER_BYTES or (
            info.file_size > 1 << 20
            and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
        ):
            raise UnsafeArchiveError(
                f"{path}: member {info.filename} declares {info.file_size} bytes from "
                f"{info.compress_size} (zip bomb?)"
            )
        total += info.file_size
        members.append(
            _Member(info.filename, info.header_offset, info.file_size, bool(info.flag_bits & 1))
        )
    if total > MAX_TOTAL_BYTES:
        raise UnsafeArchiveError(f"{path}: members declare {total} bytes in all (zip bomb?)")
    return members


def check_member_name(name: str, archive: Path) -> PurePosixPath:
    """Return a member's relative path, refusing names that would leave the target folder."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if (
        pure.is_absolute()
        or ".." in pure.parts
        or (pure.parts and ":" in pure.parts[0])
        or "\x00" in name
    ):
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside the target")
    return pure


def _release_prefix(names: list[str]) -> str:
    """'' when version.txt sits at the archive root, 'top/' when under one top folder."""
    if "version.txt" in names:
        return ""
    tops = {name.split("/", 1)[0] for name in names if "/" in name}
    if len(tops) == 1:
        top = tops.pop()
        if f"{top}/version.txt" in names:
            return f"{top}/"
    raise MissingFileError(
        "the archive has no version.txt at its root or under a single top folder; "
        "is it an H3DS release?"
    )
