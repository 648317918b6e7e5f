"""Validated reading of the raw layout: every malformed or missing file is named."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from h3ds_hf.errors import (
    CatalogError,
    MalformedFileError,
    MissingFileError,
    UnknownRegionError,
    UnknownSceneError,
)
from h3ds_hf.release.catalog import load_catalog
from h3ds_hf.release.obj import load_obj
from h3ds_hf.release.reader import open_release
from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES


@pytest.fixture
def copy(synthetic, tmp_path) -> Path:
    """A private copy of the synthetic release that a test may damage."""
    return Path(shutil.copytree(synthetic.folder, tmp_path / "release"))


def test_ground_truth_is_exact(synthetic):
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    scene_id = release.catalog.scene_ids()[0]
    gt = release.ground_truth(scene_id)
    vertices, faces = load_obj(synthetic.folder / scene_id / "full_head.obj")
    assert gt.vertices.dtype == np.float64 and np.array_equal(gt.vertices, vertices)
    assert np.array_equal(gt.faces, faces)
    assert set(gt.landmarks) == set(LANDMARK_NAMES)
    assert set(gt.regions) == set(REGION_NAMES)
    lines = (synthetic.folder / scene_id / "regions" / "nose.txt").read_text().split()
    assert gt.regions["nose"].tolist() == [int(line) for line in lines]


def test_cameras_and_media(synthetic):
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    scene = release.catalog.scene(release.catalog.scene_ids()[-1])
    cameras = release.cameras(scene.scene_id)
    assert cameras.world_mats.shape == (scene.views, 4, 4)
    with np.load(synthetic.folder / scene.scene_id / "cameras.npz") as npz:
        assert np.array_equal(cameras.world_mats[3], npz["world_mat_3"])
        assert np.array_equal(cameras.scale_mats[0], npz["scale_mat_0"])
    assert release.image_bytes(scene.scene_id, 2)[:3] == b"\xff\xd8\xff"
    assert release.mask_bytes(scene.scene_id, 2)[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(MalformedFileError, match=r"views 0\.\.33"):
        release.image_bytes(scene.scene_id, scene.views)


def test_byte_order_marks_are_tolerated(synthetic, copy):
    scene_id = synthetic.catalog.scene_ids()[0]
    for name in ("landmarks.txt", "regions/nose.txt"):
        path = copy / scene_id / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    ours = open_release(copy, catalog_path=synthetic.catalog_path).ground_truth(scene_id)
    clean = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    assert dict(ours.landmarks) == clean.landmarks(scene_id)
    assert np.array_equal(ours.regions["nose"], clean.region(scene_id, "nose"))


def test_release_inferred_from_version(synthetic, copy):
    with pytest.raises(CatalogError, match="--catalog"):
        open_release(copy)
    (copy / "version.txt").write_text("0.4\n")
    release = open_release(copy)
    assert release.catalog.name == "v2"
    assert len(release.missing()) > 1000  # the synthetic scenes are not the real ones


def test_missing_files_are_named(synthetic, copy):
    scene_id = synthetic.catalog.scene_ids()[1]
    (copy / scene_id / "mask" / "mask_0007.png").unlink()
    (copy / scene_id / "regions" / "nose.txt").unlink()
    release = open_release(copy, catalog_path=synthetic.catalog_path)
    assert release.missing() == [
        f"{scene_id}/regions/nose.txt",
        f"{scene_id}/mask/mask_0007.png",
    ]
    with pytest.raises(MissingFileError, match=f"{scene_id}/regions/nose.txt"):
        release.ground_truth(scene_id)


def _damage(path: Path, text: str) -> None:
    path.write_text(text)


@pytest.mark.parametrize(
    ("relative", "content", "message"),
    [
        ("landmarks.txt", "right_eye 1\nleft_eye 2\n", "missing landmark"),
        ("landmarks.txt", "right_eye one\n", "expected 'name vertex_index'"),
        ("landmarks.txt", "\n".join(f"{n} 99999999" for n in LANDMARK_NAMES), "out of range"),
        ("regions/face.txt", "1\n2\nthree\n", "one integer"),
        ("regions/face_sphere.txt", "1\n-4\n", "negative"),
        ("regions/nose.txt", "", "at least one"),
        ("full_head.obj", "v 0 0 0\nv 1 1 inf\nv 1 0 0\nf 1 2 3\n", "not finite"),
    ],
)
def test_malformed_files(synthetic, copy, relative, content, message):
    scene_id = synthetic.catalog.scene_ids()[0]
    _damage(copy / scene_id / relative, content)
    release = open_release(copy, catalog_path=synthetic.catalog_path)
    with pytest.raises(MalformedFileError, match=message) as caught:
        release.ground_truth(scene_id)
    assert scene_id in str(caught.value)


def _rewrite_npz(path: Path, edit) -> None:
    with np.load(path) as npz:
        arrays = dict(npz)
    edit(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a.pop("world_mat_5"), "missing array world_mat_5"),
        (lambda a: a.update(world_mat_1=np.eye(3)), r"shape \(3, 3\)"),
        (lambda a: a.update(scale_mat_0=np.full((4, 4), np.nan)), "not finite"),
        (lambda a: a.update(world_mat_0=np.zeros((4, 4))), "singular"),
    ],
)
def test_malformed_cameras(synthetic, copy, edit, message):
    scene_id = synthetic.catalog.scene_ids()[0]
    _rewrite_npz(copy / scene_id / "cameras.npz", edit)
    release = open_release(copy, catalog_path=synthetic.catalog_path)
    with pytest.raises(MalformedFileError, match=message):
        release.cameras(scene_id)


def test_not_an_npz(synthetic, copy):
    scene_id = synthetic.catalog.scene_ids()[0]
    (copy / scene_id / "cameras.npz").write_bytes(b"PK\x03\x04 garbage")
    release = open_release(copy, catalog_path=synthetic.catalog_path)
    with pytest.raises(MalformedFileError, match="npz"):
        release.cameras(scene_id)


def test_unknown_scene_and_region(synthetic):
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    with pytest.raises(UnknownSceneError):
        release.mesh("0123456789abcdef")
    with pytest.raises(UnknownRegionError, match="ears"):
        release.region(release.catalog.scene_ids()[0], "ears")


def test_missing_source(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        open_release(tmp_path / "nowhere", catalog=load_catalog("v2"))
