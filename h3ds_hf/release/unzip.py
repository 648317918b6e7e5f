"""Reading archive members from their own spans: decryption, inflation and checks.

A member's span (local header, data, optional data descriptor) is known from the central
directory, and :class:`~h3ds_hf.release.sources.ZipSource` checks when it opens that the spans
tile the archive and that each local header agrees with its directory entry. Its data is then
exactly ``compressed`` bytes ending at ``end``: they are decrypted (ZipCrypto), inflated
(deflate) with the output bounded by the declared size, and checked against the entry's size
and CRC-32 at the end. :func:`write_members` reads up to four members at once, so that their
decryption runs four times as fast.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from h3ds_hf.errors import (
    CorruptArchiveError,
    PasswordRequiredError,
    UnsafeArchiveError,
    WrongPasswordError,
)
from h3ds_hf.processes import StopFlag
from h3ds_hf.release.zipcrypto import ZipCryptoDecryptor, decrypt_together

#: Environment variable holding the H3DS access token (the archive's password).
TOKEN_ENV = "H3DS_ACCESS_TOKEN"
#: Archive bytes read, and most bytes inflated, per member at a time.
CHUNK_BYTES = 1 << 20
#: Compression methods read: stored and deflated (what zip tools write for the release).
STORED, DEFLATED = 0, 8
#: Members read together by :func:`write_members` (the decryption kernel's streams).
_TOGETHER = 4
_ENCRYPTION_HEADER = 12


@dataclass(frozen=True)
class ArchiveMember:
    """One archive member as its central directory describes it (offsets in the archive)."""

    name: str  # path inside the archive
    offset: int  # of the local header
    size: int  # declared uncompressed size
    encrypted: bool
    crc: int  # CRC-32 of the uncompressed bytes
    end: int  # where the member's data ends (its data descriptor excluded)
    stop: int  # where its span ends: the next member's offset, or the central directory
    compressed: int  # bytes of data (the 12-byte encryption header included)
    method: int  # STORED or DEFLATED
    check_byte: int  # what the encryption header's last byte decrypts to (if encrypted)


class MemberReader:
    """The data of one member, chunk by chunk: :meth:`read` the next raw chunk, decrypt it
    (with :attr:`decryptor`, alone or together with other members'), then :meth:`inflate` it;
    :meth:`finish` when :attr:`done`.

    Raises:
        PasswordRequiredError, WrongPasswordError: an encrypted member without the right token.
        CorruptArchiveError: data that does not inflate, or to other bytes than the entry says.
        UnsafeArchiveError: data inflating past the declared size.
    """

    def __init__(
        self, handle: BinaryIO, member: ArchiveMember, password: bytes | None, archive: Path
    ) -> None:
        self.member = member
        self._handle = handle
        self._archive = archive
        self._position = member.end - member.compressed
        self._remaining = member.compressed
        self._inflater = zlib.decompressobj(-15) if member.method == DEFLATED else None
        self._size = 0
        self._crc = 0
        self.decryptor: ZipCryptoDecryptor | None = None
        if member.encrypted:
            if password is None:
                raise PasswordRequiredError(f"{archive} is encrypted: set {TOKEN_ENV} to read it")
            if member.compressed < _ENCRYPTION_HEADER:
                raise CorruptArchiveError(f"{archive}: member {member.name} is truncated")
            self.decryptor = ZipCryptoDecryptor(password)
            header = self.decryptor.decrypt(self.read(_ENCRYPTION_HEADER))
            if header[-1] != member.check_byte:
                raise _wrong_password(archive, password)

    @property
    def done(self) -> bool:
        """Whether every byte of the member's data has been read."""
        return self._remaining == 0

    def read(self, limit: int = CHUNK_BYTES) -> bytes:
        """The next raw (still encrypted) bytes of the member's data, at most ``limit``."""
        self._handle.seek(self._position)
        raw = self._handle.read(min(limit, self._remaining))
        if not raw:
            raise CorruptArchiveError(f"{self._archive} is truncated")
        self._position += len(raw)
        self._remaining -= len(raw)
        return raw

    def inflate(self, data: bytes) -> Iterator[bytes]:
        """The member's bytes held in ``data`` (decrypted), in chunks of at most CHUNK_BYTES:
        a zip bomb never inflates in memory past what its entry declares."""
        if self._inflater is None:
            yield self._counted(data)
            return
        while True:
            try:
                out = self._inflater.decompress(data, CHUNK_BYTES)
            except zlib.error:
                raise self._corrupt() from None
            data = self._inflater.unconsumed_tail
            if out:
                yield self._counted(out)
            if self._inflater.eof:
                if data or self._inflater.unused_data:
                    raise self._corrupt()
                return
            # A call cut at CHUNK_BYTES may have taken in all the input and kept output back.
            if not data and len(out) < CHUNK_BYTES:
                return

    def finish(self) -> None:
        """Check, once every byte was read and inflated, that they are the entry's."""
        complete = self._inflater is None or self._inflater.eof
        if not complete or self._size != self.member.size or self._crc != self.member.crc:
            raise self._corrupt()

    def _counted(self, chunk: bytes) -> bytes:
        self._size += len(chunk)
        if self._size > self.member.size:
            raise UnsafeArchiveError(
                f"{self._archive}: member {self.member.name} inflates past its size"
            )
        self._crc = zlib.crc32(chunk, self._crc)
        return chunk

    def _corrupt(self) -> CorruptArchiveError:
        if self.member.encrypted:  # ZipCrypto's check byte passes 1 wrong password in 256
            return CorruptArchiveError(
                f"{self._archive}: a member fails its CRC check (corrupt archive or wrong "
                "access token)"
            )
        return CorruptArchiveError(
            f"{self._archive}: member {self.member.name} holds other bytes than its directory "
            "entry says"
        )


def member_chunks(archive: Path, member: ArchiveMember, password: bytes | None) -> Iterator[bytes]:
    """One member's bytes, read from its span, decrypted, inflated and checked."""
    with archive.open("rb") as handle:
        reader = MemberReader(handle, member, password, archive)
        while not reader.done:
            raw = reader.read()
            yield from reader.inflate(reader.decryptor.decrypt(raw) if reader.decryptor else raw)
        reader.finish()


def write_members(
    archive: Path,
    members: list[ArchiveMember],
    password: bytes | None,
    destination: Callable[[ArchiveMember], Path | None],
    progress: list[int],
    cancelled: StopFlag,
) -> None:
    """Write each member's bytes to ``destination(member)`` (None: read and check only, as
    for folder entries), up to four members at once.

    Args:
        progress: a one-item list, increased by the archive bytes read as they are.
        cancelled: set by another thread to stop between chunks.
    """
    pending = iter(members)
    open_now: list[tuple[MemberReader, BinaryIO | None]] = []
    with archive.open("rb") as handle:
        try:
            while not cancelled.is_set():
                while len(open_now) < _TOGETHER and (member := next(pending, None)):
                    reader = MemberReader(handle, member, password, archive)
                    path = destination(member)
                    out = path.open("wb") if path is not None else None
                    open_now.append((reader, out))
                if not open_now:
                    return
                raws = [reader.read() if not reader.done else b"" for reader, _ in open_now]
                encrypted = [i for i, (reader, _) in enumerate(open_now) if reader.decryptor]
                plains = decrypt_together(
                    [open_now[i][0].decryptor for i in encrypted], [raws[i] for i in encrypted]
                )
                for i, plain in zip(encrypted, plains, strict=True):
                    raws[i] = plain
                still_open = []
                for (reader, out), data in zip(open_now, raws, strict=True):
                    for chunk in reader.inflate(data):
                        if out is not None:
                            out.write(chunk)
                    if reader.done:
                        reader.finish()
                        if out is not None:
                            out.close()
                        progress[0] += reader.member.stop - reader.member.offset
                    else:
                        still_open.append((reader, out))
                open_now = still_open
        finally:
            for _, out in open_now:
                if out is not None:
                    out.close()


def _wrong_password(archive: Path, password: bytes) -> WrongPasswordError:
    hint = (
        " (it begins or ends with white space or a newline: was it pasted with one?)"
        if password != password.strip()
        else " (each release version has its own token: a v1 token does not open v2)"
    )
    return WrongPasswordError(f"the access token does not decrypt {archive}{hint}")
