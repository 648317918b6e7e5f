"""Byte-level access to a raw H3DS release: an extracted folder or the official encrypted zip.

A source answers three questions about paths relative to the release root (POSIX style, e.g.
``"1b2a8613401e42a8/full_head.obj"``): which files exist, and what bytes a file holds. The zip
source reads members in place, without extracting: the central directory (plain text) gives
each member's offset, and stream-unzip decrypts ZipCrypto about 70x faster than Python's
zipfile. The archive may hold the release at its root or under one top folder.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import re
import stat
import struct
import zipfile
import zlib
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
    register_secret,
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
#: Most members an archive may have: the real v2 has ~12,000 (59 scenes of up to 98 photos
#: and masks, a mesh and a few text files each, plus folders).
MAX_MEMBERS = 30_000
#: Largest member read into memory in place; bigger ones are read from an extracted release.
#: A full_head.obj of the real releases is well under it.
MAX_IN_PLACE_BYTES = 512 << 20
#: Deepest member path (folders) and longest path part, as file systems allow them.
MAX_PATH_PARTS = 16
MAX_PART_BYTES = 255
#: File names Windows reserves in every folder, whatever their extension.
_RESERVED = re.compile(r"(con|prn|aux|nul|com\d|lpt\d|conin\$|conout\$)(\..*)?", re.IGNORECASE)
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


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
    crc: int = 0  # CRC-32 of the uncompressed bytes
    end: int = 0  # where the member's compressed data ends (its data descriptor excluded)


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
        register_secret(token)
        ignored: list[_Member] = []  # members never read (macOS resource forks)
        members, directory_start = _central_directory(self.path, ignored)
        #: Every member in archive order, as a streaming reader meets them.
        self.ordered = sorted(members, key=lambda m: m.offset)
        #: Byte spans of the archive holding the ignored members, never inflated.
        self.skipped = _ignored_spans(ignored, [m.offset for m in members], directory_start)
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
        if member.size > MAX_IN_PLACE_BYTES:
            raise UnsafeArchiveError(
                f"{self.path}: member {member.name} inflates to {member.size} bytes, more than "
                f"the {MAX_IN_PLACE_BYTES >> 20} MiB read in place: extract the release "
                "(h3ds-hf extract) and use the folder"
            )
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
            name = raw_name.decode("utf-8", errors="replace")
            yield name, size, _translated(data, archive, password)
    except stream_unzip.UnzipError as error:
        raise _archive_error(error, archive, password) from None


def _translated(data: Iterator[bytes], archive: Path, password: bytes | None) -> Iterator[bytes]:
    try:
        yield from data
    except stream_unzip.UnzipError as error:
        raise _archive_error(error, archive, password) from None


def _archive_error(error: Exception, archive: Path, password: bytes | None) -> ArchiveError:
    if isinstance(error, stream_unzip.MissingPasswordError):
        return PasswordRequiredError(f"{archive} is encrypted: set {TOKEN_ENV} to read it")
    if isinstance(error, stream_unzip.IncorrectPasswordError):
        hint = (
            " (it begins or ends with white space or a newline: was it pasted with one?)"
            if password and password != password.strip()
            else " (each release version has its own token: a v1 token does not open v2)"
        )
        return WrongPasswordError(f"the access token does not decrypt {archive}{hint}")
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
    """Pass a member's chunks through, stopping if it inflates past the size its central
    directory entry declares; at the end, its size and CRC-32 must be that entry's."""
    total = 0
    crc = 0
    for chunk in data:
        total += len(chunk)
        if total > member.size:
            raise UnsafeArchiveError(f"{archive}: member {member.name} inflates past its size")
        crc = zlib.crc32(chunk, crc)
        yield chunk
    if total != member.size or crc != member.crc:
        raise CorruptArchiveError(
            f"{archive}: member {member.name} holds other bytes than its directory entry says"
        )


def _central_directory(path: Path, ignored: list[_Member]) -> tuple[list[_Member], int]:
    """List members from the central directory (no decryption), checking every path, size and
    local header before anything is read; ignored members go to ``ignored``.

    Returns:
        the members to read, and the offset where the central directory starts.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            directory_start = archive.start_dir
    except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, struct.error, EOFError):
        raise CorruptArchiveError(
            f"{path} is not a zip archive, is truncated or has undecodable member names"
        ) from None
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from None
    if len(infos) > MAX_MEMBERS:
        raise UnsafeArchiveError(
            f"{path}: {len(infos)} members, more than an H3DS release holds ({MAX_MEMBERS})"
        )
    # Names that land on one file count as one: 'a/./x', 'a//x' and 'a/x' everywhere, and
    # 'a/X' too on the file systems that ignore case (macOS, Windows).
    landing: dict[str, list[str]] = {}
    for info in infos:
        landing.setdefault(_landing_key(info.filename), []).append(info.filename)
    twice = sorted(names[0] for names in landing.values() if len(names) > 1)[:3]
    if twice:
        raise UnsafeArchiveError(f"{path}: member names appear twice: {twice}")
    total = 0
    members = []
    with path.open("rb") as handle:
        for info in infos:
            check_member_name(info.filename, path)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveError(f"{path}: member {info.filename} is a symbolic link")
            end = _check_local_header(handle, info, path)
            member = _Member(
                info.filename,
                info.header_offset,
                info.file_size,
                bool(info.flag_bits & 1),
                info.CRC,
                end,
            )
            # Resource forks that macOS's archiver adds are not part of the release.
            if info.filename.startswith(IGNORED_PREFIX):
                ignored.append(member)
                continue
            if info.file_size > MAX_MEMBER_BYTES or (
                info.file_size > 1 << 20
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
            ):
                raise UnsafeArchiveError(
                    f"{path}: member {info.filename} declares {info.file_size} bytes from "
                    f"{info.compress_size} (zip bomb?)"
                )
            total += info.file_size
            members.append(member)
    if total > MAX_TOTAL_BYTES:
        raise UnsafeArchiveError(f"{path}: members declare {total} bytes in all (zip bomb?)")
    spans = sorted((m.offset, m.end, m.name) for m in [*members, *ignored])
    for (_, end, name), (start, _, following) in itertools.pairwise(spans):
        if end > start:
            raise UnsafeArchiveError(f"{path}: members {name} and {following} overlap")
    return members, directory_start


def _ignored_spans(
    ignored: list[_Member], offsets: list[int], directory_start: int
) -> list[tuple[int, int]]:
    """(start, stop) byte spans of the ignored members: each from its local header to the next
    member's (or the central directory), so its data descriptor goes with it."""
    starts = sorted([*offsets, *(m.offset for m in ignored), directory_start])
    spans = []
    for member in sorted(ignored, key=lambda m: m.offset):
        stop = starts[bisect.bisect_right(starts, member.offset)]
        spans.append((member.offset, stop))
    return spans


def without_spans(chunks: Iterator[bytes], spans: list[tuple[int, int]]) -> Iterator[bytes]:
    """The archive's chunks with the bytes of ``spans`` (sorted, disjoint) left out."""
    position = 0
    for chunk in chunks:
        end = position + len(chunk)
        cursor = position
        for start, stop in spans:
            if stop <= cursor or start >= end:
                continue
            if start > cursor:
                yield chunk[cursor - position : start - position]
            cursor = max(cursor, min(stop, end))
        if cursor < end:
            yield chunk[cursor - position :]
        position = end


def _check_local_header(handle: BinaryIO, info: zipfile.ZipInfo, path: Path) -> int:
    """Refuse a member whose local header (what a streaming reader sees) disagrees with its
    central directory entry (what the listing shows); return where its data ends."""
    handle.seek(info.header_offset)
    raw = handle.read(_LOCAL_HEADER.size)
    if len(raw) < _LOCAL_HEADER.size:
        raise CorruptArchiveError(f"{path}: member {info.filename} points past the archive end")
    (signature, _version, flags, method, _time, _date, crc, compressed, size, name_length,
     extra_length) = _LOCAL_HEADER.unpack(raw)  # fmt: skip
    raw_name = handle.read(name_length)
    expected = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    mismatch = (
        signature != b"PK\x03\x04"
        or raw_name != expected
        or (flags & 0x0009) != (info.flag_bits & 0x0009)
        or method != info.compress_type
    )
    if not flags & 0x0008:  # sizes and CRC in the local header (else in a data descriptor)
        mismatch |= crc != info.CRC
        if 0xFFFFFFFF not in (size, compressed):  # zip64: the sizes are in the extra field
            mismatch |= size != info.file_size or compressed != info.compress_size
    if mismatch:
        raise UnsafeArchiveError(
            f"{path}: the local header of member {info.filename!r} disagrees with the central "
            "directory (name, sizes, CRC or flags): refused"
        )
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size


def _landing_key(name: str) -> str:
    """Where a member lands, compared without case: its non-empty, non-'.' parts (a folder
    entry keeps its trailing '/')."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return "/".join(parts).casefold() + ("/" if name.endswith("/") else "")


def check_member_name(name: str, archive: Path) -> PurePosixPath:
    """Return a member's relative path, refusing names that would leave the target folder or
    mean something else on another system: absolute, '..', a drive letter, a backslash or a
    colon in any part, a Windows reserved name, NUL, or too deep or long a path."""
    pure = PurePosixPath(name)
    parts = [part for part in name.split("/") if part]
    if (
        pure.is_absolute()
        or "\\" in name
        or "\x00" in name
        or any(part == ".." or ":" in part or _RESERVED.fullmatch(part) for part in parts)
    ):
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside the target")
    if len(parts) > MAX_PATH_PARTS or any(len(part.encode()) > MAX_PART_BYTES for part in parts):
        raise UnsafeArchiveError(f"{archive}: member {name[:80]!r}... has too deep or long a path")
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
