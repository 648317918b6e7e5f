"""The ZipCrypto cipher both ways, and a writer of ZIP archives whose members use it.

The official H3DS release is a ZipCrypto archive ("traditional PKWARE encryption", APPNOTE
section 6.1): three 32-bit keys updated per plaintext byte with CRC-32 steps and a linear
congruence, and a 12-byte encryption header in front of each member's (deflated) data whose
last byte lets readers reject a wrong password early (the high byte of the member's CRC-32, or
of its DOS time when the sizes follow the data).

Readers decrypt with :class:`ZipCryptoDecryptor` (several members at once with
:func:`decrypt_together`, compiled: :mod:`h3ds_hf.release.zipcrypto_kernel`). Python's
:mod:`zipfile` reads such archives (~1 MB/s) but cannot write them, so tests, benchmarks and
the demo use :func:`pack_zip` to build encrypted look-alikes of the release.

ZipCrypto is weak; it is implemented for compatibility with the release, not for secrecy.
Archives written are plain (non-ZIP64) ZIPs: each member and the whole archive stay below
4 GiB.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import stat
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from h3ds_hf.errors import ArchiveError

__all__ = ["ZipCryptoDecryptor", "ZipCryptoEncryptor", "decrypt_together", "pack_zip"]

_CHUNK = 1 << 20  # bytes read, compressed and encrypted at a time
_LIMIT = 0xFFFFFFFF  # largest size or offset a non-ZIP64 record can hold
_MAX_ENTRIES = 0xFFFF
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # earliest DOS time: used for reproducible archives

_FLAG_ENCRYPTED = 0x0001
_FLAG_UTF8 = 0x0800
_STORED, _DEFLATED = 0, 8
_VERSION_NEEDED = 20  # 2.0: deflate, encryption, folders
_VERSION_MADE_BY = (3 << 8) | 20  # host 3 = Unix, so external attributes carry the mode bits

_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
_END_RECORD = struct.Struct("<IHHHHIIH")


def _crc_table() -> tuple[int, ...]:
    """The 256-entry table of the reflected CRC-32 (polynomial 0xEDB88320) used by the keys."""
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ 0xEDB88320 if value & 1 else value >> 1
        table.append(value)
    return tuple(table)


_CRC = _crc_table()
# The keystream byte depends only on the low 16 bits of key 2: tabulate it once.
_KEYSTREAM = bytes(((((k | 2) * ((k | 2) ^ 1)) >> 8) & 0xFF) for k in range(1 << 16))
_CRC_ARRAY = np.array(_CRC, dtype=np.uint32)
_KEYSTREAM_ARRAY = np.frombuffer(_KEYSTREAM, dtype=np.uint8)


_MULTIPLIER = 134775813  # the linear congruence of key 1
_VECTOR_MIN = 4096  # below this many bytes the plain loop is faster than the numpy path


def _crc_registers(start: int, data: np.ndarray) -> np.ndarray:
    """CRC-32 registers (no pre/post inversion) after each byte of ``data``, from ``start``.

    Args:
        start: the register before the first byte.
        data: (n,) uint8 bytes fed to the register.

    Returns:
        (n,) uint32: entry i is the register after ``data[: i + 1]``.

    The bytes are cut into about sqrt(n) blocks: zlib gives each block's starting register
    (its CRC-32 with the inversions undone), then numpy advances all blocks together one byte
    position at a time, so both loops are about sqrt(n) long.
    """
    n = len(data)
    width = max(1, int(np.sqrt(n)))
    blocks = -(-n // width)
    padded = np.zeros(blocks * width, dtype=np.uint8)
    padded[:n] = data
    starts = np.empty(blocks, dtype=np.uint32)
    register = start
    raw = padded.tobytes()
    for b in range(blocks):
        starts[b] = register
        block = raw[b * width : (b + 1) * width]
        register = zlib.crc32(block, register ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
    columns = np.ascontiguousarray(padded.reshape(blocks, width).T)  # (width, blocks)
    states = np.empty((width, blocks), dtype=np.uint32)
    table = _CRC_ARRAY
    current = starts
    for j in range(width):
        current = (current >> 8) ^ table[(current ^ columns[j]) & 0xFF]
        states[j] = current
    return states.T.reshape(-1)[:n]


@functools.cache
def _powers(base: int) -> np.ndarray:
    """(_CHUNK + 1,) uint32 powers base**0 .. base**_CHUNK modulo 2**32 (computed once)."""
    factors = np.full(_CHUNK + 1, base, dtype=np.uint32)
    factors[0] = 1
    return np.cumprod(factors, dtype=np.uint32)


class ZipCryptoEncryptor:
    """Stateful ZipCrypto cipher of one member, initialised from the password.

    Call :meth:`encrypt` on the 12-byte encryption header first, then on the member's data in
    order, as many times as needed (the key state carries over between calls).
    """

    def __init__(self, password: bytes) -> None:
        self._k0, self._k1, self._k2 = 0x12345678, 0x23456789, 0x34567890
        self._encrypt_loop(password)

    @property
    def keys(self) -> tuple[int, int, int]:
        """The three keys as they stand (after the password, then every byte encrypted)."""
        return self._k0, self._k1, self._k2

    def encrypt(self, plain: bytes) -> bytes:
        """Return ``plain`` encrypted (same length), advancing the key state."""
        if len(plain) < _VECTOR_MIN:
            return self._encrypt_loop(plain)
        view = memoryview(plain)
        return b"".join(
            self._encrypt_vector(view[i : i + _CHUNK]) for i in range(0, len(plain), _CHUNK)
        )

    def _encrypt_loop(self, plain: bytes) -> bytes:
        """Byte-at-a-time cipher, the APPNOTE's definition (fast enough for short inputs)."""
        crc, stream = _CRC, _KEYSTREAM
        k0, k1, k2 = self._k0, self._k1, self._k2
        out = bytearray(len(plain))
        for i, p in enumerate(plain):
            out[i] = p ^ stream[k2 & 0xFFFF]
            k0 = (k0 >> 8) ^ crc[(k0 ^ p) & 0xFF]
            k1 = ((k1 + (k0 & 0xFF)) * _MULTIPLIER + 1) & 0xFFFFFFFF
            k2 = (k2 >> 8) ^ crc[(k2 ^ (k1 >> 24)) & 0xFF]
        self._k0, self._k1, self._k2 = k0, k1, k2
        return bytes(out)

    def _encrypt_vector(self, plain: bytes | memoryview) -> bytes:
        """The same cipher for up to _CHUNK bytes, with every key sequence computed by numpy.

        Encryption updates the keys with the plaintext, which is known up front, so the three
        key sequences can be computed without the ciphertext: key 0 and key 2 are CRC-32
        registers over known bytes (:func:`_crc_registers`) and key 1 is an affine recurrence
        modulo 2**32, k1[i] = a * k1[i-1] + a * b[i] + 1 with a odd, hence invertible:
        with u[i] = a**-i * k1[i], u[i] = u[i-1] + a**-(i-1) * b[i] + a**-i is a prefix sum.
        """
        data = np.frombuffer(plain, dtype=np.uint8)
        n = len(data)
        k0 = _crc_registers(self._k0, data)
        low = (k0 & 0xFF).astype(np.uint32)
        inverse = _powers(pow(_MULTIPLIER, -1, 1 << 32))[: n + 1]  # a**-i, i = 0..n
        with np.errstate(over="ignore"):  # uint32 arithmetic is meant to wrap modulo 2**32
            terms = inverse[:-1] * low + inverse[1:]
            u = np.cumsum(terms, dtype=np.uint32) + np.uint32(self._k1)
            k1 = _powers(_MULTIPLIER)[1 : n + 1] * u
        k2 = _crc_registers(self._k2, (k1 >> 24).astype(np.uint8))
        previous = np.empty(n, dtype=np.uint32)  # key 2 before each byte drives its keystream
        previous[0] = self._k2
        previous[1:] = k2[:-1]
        cipher = data ^ _KEYSTREAM_ARRAY[previous & 0xFFFF]
        self._k0, self._k1, self._k2 = int(k0[-1]), int(k1[-1]), int(k2[-1])
        return cipher.tobytes()


#: Below this many bytes in all, decryption runs in Python until the kernel is loaded:
#: loading it costs numba's start-up (~0.5 s), for what takes Python a few milliseconds.
_COMPILED_MIN = 16 << 10
_KERNEL_MODULE = "h3ds_hf.release.zipcrypto_kernel"


class ZipCryptoDecryptor:
    """Stateful ZipCrypto decipher of one member, initialised from the password.

    Call :meth:`decrypt` on the 12-byte encryption header first, then on the member's data in
    order (the key state carries over between calls).
    """

    def __init__(self, password: bytes) -> None:
        self.keys = list(ZipCryptoEncryptor(password).keys)  # the same keys, from the password

    def decrypt(self, cipher: bytes) -> bytes:
        """Return ``cipher`` decrypted (same length), advancing the key state."""
        return decrypt_together([self], [cipher])[0]

    def _decrypt_loop(self, cipher: bytes) -> bytes:
        """Byte-at-a-time decipher, the APPNOTE's definition (fast enough for short inputs)."""
        crc, stream = _CRC, _KEYSTREAM
        k0, k1, k2 = self.keys
        out = bytearray(len(cipher))
        for i, c in enumerate(cipher):
            p = c ^ stream[k2 & 0xFFFF]
            out[i] = p
            k0 = (k0 >> 8) ^ crc[(k0 ^ p) & 0xFF]
            k1 = ((k1 + (k0 & 0xFF)) * _MULTIPLIER + 1) & 0xFFFFFFFF
            k2 = (k2 >> 8) ^ crc[(k2 ^ (k1 >> 24)) & 0xFF]
        self.keys = [k0, k1, k2]
        return bytes(out)


def decrypt_together(decryptors: list[ZipCryptoDecryptor], ciphers: list[bytes]) -> list[bytes]:
    """Decrypt one chunk for each of several members (``ciphers[i]`` with ``decryptors[i]``),
    four members at a time in the compiled kernel, whose speed grows with the members it is
    given (up to four), as long as their chunks are about as long."""
    loaded = _KERNEL_MODULE in sys.modules  # then the kernel costs nothing more to use
    if not loaded and sum(len(c) for c in ciphers) < _COMPILED_MIN:
        return [d._decrypt_loop(c) for d, c in zip(decryptors, ciphers, strict=True)]
    from h3ds_hf.release.zipcrypto_kernel import STREAMS, decrypt_rows  # numba: when needed

    pairs = list(zip(decryptors, ciphers, strict=True))
    plains = []
    for first in range(0, len(pairs), STREAMS):
        group = pairs[first : first + STREAMS]
        data = np.zeros((STREAMS, max(len(c) for _, c in group)), dtype=np.uint8)
        lengths = np.zeros(STREAMS, dtype=np.int64)
        keys = np.zeros((STREAMS, 3), dtype=np.uint32)
        for row, (decryptor, cipher) in enumerate(group):
            data[row, : len(cipher)] = np.frombuffer(cipher, dtype=np.uint8)
            lengths[row] = len(cipher)
            keys[row] = decryptor.keys
        decrypt_rows(data, lengths, keys, _CRC_ARRAY)
        for row, (decryptor, cipher) in enumerate(group):
            decryptor.keys = [int(k) for k in keys[row]]
            plains.append(data[row, : len(cipher)].tobytes())
    return plains


@dataclass
class _Entry:
    """Central-directory facts about one member already written."""

    name: bytes
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    compressed_size: int
    size: int
    external_attr: int
    offset: int


def _members(folder: Path) -> Iterator[tuple[Path, str]]:
    """Yield (path, relative posix name) for every folder and file under ``folder``, sorted.

    Folder names end with '/'. Symbolic links are followed for files (their content is packed)
    and rejected for folders, so the archive never depends on where links point to.
    """
    for path in sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()):
        name = path.relative_to(folder).as_posix()
        if path.is_dir():
            if path.is_symlink():
                raise ArchiveError(f"refusing to pack the linked folder {path}")
            yield path, name + "/"
        elif path.is_file():
            yield path, name
        else:
            raise ArchiveError(f"cannot pack {path}: not a regular file or folder")


def _dos_date_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    """Pack (Y, M, D, h, m, s) into the DOS (time, date) pair of ZIP headers."""
    year, month, day, hour, minute, second = date_time
    year = min(max(year, 1980), 2107)
    dos_time = (hour << 11) | (minute << 5) | (second // 2)
    dos_date = ((year - 1980) << 9) | (month << 5) | day
    return dos_time, dos_date


def _crc_and_size(path: Path) -> tuple[int, int]:
    """CRC-32 and size of a file, read in chunks (memory independent of the size)."""
    crc, size = 0, 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return crc, size


def _encryption_header(crc: int, name: bytes, deterministic: bool) -> bytes:
    """The 12 plaintext bytes put before an encrypted member: 11 salt bytes + CRC high byte."""
    if deterministic:
        salt = hashlib.sha256(b"h3ds-hf zipcrypto salt\0" + name + crc.to_bytes(4, "little"))
        head = salt.digest()[:11]
    else:
        head = secrets.token_bytes(11)
    return head + bytes([crc >> 24])


def _write_member(
    out: BinaryIO,
    path: Path,
    name: str,
    password: bytes | None,
    *,
    compress: bool,
    deterministic: bool,
) -> _Entry:
    """Write one local header and the member's (deflated, encrypted) data at ``out``'s end."""
    raw_name = name.encode("utf-8")
    is_dir = name.endswith("/")
    info = path.stat()
    date_time = _FIXED_DATE_TIME if deterministic else time.localtime(info.st_mtime)[:6]
    dos_time, dos_date = _dos_date_time(date_time)
    mode = (stat.S_IFDIR | 0o755) if is_dir else (stat.S_IFREG | (info.st_mode & 0o777))
    external_attr = (mode << 16) | (0x10 if is_dir else 0)  # 0x10: MS-DOS folder bit
    flags = _FLAG_UTF8 if not raw_name.isascii() else 0
    crc, size = (0, 0) if is_dir else _crc_and_size(path)
    # Folders carry no data: like Info-ZIP, store them unencrypted and uncompressed.
    encrypt = password is not None and not is_dir
    method = _DEFLATED if compress and not is_dir else _STORED
    if encrypt:
        flags |= _FLAG_ENCRYPTED
    if size > _LIMIT:
        raise ArchiveError(f"{path} is larger than 4 GiB; ZIP64 is not supported")

    offset = out.tell()
    header = _LOCAL_HEADER.pack(
        0x04034B50, _VERSION_NEEDED, flags, method, dos_time, dos_date,
        crc, 0, size, len(raw_name), 0,
    )  # fmt: skip
    out.write(header + raw_name)
    data_start = out.tell()
    if not is_dir:
        cipher = ZipCryptoEncryptor(password) if encrypt and password is not None else None
        if cipher is not None:
            out.write(cipher.encrypt(_encryption_header(crc, raw_name, deterministic)))
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15) if method == _DEFLATED else None
        with path.open("rb") as stream:
            while True:
                chunk = stream.read(_CHUNK)
                last = not chunk
                data = chunk
                if deflater is not None:
                    data = deflater.flush() if last else deflater.compress(chunk)
                if data:
                    out.write(cipher.encrypt(data) if cipher is not None else data)
                if last:
                    break
    compressed_size = out.tell() - data_start
    if compressed_size > _LIMIT or offset > _LIMIT:
        raise ArchiveError("the archive would exceed 4 GiB; ZIP64 is not supported")
    # Patch the compressed size (offset 18 of the local header) now that it is known.
    end = out.tell()
    out.seek(offset + 18)
    out.write(struct.pack("<I", compressed_size))
    out.seek(end)
    return _Entry(
        raw_name, flags, method, dos_time, dos_date, crc, compressed_size, size,
        external_attr, offset,
    )  # fmt: skip


def _write_central_directory(out: BinaryIO, entries: list[_Entry]) -> None:
    """Write the central directory and the end-of-central-directory record."""
    start = out.tell()
    for e in entries:
        out.write(
            _CENTRAL_HEADER.pack(
                0x02014B50,
                _VERSION_MADE_BY,
                _VERSION_NEEDED,
                e.flags,
                e.method,
                e.dos_time,
                e.dos_date,
                e.crc,
                e.compressed_size,
                e.size,
                len(e.name),
                0,
                0,
                0,
                0,
                e.external_attr,
                e.offset,
            )
            + e.name
        )
    size = out.tell() - start
    if start + size > _LIMIT:
        raise ArchiveError("the archive would exceed 4 GiB; ZIP64 is not supported")
    out.write(_END_RECORD.pack(0x06054B50, 0, 0, len(entries), len(entries), size, start, 0))


def pack_zip(
    folder: str | os.PathLike[str],
    zip_path: str | os.PathLike[str],
    password: str | None,
    *,
    top_folder: str | None = None,
    compress: bool = True,
    deterministic: bool = False,
) -> Path:
    """Pack every file and folder under ``folder`` into a ZIP, ZipCrypto-encrypted if asked.

    Args:
        folder: the folder whose content becomes the archive's content.
        zip_path: the archive to write; written atomically (temporary sibling + rename), and
            replaced if it exists.
        password: encrypt every file member with traditional PKWARE encryption using the UTF-8
            bytes of this password; ``None`` writes an unencrypted archive.
        top_folder: put the members under this single top folder (e.g. "h3ds") instead of at
            the archive root, as some distributions do.
        compress: deflate the members (zlib level 6); otherwise store them.
        deterministic: use fixed timestamps and salt bytes derived from the member, so the
            same input always gives the same archive bytes (for reproducible md5 sums).

    Returns:
        The path of the archive.

    Raises:
        ArchiveError: ``folder`` is not a folder, holds something other than regular files and
            folders, or the archive would need ZIP64 (a member or the archive above 4 GiB, or
            more than 65535 members).
    """
    source = Path(folder)
    target = Path(zip_path)
    if not source.is_dir():
        raise ArchiveError(f"cannot pack {source}: not a folder")
    prefix = ""
    if top_folder is not None:
        prefix = top_folder.strip("/") + "/"
        if prefix == "/" or ".." in prefix.split("/"):
            raise ArchiveError(f"invalid top folder name {top_folder!r}")
    secret = None if password is None else password.encode("utf-8")
    members = [(source, prefix)] if prefix else []
    members += [(path, prefix + name) for path, name in _members(source)]
    if len(members) > _MAX_ENTRIES:
        raise ArchiveError(f"{len(members)} members exceed the 65535 of a non-ZIP64 archive")

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w+b") as out:
            entries = [
                _write_member(
                    out, path, name, secret, compress=compress, deterministic=deterministic
                )
                for path, name in members
            ]
            _write_central_directory(out, entries)
        Path(temporary).chmod(0o644)  # mkstemp creates 0600 files
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
