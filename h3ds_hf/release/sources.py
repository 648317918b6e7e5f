"""Byte-level access to a raw H3DS release: an extracted folder or the official encrypted zip.

A source answers three questions about paths relative to the release root (POSIX style, e.g.
``"1b2a8613401e42a8/full_head.obj"``): which files exist, and what bytes a file holds. The zip
source reads members in place, without extracting: the central directory (plain text) gives
each member's span, every one checked before anything is read (names, sizes, local headers,
and that the spans tile the archive), and :mod:`h3ds_hf.release.unzip` decrypts ZipCrypto
about 70x faster than Python's zipfile. The archive may hold the release at its root or under
one top folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from h3ds_hf.errors import (
    ArchiveError,
    CorruptArchiveError,
    MissingFileError,
    PasswordRequiredError,
    SourceError,
    UnsafeArchiveError,
    get_logger,
    register_secret,
)
from h3ds_hf.release.unzip import (
    CHUNK_BYTES,
    DEFLATED,
    STORED,
    TOKEN_ENV,
    ArchiveMember,
    member_chunks,
)

logger = get_logger(__name__)

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
#: A data descriptor (CRC-32, compressed and uncompressed sizes after a member's data, flag bit
#: 3), 32- or 64-bit sizes, optionally after its signature.
_DESCRIPTOR = struct.Struct("<III")
_DESCRIPTOR_64 = struct.Struct("<IQQ")
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"


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
        members = _central_directory(self.path)
        #: Every member but the ignored ones (macOS resource forks, never read), in archive
        #: order.
        self.ordered = sorted(members, key=lambda m: m.offset)
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
        return b"".join(member_chunks(self.path, member, self._password))

    @property
    def password(self) -> bytes | None:
        """The token as the archive's password (never shown)."""
        return self._password

    def member(self, name: str) -> ArchiveMember | None:
        """The central-directory entry of a release file (``name`` relative to the root)."""
        return self._members.get(name)

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


def _password(token: str | None) -> bytes | None:
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    return token.encode("utf-8") if token else None


def file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The rest of an open file, CHUNK_BYTES at a time."""
    yield from iter(lambda: handle.read(CHUNK_BYTES), b"")


def _central_directory(path: Path) -> list[ArchiveMember]:
    """List members from the central directory (no decryption), checking every path, size,
    method and local header, and that the members tile the archive, before anything is read.
    Members under IGNORED_PREFIX are checked, then left out."""
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
    for key, names in landing.items():  # a file where another member needs a folder
        parts = key.rstrip("/").split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in landing:
                raise UnsafeArchiveError(
                    f"{path}: member {landing['/'.join(parts[:depth])][0]!r} is a file, but "
                    f"{names[0]!r} needs a folder there"
                )
    total = 0
    with path.open("rb") as handle:
        headers = []
        for info in infos:
            check_member_name(info.filename, path)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveError(f"{path}: member {info.filename} is a symbolic link")
            headers.append(_check_local_header(handle, info, path))
            if info.filename.startswith(IGNORED_PREFIX):
                continue
            if info.compress_type not in (STORED, DEFLATED) or info.flag_bits & 0x0040:
                raise ArchiveError(
                    f"{path}: member {info.filename} is compressed or encrypted another way "
                    f"(method {info.compress_type}) than H3DS releases (stored or deflated, "
                    "ZipCrypto): not read"
                )
            if info.file_size > MAX_MEMBER_BYTES or (
                info.file_size > 1 << 20
                and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
            ):
                raise UnsafeArchiveError(
                    f"{path}: member {info.filename} declares {info.file_size} bytes from "
                    f"{info.compress_size} (zip bomb?)"
                )
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise UnsafeArchiveError(f"{path}: members declare {total} bytes in all (zip bomb?)")
        ends = [end for end, _ in headers]
        stops = _check_tiling(handle, list(zip(infos, ends, strict=True)), directory_start, path)
    members = []
    for info, (end, dos_time) in zip(infos, headers, strict=True):
        if info.filename.startswith(IGNORED_PREFIX):  # macOS's resource forks: not the release
            continue
        members.append(
            ArchiveMember(
                info.filename,
                info.header_offset,
                info.file_size,
                bool(info.flag_bits & 1),
                info.CRC,
                end,
                stops[info.header_offset],
                info.compress_size,
                info.compress_type,
                # With the sizes after the data, the CRC is not known up front: zip tools
                # check the password against the DOS time's high byte instead.
                (dos_time >> 8) if info.flag_bits & 0x0008 else info.CRC >> 24,
            )
        )
    return members


def _check_tiling(
    handle: BinaryIO, spans: list[tuple[zipfile.ZipInfo, int]], directory_start: int, path: Path
) -> dict[int, int]:
    """Refuse any archive byte that no directory entry accounts for: the members, each its
    local header, data and (with flag bit 3) a data descriptor agreeing with its entry, must
    follow one another from offset 0 up to the central directory. Without this, junk or a
    whole member left out of the directory would sit unnoticed between the members read.
    (What a member's data holds is checked as it is read: inflated to exactly its end, size
    and CRC-32. The data of ignored members is never read; in them, and in stored members
    with a data descriptor, a streaming reader may find other members than the directory.)

    Args:
        spans: (directory entry, where its data ends) per member, in any order.

    Returns:
        Where each member's span stops, by the offset of its local header.
    """
    spans = sorted(spans, key=lambda span: span[0].header_offset)
    first = spans[0][0].header_offset if spans else directory_start
    if first != 0:
        raise UnsafeArchiveError(
            f"{path}: {first} bytes before its first member belong to no member: refused"
        )
    if not spans:
        return {}
    starts = [info.header_offset for info, _ in spans[1:]] + [directory_start]
    stops = {}
    for (info, end), start in zip(spans, starts, strict=True):
        if end > start:
            raise UnsafeArchiveError(f"{path}: member {info.filename} overlaps the next one")
        gap = b""
        if start > end:
            handle.seek(end)
            gap = handle.read(min(start - end, 4 + _DESCRIPTOR_64.size + 1))
        if gap and not (info.flag_bits & 0x0008 and _is_descriptor_of(gap, info)):
            raise UnsafeArchiveError(
                f"{path}: {start - end} bytes after member {info.filename} belong to no member "
                "(or its data descriptor disagrees with its directory entry): refused"
            )
        stops[info.header_offset] = start
    return stops


def _is_descriptor_of(raw: bytes, info: zipfile.ZipInfo) -> bool:
    """Whether ``raw`` is exactly one data descriptor carrying the entry's CRC-32 and sizes."""
    if len(raw) in (4 + _DESCRIPTOR.size, 4 + _DESCRIPTOR_64.size) and raw.startswith(
        _DESCRIPTOR_SIGNATURE
    ):
        raw = raw[4:]
    layout = {_DESCRIPTOR.size: _DESCRIPTOR, _DESCRIPTOR_64.size: _DESCRIPTOR_64}.get(len(raw))
    return layout is not None and layout.unpack(raw) == (
        info.CRC,
        info.compress_size,
        info.file_size,
    )


def _check_local_header(handle: BinaryIO, info: zipfile.ZipInfo, path: Path) -> tuple[int, int]:
    """Refuse a member whose local header (what a streaming reader sees) disagrees with its
    central directory entry (what the listing shows); return where its data ends, and the
    header's DOS time."""
    handle.seek(info.header_offset)
    raw = handle.read(_LOCAL_HEADER.size)
    if len(raw) < _LOCAL_HEADER.size:
        raise CorruptArchiveError(f"{path}: member {info.filename} points past the archive end")
    (signature, _version, flags, method, dos_time, _date, crc, compressed, size, name_length,
     extra_length) = _LOCAL_HEADER.unpack(raw)  # fmt: skip
    raw_name = handle.read(name_length)
    extra = handle.read(extra_length)
    expected = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    mismatch = (
        signature != b"PK\x03\x04"
        or raw_name != expected
        or (flags & 0x0009) != (info.flag_bits & 0x0009)
        or method != info.compress_type
    )
    if not flags & 0x0008:  # sizes and CRC in the local header (else in a data descriptor)
        mismatch |= crc != info.CRC
        if 0xFFFFFFFF in (size, compressed):  # zip64: both sizes are in the extra field
            size, compressed = _zip64_sizes(extra)
        mismatch |= size != info.file_size or compressed != info.compress_size
    if mismatch:
        raise UnsafeArchiveError(
            f"{path}: the local header of member {info.filename!r} disagrees with the central "
            "directory (name, sizes, CRC or flags): refused"
        )
    data = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    return data + info.compress_size, dos_time


def _zip64_sizes(extra: bytes) -> tuple[int | None, int | None]:
    """(uncompressed, compressed) sizes from a local header's ZIP64 extra field (which holds
    both there); (None, None) if it has none."""
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, position)
        if position + 4 + length > len(extra):
            break  # a record running past the field: malformed
        if tag == 0x0001 and length >= 16:
            return struct.unpack_from("<QQ", extra, position + 4)
        position += 4 + length
    return None, None


def _landing_key(name: str) -> str:
    """Where a member lands, compared as the most forgiving file systems compare names: its
    non-empty, non-'.' parts, without case, Unicode-normalised (macOS), trailing dots and
    spaces dropped (Windows); a folder entry keeps its trailing '/'."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    folded = [unicodedata.normalize("NFC", part).casefold().rstrip(". ") for part in parts]
    return "/".join(folded) + ("/" if name.endswith("/") else "")


def check_member_name(name: str, archive: Path) -> None:
    """Refuse names that would leave the target folder or mean something else on another
    system: absolute, '..', a drive letter, a backslash or a colon in any part, a Windows
    reserved name, NUL, or too deep or long a path. (String tests only: pathlib would cost
    ~20 us a member, 0.6 s for the largest archives accepted.)"""
    parts = [part for part in name.split("/") if part]
    if (
        name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(part == ".." or ":" in part or _RESERVED.fullmatch(part) for part in parts)
    ):
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside the target")
    if len(parts) > MAX_PATH_PARTS or any(len(part.encode()) > MAX_PART_BYTES for part in parts):
        raise UnsafeArchiveError(f"{archive}: member {name[:80]!r}... has too deep or long a path")


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
