"""ZipCrypto archives of h3ds_hf.release.zipcrypto open with zipfile, stream-unzip and unzip."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from stream_unzip import stream_unzip

from h3ds_hf.errors import ArchiveError
from h3ds_hf.release.zipcrypto import (
    ZipCryptoDecryptor,
    ZipCryptoEncryptor,
    decrypt_together,
    pack_zip,
)

PASSWORD = "tëst-tøken"  # non-ASCII on purpose: the password is used as UTF-8 bytes


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Files of every kind the release has: text, binary (incompressible), empty, nested."""
    root = tmp_path / "src"
    (root / "scene" / "image").mkdir(parents=True)
    (root / "scene" / "regions").mkdir()
    (root / "version.txt").write_text("synthetic-0.1\n")
    rng = random.Random(0)
    (root / "scene" / "image" / "img_0000.jpg").write_bytes(rng.randbytes(70_000))
    (root / "scene" / "full_head.obj").write_text("v 1.5 2.25 -3.0\n" * 5000)
    (root / "scene" / "regions" / "empty.txt").write_bytes(b"")
    (root / "scene" / "naïve.txt").write_text("unicode name\n")
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _chunks(path: Path, size: int = 65536):
    with path.open("rb") as stream:
        while chunk := stream.read(size):
            yield chunk


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 70_001, (1 << 20) + 3])
def test_vectorised_cipher_equals_the_bytewise_definition(size: int) -> None:
    data = random.Random(size).randbytes(size)
    bytewise, vectorised = ZipCryptoEncryptor(b"pw"), ZipCryptoEncryptor(b"pw")
    expected = bytewise._encrypt_loop(data) + bytewise._encrypt_loop(data[:5000])
    assert vectorised.encrypt(data) + vectorised.encrypt(data[:5000]) == expected


def test_zipfile_decrypts_the_cipher_output() -> None:
    """Python's own ZipCrypto decrypter is an independent oracle for the keystream."""
    data = random.Random(1).randbytes(20_000)
    decrypter = zipfile._ZipDecrypter(PASSWORD.encode())
    assert decrypter(ZipCryptoEncryptor(PASSWORD.encode()).encrypt(data)) == data


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("top_folder", [None, "h3ds"])
def test_zipfile_reads_the_archive(
    folder: Path, tmp_path: Path, compress: bool, top_folder: str | None
) -> None:
    archive = pack_zip(
        folder, tmp_path / "out.zip", PASSWORD, top_folder=top_folder, compress=compress
    )
    prefix = f"{top_folder}/" if top_folder else ""
    with zipfile.ZipFile(archive) as z:
        infos = {info.filename: info for info in z.infolist()}
        for name, content in _files(folder).items():
            info = infos[prefix + name]
            assert info.flag_bits & 0x1
            assert info.compress_type == (zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
            assert z.read(info, pwd=PASSWORD.encode()) == content
        assert prefix + "scene/image/" in infos and infos[prefix + "scene/image/"].is_dir()
        if top_folder:
            assert all(name.startswith(prefix) for name in infos)


def test_stream_unzip_reads_the_archive(folder: Path, tmp_path: Path) -> None:
    archive = pack_zip(folder, tmp_path / "out.zip", PASSWORD, top_folder="h3ds")
    found = {}
    for name, _, chunks in stream_unzip(_chunks(archive), password=PASSWORD.encode()):
        found[name.decode()] = b"".join(chunks)
    expected = {f"h3ds/{name}": content for name, content in _files(folder).items()}
    assert {k: v for k, v in found.items() if not k.endswith("/")} == expected


def test_info_zip_reads_the_archive(folder: Path, tmp_path: Path) -> None:
    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("Info-ZIP unzip is not installed")
    archive = pack_zip(folder, tmp_path / "out.zip", PASSWORD)
    target = tmp_path / "extracted"
    result = subprocess.run(
        [unzip, "-q", "-P", PASSWORD, str(archive), "-d", str(target)],
        capture_output=True,
        check=False,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    assert result.returncode == 0, result.stderr
    assert _files(target) == _files(folder)


def test_a_wrong_password_is_rejected(folder: Path, tmp_path: Path) -> None:
    archive = pack_zip(folder, tmp_path / "out.zip", PASSWORD, deterministic=True)
    with zipfile.ZipFile(archive) as z:
        # The check byte catches 255 of 256 wrong passwords, the CRC the rest.
        with pytest.raises((RuntimeError, zipfile.BadZipFile)):
            z.read("scene/full_head.obj", pwd=b"not the token")
        with pytest.raises(RuntimeError):  # encrypted: no password, no data
            z.read("version.txt")


def test_without_password_the_archive_is_plain(folder: Path, tmp_path: Path) -> None:
    archive = pack_zip(folder, tmp_path / "out.zip", None)
    with zipfile.ZipFile(archive) as z:
        assert not any(info.flag_bits & 0x1 for info in z.infolist())
        assert {n: z.read(n) for n in z.namelist() if not n.endswith("/")} == _files(folder)


def test_deterministic_archives_repeat_byte_for_byte(folder: Path, tmp_path: Path) -> None:
    first = pack_zip(folder, tmp_path / "a.zip", PASSWORD, deterministic=True).read_bytes()
    second = pack_zip(folder, tmp_path / "b.zip", PASSWORD, deterministic=True).read_bytes()
    salted = pack_zip(folder, tmp_path / "c.zip", PASSWORD).read_bytes()
    assert first == second
    assert salted != first and len(salted) == len(first)


def test_writes_are_atomic(folder: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.zip"
    target.write_bytes(b"previous")
    with pytest.raises(ArchiveError):
        pack_zip(tmp_path / "missing", target, PASSWORD)
    (folder / "scene" / "link").symlink_to(tmp_path / "nowhere")  # neither file nor folder
    with pytest.raises(ArchiveError):
        pack_zip(folder, target, PASSWORD)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip", "src"]
    (folder / "scene" / "link").unlink()
    pack_zip(folder, target, PASSWORD)
    assert zipfile.is_zipfile(target)


@pytest.mark.parametrize("streams", [1, 3, 4, 6])
def test_decryption_undoes_encryption_alone_and_together(streams):
    """Chunks of several members decrypted together (the compiled kernel, four at a time, rows
    of unequal lengths) or alone (Python, for short inputs) give back each member's bytes; the
    encryptor itself is checked against zipfile's reader above."""
    rng = random.Random(streams)
    password = PASSWORD.encode()
    plains = [rng.randbytes(rng.choice([0, 7, 5_000, 70_000, 300_000])) for _ in range(streams)]
    ciphers = [ZipCryptoEncryptor(password).encrypt(plain) for plain in plains]
    decryptors = [ZipCryptoDecryptor(password) for _ in plains]
    cuts = [rng.randrange(len(cipher) + 1) for cipher in ciphers]
    first = decrypt_together(decryptors, [c[:cut] for c, cut in zip(ciphers, cuts, strict=True)])
    second = decrypt_together(decryptors, [c[cut:] for c, cut in zip(ciphers, cuts, strict=True)])
    assert [a + b for a, b in zip(first, second, strict=True)] == plains
    single = ZipCryptoDecryptor(password)
    assert single.decrypt(ciphers[-1][:11]) + single.decrypt(ciphers[-1][11:]) == plains[-1]
    # The Python loop (used for short inputs until the kernel is loaded), whatever is loaded.
    assert ZipCryptoDecryptor(password)._decrypt_loop(ciphers[0][:3000]) == plains[0][:3000]
