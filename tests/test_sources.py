"""Reading the release from a folder or in place from the (encrypted) zip; safe extraction."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from zip_writers import Unseekable

from h3ds_hf.errors import (
    ChecksumError,
    CorruptArchiveError,
    MissingFileError,
    OutputExistsError,
    PasswordRequiredError,
    UnsafeArchiveError,
    WrongPasswordError,
)
from h3ds_hf.release.catalog import Catalog
from h3ds_hf.release.extract import extract_release
from h3ds_hf.release.reader import open_release
from h3ds_hf.release.sources import FolderSource, ZipSource, open_source


def tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under folder, hidden files excepted."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_zip_reads_like_the_folder(synthetic):
    folder = FolderSource(synthetic.folder)
    archive = ZipSource(synthetic.zip_path, token=synthetic.token)
    assert archive.prefix == "h3ds/"
    assert archive.names() == folder.names()
    for name in sorted(folder.names())[:: max(1, len(folder.names()) // 25)]:
        assert archive.read_bytes(name) == folder.read_bytes(name)


def test_token_from_environment_and_never_shown(synthetic, monkeypatch):
    monkeypatch.setenv("H3DS_ACCESS_TOKEN", synthetic.token)
    source = open_source(synthetic.zip_path)
    assert isinstance(source, ZipSource)
    assert source.read_bytes("version.txt").strip() == b"synthetic-0.1"
    assert synthetic.token not in repr(source) + str(vars(source).get("description"))


def test_wrong_or_missing_password(synthetic):
    with pytest.raises(WrongPasswordError, match="does not decrypt"):
        ZipSource(synthetic.zip_path, token="not-the-token").read_bytes("version.txt")
    with pytest.raises(PasswordRequiredError, match="H3DS_ACCESS_TOKEN"):
        ZipSource(synthetic.zip_path)


def test_md5_is_checked_against_the_catalog(synthetic):
    release = open_release(synthetic.zip_path, catalog=synthetic.catalog, token=synthetic.token)
    assert release.missing() == []
    wrong = Catalog("synthetic", synthetic.catalog.version, "0" * 32, synthetic.catalog.scenes)
    with pytest.raises(ChecksumError, match="expects 0000"):
        open_release(synthetic.zip_path, catalog=wrong, token=synthetic.token)


def test_truncated_and_corrupt_archives(synthetic, tmp_path):
    data = synthetic.zip_path.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptArchiveError, match="truncated"):
        ZipSource(truncated, token=synthetic.token)
    corrupt = tmp_path / "corrupt.zip"
    source = ZipSource(synthetic.zip_path, token=synthetic.token)
    member = source.member(f"{synthetic.catalog.scene_ids()[0]}/full_head.obj")
    flipped = bytearray(data)
    flipped[member.offset + 200 : member.offset + 216] = bytes(16)
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(CorruptArchiveError):
        ZipSource(corrupt, token=synthetic.token).read_bytes(member.name.split("/", 1)[1])


def _plain_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


#: Extraction in one pass, and shared out between worker processes (large archives).
JOBS = pytest.mark.parametrize("jobs", [1, 2], ids=["one-pass", "processes"])


@JOBS
@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "top/../../evil", "C:/evil.txt"])
def test_members_escaping_the_target_are_refused(tmp_path, name, jobs):
    archive = _plain_zip(tmp_path / "evil.zip", {"version.txt": b"0.4\n", name: b"x"})
    with pytest.raises(UnsafeArchiveError, match="outside the target"):
        extract_release(archive, tmp_path / "out", progress=False, jobs=jobs)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path.parent / "evil.txt").exists()


def test_zip_bomb_is_refused(tmp_path):
    archive = _plain_zip(tmp_path / "bomb.zip", {"version.txt": b"0.4\n", "a.bin": bytes(64 << 20)})
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        ZipSource(archive)


def test_archive_without_release_layout(tmp_path):
    archive = _plain_zip(tmp_path / "other.zip", {"a/readme.txt": b"hi", "b/x.txt": b"x"})
    with pytest.raises(MissingFileError, match=r"version\.txt"):
        ZipSource(archive)


@JOBS
def test_extract_matches_folder_and_is_idempotent(synthetic, tmp_path, jobs):
    target = tmp_path / "extracted"
    extract_release(
        synthetic.zip_path,
        target,
        token=synthetic.token,
        catalog=synthetic.catalog,
        progress=False,
        jobs=jobs,
    )
    assert tree(target) == tree(synthetic.folder)
    marker = json.loads((target / ".h3ds-hf-extract.json").read_text())
    assert marker["md5"] == hashlib.md5(synthetic.zip_path.read_bytes()).hexdigest()
    before = (target / ".h3ds-hf-extract.json").stat().st_mtime_ns
    extract_release(
        synthetic.zip_path, target, token=synthetic.token, catalog=synthetic.catalog, progress=False
    )
    assert (target / ".h3ds-hf-extract.json").stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extracted"]


def test_extract_refuses_foreign_output(synthetic, tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        extract_release(synthetic.zip_path, target, token=synthetic.token, progress=False)
    assert (target / "notes.txt").read_text() == "mine"


@JOBS
def test_a_member_whose_inflation_ends_past_a_chunk_is_read(tmp_path, jobs):
    """Inflating in bounded calls: one may take in all the input yet keep its last output
    back (found for a member 129 bytes past 1 MiB that compresses 3.4x); it must come out."""
    body = random.Random(1).randbytes(309_897) + bytes((1 << 20) + 129 - 309_897)
    archive = _plain_zip(tmp_path / "tail.zip", {"version.txt": b"x\n", "mask.png": body})
    assert ZipSource(archive).read_bytes("mask.png") == body
    extract_release(archive, tmp_path / "out", progress=False, jobs=jobs)
    assert (tmp_path / "out" / "mask.png").read_bytes() == body


@JOBS
def test_corrupt_member_fails_extraction_and_leaves_nothing(synthetic, tmp_path, jobs):
    """A member whose data is damaged opens fine (the directory is intact): the error comes
    from the worker that inflates it, or from the one pass."""
    source = ZipSource(synthetic.zip_path, token=synthetic.token)
    member = source.member(f"{synthetic.catalog.scene_ids()[-1]}/full_head.obj")
    flipped = bytearray(synthetic.zip_path.read_bytes())
    flipped[member.offset + 200 : member.offset + 216] = bytes(16)
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(CorruptArchiveError):
        extract_release(corrupt, tmp_path / "out", token=synthetic.token, progress=False, jobs=jobs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.zip"]


@JOBS
@pytest.mark.parametrize("token", ["wrong-token", None])
def test_failed_extraction_leaves_nothing(synthetic, tmp_path, token, jobs):
    expected = WrongPasswordError if token else PasswordRequiredError
    with pytest.raises(expected):
        extract_release(
            synthetic.zip_path,
            tmp_path / "out",
            token=token,
            catalog=synthetic.catalog,
            progress=False,
            jobs=jobs,
        )
    assert list(tmp_path.iterdir()) == []


@JOBS
def test_md5_mismatch_during_extraction_leaves_nothing(synthetic, tmp_path, jobs):
    wrong = Catalog("synthetic", synthetic.catalog.version, "f" * 32, synthetic.catalog.scenes)
    with pytest.raises(ChecksumError):
        extract_release(
            synthetic.zip_path,
            tmp_path / "out",
            token=synthetic.token,
            catalog=wrong,
            progress=False,
            jobs=jobs,
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs Info-ZIP's zip command")
@JOBS
@pytest.mark.parametrize("top_folder", [False, True])
def test_info_zip_archives_with_data_descriptors(synthetic, tmp_path, top_folder, jobs):
    """Info-ZIP stores sizes after the data (flag bit 3) when encrypting: read them in place,
    and ignore the __MACOSX folder macOS's archiver adds."""
    root = tmp_path / "h3ds"
    shutil.copytree(synthetic.folder, root)
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "._version.txt").write_bytes(b"\x00\x05\x16\x07")
    archive = tmp_path / "infozip.zip"
    members = ["h3ds", "__MACOSX"] if top_folder else ["."]
    cwd = tmp_path if top_folder else root
    subprocess.run(["zip", "-q", "-r", "-P", "pw", str(archive), *members], cwd=cwd, check=True)
    source = ZipSource(archive, token="pw")
    assert any(info.flag_bits & 8 for info in zipfile.ZipFile(archive).infolist())
    folder = FolderSource(synthetic.folder)
    assert source.names() == folder.names()
    for name in sorted(folder.names())[:: max(1, len(folder.names()) // 15)]:
        assert source.read_bytes(name) == folder.read_bytes(name)
    extract_release(archive, tmp_path / "out", token="pw", progress=False, jobs=jobs)
    assert tree(tmp_path / "out") == tree(synthetic.folder)


#: Files of a small release as zip tools meet them: text, incompressible, empty, tiny.
_WRITERS_FILES = {
    "top/version.txt": b"x\n",
    "top/s1/empty.txt": b"",
    "top/s1/a.obj": b"v 1 2 3\n" * 40_000,
    "top/s1/r.jpg": random.Random(0).randbytes(300_000),
    "top/s1/small.txt": b"hi",
}


def _zipfile_archive(path: Path, *, zip64: bool, seekable: bool, stored: bool = False) -> Path:
    compression = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with (
        path.open("wb") as sink,
        zipfile.ZipFile(sink if seekable else Unseekable(sink), "w", compression) as archive,
    ):
        archive.mkdir("top/empty_dir/")
        for name, data in _WRITERS_FILES.items():
            with archive.open(name, "w", force_zip64=zip64) as member:
                member.write(data)
    return path


def _info_zip_archive(path: Path, *options: str, streaming: bool = False) -> Path:
    root = path.parent / "files"
    for name, data in _WRITERS_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    if streaming:  # zip - ... > archive: sizes after the data, as from a pipe
        with path.open("wb") as out:
            subprocess.run(
                ["zip", "-q", *options, "-", "-r", "top"], cwd=root, stdout=out, check=True
            )
    else:
        subprocess.run(["zip", "-q", *options, "-r", str(path), "top"], cwd=root, check=True)
    return path


_WRITERS = {
    "zipfile": lambda p: _zipfile_archive(p, zip64=False, seekable=True),
    "zipfile-stored": lambda p: _zipfile_archive(p, zip64=False, seekable=True, stored=True),
    "zipfile-zip64": lambda p: _zipfile_archive(p, zip64=True, seekable=True),
    "zipfile-unseekable": lambda p: _zipfile_archive(p, zip64=False, seekable=False),
    "zipfile-unseekable-zip64": lambda p: _zipfile_archive(p, zip64=True, seekable=False),
    "info-zip": _info_zip_archive,
    "info-zip-encrypted": lambda p: _info_zip_archive(p, "-P", "pw"),
    "info-zip-encrypted-stored": lambda p: _info_zip_archive(p, "-0", "-P", "pw"),
    "info-zip-streaming": lambda p: _info_zip_archive(p, streaming=True),
    "info-zip-streaming-encrypted": lambda p: _info_zip_archive(p, "-P", "pw", streaming=True),
}


@pytest.mark.parametrize("writer", sorted(_WRITERS))
def test_archives_of_common_writers_read_and_extract(tmp_path, writer):
    """What Info-ZIP and Python's zipfile write (data descriptors, ZIP64, stored, streamed)
    opens, tiles, reads in place and extracts to the original bytes."""
    if writer.startswith("info-zip") and shutil.which("zip") is None:
        pytest.skip("needs Info-ZIP's zip command")
    archive = _WRITERS[writer](tmp_path / "archive.zip")
    token = "pw" if "encrypted" in writer else None
    source = ZipSource(archive, token=token)
    assert {name: source.read_bytes(name) for name in source.names()} == {
        name.removeprefix("top/"): data for name, data in _WRITERS_FILES.items()
    }
    target = extract_release(archive, tmp_path / "out", token=token, progress=False, jobs=2)
    for name, data in _WRITERS_FILES.items():
        assert (target / name.removeprefix("top/")).read_bytes() == data
