"""The hostile suite: each case is a malformed or malicious input, made on the fly, that the
command line must refuse in one line on stderr (exit status 1, no traceback, no secret).

Cases run the CLI in this process (an exception that escapes ``main`` fails the test) unless
they need a process of their own (signals). Library entry points are checked to raise the
package's own errors (one line each).
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from zip_writers import Unseekable

from h3ds_hf.cli import main
from h3ds_hf.errors import H3DSError
from h3ds_hf.release import sources
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions

SECRET = "hostile-suite-token-0123456789"


# ---------------------------------------------------------------------- helpers


def refused_in_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI; assert it failed with exactly one error line and no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert code == 1, err
    assert "Traceback" not in err, err
    assert len(errors) == 1, err
    assert SECRET not in err
    return errors[0]


def plain_zip(path: Path, members: dict[str, bytes], *, top: str = "h3ds") -> Path:
    """A plain (unencrypted) zip holding ``version.txt`` and ``members`` under ``top/``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{top}/version.txt", "synthetic-0.1\n")
        for name, data in members.items():
            archive.writestr(name if name.startswith(top) else f"{top}/{name}", data)
    return path


def patched(path: Path, old: bytes, new: bytes, count: int = -1) -> Path:
    """Replace bytes in a file (same length: offsets stay valid)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, count))
    return path


def first_scene(synthetic) -> str:
    return synthetic.catalog.scene_ids()[0]


def release_copy(synthetic, tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    """A copy of the synthetic release folder with one file edited."""
    copy = Path(shutil.copytree(synthetic.folder, tmp_path / "release"))
    edit(copy / first_scene(synthetic))
    return copy


@pytest.fixture(scope="module")
def predictions(synthetic, tmp_path_factory) -> Path:
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    folder = tmp_path_factory.mktemp("hostile") / "method"
    return write_synthetic_predictions(release, folder, views_configs=["3"])


# ---------------------------------------------------------------------- archives


def _invalid_utf8(tmp: Path) -> Path:
    archive = plain_zip(tmp / "a.zip", {"é.txt": b"x"})
    return patched(archive, "é".encode(), b"\xff\xfe")


def _nested(tmp: Path) -> Path:
    return plain_zip(tmp / "a.zip", {"a/" * 1500 + "x.txt": b"x"})


def _named_like_version(tmp: Path) -> Path:
    # A member whose local header names version.txt (same length: "h3ds/vers.txt" is not).
    archive = plain_zip(tmp / "a.zip", {"xersion.txt": b"evil"})
    data = archive.read_bytes()
    first_local = data.index(b"h3ds/xersion.txt")  # the local header comes first
    archive.write_bytes(
        data[:first_local] + b"h3ds/version.txt" + data[first_local + len(b"h3ds/xersion.txt") :]
    )
    return archive


def _drive_letter(tmp: Path) -> Path:
    return plain_zip(tmp / "a.zip", {"h3ds/C:/evil": b"x"})


def _backslash(tmp: Path) -> Path:
    return plain_zip(tmp / "a.zip", {"h3ds/..\\evil": b"x"})


def _reserved(tmp: Path) -> Path:
    return plain_zip(tmp / "a.zip", {"h3ds/scene/CON.txt": b"x"})


def _dup(tmp: Path) -> Path:
    path = tmp / "dup.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("h3ds/version.txt", "synthetic-0.1\n")
        archive.writestr("h3ds/x.txt", "1")
        archive.writestr("h3ds/x.txt", "2")
    return path


def _lands_twice(second: str, first: str = "h3ds/x.txt"):
    """An archive whose member ``second`` lands on the file of ``first``."""

    def make(tmp: Path) -> Path:
        path = tmp / "twice.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("h3ds/version.txt", "synthetic-0.1\n")
            archive.writestr(first, "1")
            archive.writestr(zipfile.ZipInfo(second), "2")
        return path

    return make


def _with_stray_bytes(where: str):
    """A plain zip with bytes that no directory entry accounts for: 'prefix' (before the first
    member), 'between' (junk between two members), 'hidden' (a whole member left out of the
    central directory), 'tail' (after the last member)."""

    def make(tmp: Path) -> Path:
        path = tmp / "stray.zip"
        if where == "prefix":
            plain_zip(path, {"x.txt": b"x" * 100})
            path.write_bytes(b"\0" * 64 + path.read_bytes())  # zipfile still opens it
            return path
        with path.open("wb") as handle, zipfile.ZipFile(handle, "w") as archive:
            archive.writestr("h3ds/version.txt", "synthetic-0.1\n")
            if where == "hidden":
                archive.writestr("h3ds/hidden.txt", "not listed")
                del archive.NameToInfo[archive.filelist.pop().filename]
            elif where == "between":
                handle.write(b"junk" * 4)
                archive.start_dir = handle.tell()
            archive.writestr("h3ds/x.txt", "x" * 100)
            if where == "tail":
                handle.write(b"junk" * 4)
                archive.start_dir = handle.tell()
        return path

    return make


def _lying_descriptor(tmp: Path) -> Path:
    """Sizes after the data (written to a pipe-like stream) whose CRC disagrees with the
    central directory's."""

    path = tmp / "descriptor.zip"
    with path.open("wb") as sink, zipfile.ZipFile(Unseekable(sink), "w") as archive:
        archive.writestr("h3ds/version.txt", "synthetic-0.1\n")
        archive.writestr("h3ds/x.txt", "x" * 100)
    data = bytearray(path.read_bytes())
    descriptor = data.index(b"PK\x07\x08", data.index(b"h3ds/x.txt"))
    data[descriptor + 4] ^= 0xFF  # first byte of its CRC-32
    path.write_bytes(bytes(data))
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    return path


def _file_where_a_folder_is_needed(tmp: Path) -> Path:
    return plain_zip(tmp / "a.zip", {"h3ds/s/x": b"1", "h3ds/S/x/y": b"2"})


def _zip64_local_sizes_disagree(tmp: Path) -> Path:
    """A local header deferring its sizes to a ZIP64 extra field that declares fewer bytes
    than the directory: a streaming reader would take the rest for other members."""
    path = tmp / "zip64.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("h3ds/version.txt", "synthetic-0.1\n")
        with archive.open("h3ds/a.bin", "w", force_zip64=True) as member:
            member.write(b"P" * 100)
    data = bytearray(path.read_bytes())
    extra = data.index(struct.pack("<HHQQ", 1, 16, 100, 100))
    data[extra + 4 : extra + 20] = struct.pack("<QQ", 40, 40)
    path.write_bytes(bytes(data))
    return path


def _zip64_record_past_its_field(tmp: Path) -> Path:
    """A local ZIP64 extra record declaring more bytes than its extra field holds."""
    path = tmp / "zip64.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("h3ds/version.txt", "synthetic-0.1\n")
        with archive.open("h3ds/a.bin", "w", force_zip64=True) as member:
            member.write(b"P" * 100)
    return patched(
        path, struct.pack("<HHQQ", 1, 16, 100, 100), struct.pack("<HHQQ", 1, 20, 100, 100), 1
    )


def _truncated(tmp: Path) -> Path:
    archive = plain_zip(tmp / "a.zip", {"x.txt": b"x" * 1000})
    archive.write_bytes(archive.read_bytes()[:-30])
    return archive


def _too_many(tmp: Path) -> Path:
    return plain_zip(tmp / "a.zip", {f"f{i}.txt": b"" for i in range(sources.MAX_MEMBERS)})


ARCHIVES = {
    "invalid-utf8-name": _invalid_utf8,
    "1500-level-path": _nested,
    "local-header-names-version": _named_like_version,
    "drive-letter-in-a-part": _drive_letter,
    "backslash": _backslash,
    "reserved-name": _reserved,
    "duplicate-names": _dup,
    "duplicate-through-dot-part": _lands_twice("h3ds/./x.txt"),
    "duplicate-through-double-slash": _lands_twice("h3ds//x.txt"),
    "duplicate-but-for-case": _lands_twice("h3ds/X.txt"),
    "bytes-before-the-first-member": _with_stray_bytes("prefix"),
    "junk-between-members": _with_stray_bytes("between"),
    "member-missing-from-the-directory": _with_stray_bytes("hidden"),
    "junk-before-the-directory": _with_stray_bytes("tail"),
    "data-descriptor-disagrees": _lying_descriptor,
    "empty-archive": _empty,
    "a-file-where-a-folder-is-needed": _file_where_a_folder_is_needed,
    "zip64-local-sizes-disagree": _zip64_local_sizes_disagree,
    "zip64-record-past-its-field": _zip64_record_past_its_field,
    "duplicate-but-for-unicode-normalisation": _lands_twice(
        "h3ds/cafe\u0301.txt", first="h3ds/caf\u00e9.txt"
    ),
    "duplicate-but-for-a-trailing-dot": _lands_twice("h3ds/x.txt."),
    "truncated": _truncated,
    "too-many-members": _too_many,
}


@pytest.mark.parametrize("command", ["extract", "info"])
@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_hostile_archive(case, command, tmp_path, capsys, monkeypatch):
    archive = ARCHIVES[case](tmp_path)
    target = tmp_path / "out"
    argv = [command, str(archive)] + (
        [str(target), "--no-progress"] if command == "extract" else []
    )
    monkeypatch.setenv("H3DS_ACCESS_TOKEN", SECRET)
    refused_in_one_line(argv, capsys)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_local_header_cannot_overwrite_another_member(tmp_path, capsys):
    """extract used to write the bytes of the lying member over version.txt."""
    archive = _named_like_version(tmp_path)
    line = refused_in_one_line(["extract", str(archive), str(tmp_path / "out")], capsys)
    assert "local header" in line


def test_ignored_members_are_not_inflated(tmp_path, capsys, synthetic):
    """A __MACOSX member whose data is garbage (a bomb would be the same): never inflated."""
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("h3ds/version.txt", "synthetic-0.1\n")
        archive.writestr("__MACOSX/h3ds/._bomb", b"\0" * (4 << 20))
    data = bytearray(path.read_bytes())
    start = data.index(b"__MACOSX/h3ds/._bomb") + len(b"__MACOSX/h3ds/._bomb")
    data[start + 10 : start + 200] = b"\xff" * 190  # inflating this fails
    path.write_bytes(bytes(data))
    code = main(["extract", str(path), str(tmp_path / "out"), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "version.txt").read_text() == "synthetic-0.1\n"
    assert not (tmp_path / "out" / "__MACOSX").exists()


def test_in_place_reads_are_bounded(tmp_path, monkeypatch):
    archive = plain_zip(tmp_path / "a.zip", {"big.txt": b"x" * 5000})
    monkeypatch.setattr(sources, "MAX_IN_PLACE_BYTES", 4096)
    with pytest.raises(H3DSError, match="extract the release"):
        sources.ZipSource(archive).read_bytes("big.txt")
    assert sources.ZipSource(archive).read_bytes("version.txt") == b"synthetic-0.1\n"


# ---------------------------------------------------------------------- ground truth files


def _replace_last_face(scene: Path) -> None:
    path = scene / "full_head.obj"
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    lines[-1] = b"f 1 2 99999999999999999999"
    path.write_bytes(b"\n".join(lines) + b"\n")


def _landmark(value: str) -> Callable[[Path], None]:
    def edit(scene: Path) -> None:
        path = scene / "landmarks.txt"
        lines = path.read_text().splitlines()
        lines[0] = f"{lines[0].split()[0]} {value}"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return edit


def _duplicate_landmark(scene: Path) -> None:
    path = scene / "landmarks.txt"
    path.write_text(path.read_text() + path.read_text().splitlines()[0] + "\n")


def _shape_bomb(scene: Path) -> None:
    """An .npy member declaring shape (10**11,) float64 with 8 bytes of data."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }"
    header += " " * (63 - len(header) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 8
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("world_mat_0.npy", npy)
    (scene / "cameras.npz").write_bytes(buffer.getvalue())


def _pickled_cameras(scene: Path) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, world_mat_0=np.array([{"evil": 1}], dtype=object))
    (scene / "cameras.npz").write_bytes(buffer.getvalue())


def _singular_scale(scene: Path) -> None:
    with np.load(scene / "cameras.npz") as npz:
        arrays = dict(npz)
    arrays["scale_mat_0"] = np.zeros((4, 4))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (scene / "cameras.npz").write_bytes(buffer.getvalue())


GROUND_TRUTHS = {
    "obj-face-index-int64-overflow": _replace_last_face,
    "landmark-index-double-minus": _landmark("--5"),
    "landmark-index-superscript": _landmark("²"),
    "landmark-index-int64-overflow": _landmark("99999999999999999999"),
    "landmark-given-twice": _duplicate_landmark,
}


@pytest.mark.parametrize("case", sorted(GROUND_TRUTHS))
def test_hostile_ground_truth(case, synthetic, predictions, tmp_path, capsys):
    source = release_copy(synthetic, tmp_path, GROUND_TRUTHS[case])
    argv = ["evaluate", "--source", str(source), "--catalog", str(synthetic.catalog_path)]
    argv += ["--predictions", str(predictions), "--output", str(tmp_path / "r.json")]
    refused_in_one_line([*argv, "--no-progress"], capsys)


CAMERAS = {
    "npy-shape-bomb": _shape_bomb,
    "pickled-object": _pickled_cameras,
    "singular-scale-mat": _singular_scale,
}


@pytest.mark.parametrize("case", sorted(CAMERAS))
def test_hostile_cameras(case, synthetic, tmp_path):
    from h3ds_hf import H3DS

    source = release_copy(synthetic, tmp_path, CAMERAS[case])
    dataset = H3DS(source, config_path=synthetic.catalog_path)
    with pytest.raises(H3DSError) as raised:
        dataset.load_scene(first_scene(synthetic), "3", normalized=True)
    assert "\n" not in str(raised.value) and raised.value.__cause__ is None


def test_decompression_bomb_photo_names_the_file(synthetic, tmp_path):
    from PIL import Image

    from h3ds_hf import H3DS

    def bomb(scene: Path) -> None:
        buffer = io.BytesIO()
        Image.new("L", (8, 8)).save(buffer, "JPEG")
        data = bytearray(buffer.getvalue())
        sof = data.index(b"\xff\xc0")
        data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
        (scene / "image" / "img_0011.jpg").write_bytes(bytes(data))

    source = release_copy(synthetic, tmp_path, bomb)
    dataset = H3DS(source, config_path=synthetic.catalog_path)
    with pytest.raises(H3DSError, match=r"img_0011\.jpg"):
        dataset.load_images(first_scene(synthetic), "3")


# ---------------------------------------------------------------------- predictions, JSON


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_prediction_obj_overflow_and_deep_landmarks_fail_in_one_line(
    synthetic, predictions, tmp_path, capsys
):
    folder = Path(shutil.copytree(predictions, tmp_path / "method"))
    scene_ids = synthetic.catalog.scene_ids()
    (folder / f"{scene_ids[0]}_3.ply").unlink()
    (folder / f"{scene_ids[0]}_3.obj").write_text(
        "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 99999999999999999999\n"
    )
    (folder / f"{scene_ids[1]}_3.landmarks.json").write_text(_deep(100_000))
    argv = ["evaluate", "--source", str(synthetic.folder), "--catalog", str(synthetic.catalog_path)]
    argv += ["--predictions", str(folder), "--output", str(tmp_path / "r.json"), "--no-progress"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    failed = {r["scene_id"]: r["reason"] for r in results if r["status"] == "failed"}
    assert set(failed) == set(scene_ids[:2]) and all("\n" not in r for r in failed.values())


def test_deep_results_json_is_refused():
    from h3ds_hf.benchmark.report import load_results

    path = Path(__import__("tempfile").mkdtemp()) / "r.json"
    path.write_text(_deep(100_000))
    with pytest.raises(H3DSError):
        load_results(path)
    shutil.rmtree(path.parent)


# ---------------------------------------------------------------------- catalogs

CATALOGS = {
    "toml-scene-not-a-table.toml": 'version = "x"\n[scenes]\nabc = 3\n',
    "json-without-scenes.json": json.dumps({"format": "h3ds-hf-catalog/1", "release": "r"}),
    "json-scene-without-id.json": json.dumps(
        {"format": "h3ds-hf-catalog/1", "release": "r", "version": "x", "scenes": [{"views": 3}]}
    ),
    "json-deep.json": _deep(100_000),
    "json-a-list.json": "[]",
    "toml-huge-views.toml": 'version = "x"\n[scenes.abc]\nviews = 100000000\n',
    "toml-not-utf8.toml": b"version = '\xff'\n",
}


@pytest.mark.parametrize("case", sorted(CATALOGS))
def test_hostile_catalog(case, synthetic, tmp_path, capsys):
    path = tmp_path / case
    content = CATALOGS[case]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    refused_in_one_line(["info", str(synthetic.folder), "--catalog", str(path)], capsys)


# ---------------------------------------------------------------------- prepared sources


def _prepared(tmp_path: Path, shard: bytes | None) -> Path:
    folder = tmp_path / "prepared"
    (folder / "3-views").mkdir(parents=True)
    (folder / "README.md").write_text("---\n---\n")
    if shard is not None:
        (folder / "3-views" / "test-00000.parquet").write_bytes(shard)
    return folder


def _other_columns() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2]}), buffer)
    return buffer.getvalue()


PREPARED = {
    "random-bytes-shard": lambda: np.random.default_rng(0).bytes(4096),
    "empty-shard": lambda: b"",
    "shard-with-other-columns": _other_columns,
}


@pytest.mark.parametrize("case", sorted(PREPARED))
def test_hostile_prepared_source(case, predictions, tmp_path, capsys):
    source = _prepared(tmp_path, PREPARED[case]())
    argv = ["evaluate", "--source", str(source), "--predictions", str(predictions)]
    refused_in_one_line([*argv, "--output", str(tmp_path / "r.json"), "--no-progress"], capsys)


# ---------------------------------------------------------------------- options, secrets


def test_cli_errors_use_option_names(synthetic, predictions, tmp_path, capsys):
    argv = ["evaluate", "--source", str(synthetic.folder), "--predictions", str(predictions)]
    argv += ["--output", str(tmp_path / "r.json"), "--alignment", "rigid"]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--protocol surface" in err and "protocol='" not in err


def test_a_server_echoing_the_token_is_scrubbed(monkeypatch, capsys):
    """Whatever its source, an error message never carries a secret we hold."""
    from h3ds_hf import cli
    from h3ds_hf.errors import HubError, register_secret

    hub_token = "hf_" + "x" * 30
    monkeypatch.setenv("HF_TOKEN", hub_token)
    monkeypatch.setenv("H3DS_ACCESS_TOKEN", SECRET + "\n")
    register_secret("argument-token-abcdef")
    echo = (
        f"403 Forbidden: {{'headers': {{'Authorization': 'Bearer {hub_token}'}}, "
        f"'password': '{SECRET}', 'other': 'argument-token-abcdef'}}"
    )

    def handler(_args):
        raise HubError(echo)

    monkeypatch.setattr(cli, "build_parser", lambda: _parser(handler))
    assert main([]) == 1
    err = capsys.readouterr().err
    assert hub_token not in err and SECRET not in err and "argument-token-abcdef" not in err
    assert err.count("[REDACTED]") == 3 and "403 Forbidden" in err


def test_log_records_are_scrubbed(monkeypatch):
    """A package logger scrubs its records whatever handler the application attached."""
    import logging

    from h3ds_hf.errors import get_logger

    monkeypatch.setenv("H3DS_ACCESS_TOKEN", SECRET)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = get_logger("h3ds_hf.hostile")
    logger.addHandler(handler)
    try:
        logger.warning("server said %s", f"token={SECRET}")
    finally:
        logger.removeHandler(handler)
    assert SECRET not in stream.getvalue() and "token=[REDACTED]" in stream.getvalue()


def test_debug_traceback_is_scrubbed(monkeypatch, capsys):
    from h3ds_hf import cli
    from h3ds_hf.errors import HubError

    monkeypatch.setenv("H3DS_ACCESS_TOKEN", SECRET)

    def handler(_args):
        raise HubError(f"echo {SECRET}")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser(handler, debug=True))
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and SECRET not in err


def _parser(handler, *, debug: bool = False):
    import argparse

    parser = argparse.ArgumentParser()
    parser.set_defaults(handler=handler, debug=debug, command="push")
    return parser
