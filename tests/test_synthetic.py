"""The synthetic mini-H3DS: deterministic, complete raw layout, consistent geometry."""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from h3ds_hf.errors import OutputExistsError
from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES
from h3ds_hf.synthetic.release import (
    CATALOG_NAME,
    SYNTHETIC_VERSION,
    VIEWS_CONFIG_SIZES,
    synthetic_cameras,
    synthetic_ground_truth,
    write_synthetic_release,
)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default synthetic release (3 scenes of 34 views, 96x128 px)."""
    return write_synthetic_release(tmp_path_factory.mktemp("synthetic") / "h3ds")


@pytest.fixture(scope="module")
def catalog(release: Path) -> dict:
    return tomllib.loads((release.parent / CATALOG_NAME).read_text())


def _small(root: Path, seed: int = 0) -> Path:
    return write_synthetic_release(
        root, scenes=2, views=(4, 6), image_size=(48, 64), seed=seed, subdivisions=4
    )


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _read_obj(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    lines = data.decode().splitlines()
    vertices = np.array([[float(t) for t in s.split()[1:]] for s in lines if s.startswith("v ")])
    faces = np.array([[int(t) - 1 for t in s.split()[1:]] for s in lines if s.startswith("f ")])
    return vertices, faces


def _read_indices(path: Path) -> np.ndarray:
    return np.array([int(line) for line in path.read_text().split()], dtype=np.int64)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = _small(tmp_path / "a" / "h3ds"), _small(tmp_path / "b" / "h3ds")
    assert _files(first) == _files(second)
    assert (first.parent / CATALOG_NAME).read_bytes() == (second.parent / CATALOG_NAME).read_bytes()


def test_other_seed_gives_other_scenes(tmp_path: Path) -> None:
    first, other = _small(tmp_path / "a" / "h3ds"), _small(tmp_path / "b" / "h3ds", seed=1)
    first_files, other_files = _files(first), _files(other)
    first_meshes = {v for k, v in first_files.items() if k.endswith("full_head.obj")}
    other_meshes = {v for k, v in other_files.items() if k.endswith("full_head.obj")}
    assert len(first_meshes) == 2 and not first_meshes & other_meshes
    scenes = {k.split("/")[0] for k in first_files} - {"version.txt"}
    assert scenes.isdisjoint(k.split("/")[0] for k in other_files)


def test_layout_is_exactly_what_the_catalog_expects(release: Path, catalog: dict) -> None:
    assert (release / "version.txt").read_text().splitlines()[0] == catalog["version"]
    assert catalog["version"] == SYNTHETIC_VERSION and catalog["file_md5"] == ""
    expected = {"version.txt"}
    for scene_id, info in catalog["scenes"].items():
        assert len(scene_id) == 16 and int(scene_id, 16) >= 0 and scene_id.startswith("0000")
        assert "sira++" in info["tags"]
        names = ["full_head.obj", "cameras.npz", "landmarks.txt"]
        names += [f"regions/{region}.txt" for region in REGION_NAMES]
        names += [f"image/img_{i:04d}.jpg" for i in range(info["views"])]
        names += [f"mask/mask_{i:04d}.png" for i in range(info["views"])]
        expected |= {f"{scene_id}/{name}" for name in names}
        with np.load(release / scene_id / "cameras.npz") as cameras:
            keys = {f"{kind}_mat_{i}" for kind in ("world", "scale") for i in range(info["views"])}
            assert set(cameras.files) == keys
    assert set(_files(release)) == expected
    assert any("h3d-net" in info["tags"] for info in catalog["scenes"].values())
    assert not all("h3d-net" in info["tags"] for info in catalog["scenes"].values())


def test_views_configs_are_nested_like_the_official_ones(tmp_path: Path, catalog: dict) -> None:
    for info in catalog["scenes"].values():
        configs = {int(k): set(v) for k, v in info["default_views_configs"].items()}
        assert sorted(configs) == list(VIEWS_CONFIG_SIZES)
        assert all(len(v) == size and max(v) < info["views"] for size, v in configs.items())
        for small, large in [(1, 3), (3, 6), (4, 8), (6, 8), (8, 16), (16, 32)]:
            assert configs[small] <= configs[large]
    few = write_synthetic_release(
        tmp_path / "h3ds", scenes=1, views=5, image_size=(24, 32), subdivisions=3
    )
    (info,) = tomllib.loads((few.parent / CATALOG_NAME).read_text())["scenes"].values()
    assert {k: len(v) for k, v in info["default_views_configs"].items()} == {"1": 1, "3": 3, "4": 4}


def test_ground_truth_file_content_matches_the_generator(release: Path, catalog: dict) -> None:
    for index, scene_id in enumerate(catalog["scenes"]):
        truth = synthetic_ground_truth(0, index=index)
        assert truth.scene_id == scene_id
        vertices, faces = _read_obj((release / scene_id / "full_head.obj").read_bytes())
        assert vertices.dtype == np.float64 and np.array_equal(vertices, truth.vertices)
        assert np.array_equal(faces, truth.faces)
        lines = (release / scene_id / "landmarks.txt").read_text().splitlines()
        assert [line.split()[0] for line in lines] == list(LANDMARK_NAMES)
        assert {n: int(i) for n, i in (line.split() for line in lines)} == truth.landmarks
        for region in REGION_NAMES:
            indices = _read_indices(release / scene_id / "regions" / f"{region}.txt")
            assert np.array_equal(indices, truth.regions[region])


@pytest.mark.parametrize("seed", [0, 7])
def test_landmarks_and_regions_are_plausible(seed: int) -> None:
    truth = synthetic_ground_truth(seed, subdivisions=4)
    vertices, n = truth.vertices, len(truth.vertices)
    assert n == 10 * 4**4 + 2
    assert trimesh.Trimesh(vertices, truth.faces, process=False).is_watertight
    assert all(0 <= truth.landmarks[name] < n for name in LANDMARK_NAMES)
    for region in REGION_NAMES:
        indices = truth.regions[region]
        assert indices.dtype == np.int64 and len(np.unique(indices)) == len(indices) > 0
        assert indices.min() >= 0 and indices.max() < n
    tip = vertices[truth.landmarks["nose_tip"]]
    within = np.flatnonzero(np.linalg.norm(vertices - tip, axis=1) <= 95.0)  # official radius
    assert np.array_equal(truth.regions["face_sphere"], within)
    nose = truth.regions["nose"]
    assert truth.landmarks["nose_tip"] in nose
    assert tip[2] == vertices[nose, 2].max() == vertices[:, 2].max()
    assert set(nose) <= set(truth.regions["face"])
    landmark = {name: vertices[i] for name, i in truth.landmarks.items()}
    # The subject's right is -x when the face looks along +z.
    assert landmark["right_eye"][0] < 0 < landmark["left_eye"][0]
    assert landmark["right_lips"][0] < landmark["left_lips"][0]
    assert landmark["right_eye"][1] > landmark["nose_tip"][1] > landmark["nose_base"][1]
    assert landmark["nose_base"][1] > landmark["right_lips"][1]
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    assert 140 < extent[0] < 200 and 180 < extent[1] < 240 and 170 < extent[2] < 240


def test_the_head_has_no_mirror_symmetry() -> None:
    """ICP (reflection allowed, as in the official evaluation) cannot fit the mirror image."""
    truth = synthetic_ground_truth(0, subdivisions=4)
    face = truth.vertices[truth.regions["face_sphere"]]
    edges = truth.vertices[truth.faces[:, 0]] - truth.vertices[truth.faces[:, 1]]
    spacing = np.linalg.norm(edges, axis=1).mean()
    _, _, shifted_cost = trimesh.registration.icp(face + [2.0, 1.0, -1.0], truth.vertices)
    _, _, mirrored_cost = trimesh.registration.icp(face * [-1.0, 1.0, 1.0], truth.vertices)
    assert shifted_cost < 1e-6 * spacing
    assert mirrored_cost > 0.25 * spacing


def test_seed_changes_the_shape_slightly() -> None:
    first = synthetic_ground_truth(0, subdivisions=3)
    second = synthetic_ground_truth(1, subdivisions=3)
    assert np.array_equal(first.faces, second.faces)
    difference = np.linalg.norm(first.vertices - second.vertices, axis=1)
    assert 0 < difference.mean() < 0.1 * np.linalg.norm(first.vertices, axis=1).mean()


def test_cameras_follow_the_idr_convention(release: Path, catalog: dict) -> None:
    for scene_id, info in catalog["scenes"].items():
        vertices, _ = _read_obj((release / scene_id / "full_head.obj").read_bytes())
        with np.load(release / scene_id / "cameras.npz") as npz:
            world = np.stack([npz[f"world_mat_{i}"] for i in range(info["views"])])
            scale = np.stack([npz[f"scale_mat_{i}"] for i in range(info["views"])])
        assert world.dtype == scale.dtype == np.float64
        assert np.array_equal(world[:, 3], np.tile([0.0, 0.0, 0.0, 1.0], (len(world), 1)))
        assert np.all(scale == scale[0])
        normalized = (vertices - scale[0, :3, 3]) / scale[0, 0, 0]
        assert np.linalg.norm(normalized, axis=1).max() < 1.0
        assert np.allclose(scale[0, :3, :3], scale[0, 0, 0] * np.eye(3))
        # Every vertex is in front of every camera.
        depth = np.einsum("vj,nj->vn", world[:, 2, :3], vertices) + world[:, 2, 3, None]
        assert depth.min() > 0


def test_cameras_decompose_with_the_reference(release: Path, catalog: dict) -> None:
    """The reference h3ds 0.4.0 (cv2) recovers the generator's intrinsics and centres."""
    reference = pytest.importorskip("h3ds.numeric")
    for index, (scene_id, info) in enumerate(catalog["scenes"].items()):
        truth = synthetic_ground_truth(0, index=index)
        cameras = synthetic_cameras(truth.vertices, info["views"], (96, 128), index=index)
        with np.load(release / scene_id / "cameras.npz") as npz:
            for view in range(info["views"]):
                K, pose = reference.load_K_Rt(npz[f"world_mat_{view}"][:3].astype(np.float32))
                assert np.allclose(K, cameras.intrinsics[view], rtol=1e-5, atol=1e-3)
                assert np.allclose(pose[:3, 3], cameras.centres[view], atol=1e-2)
                assert np.allclose(pose[:3, :3], cameras.rotations[view].T, atol=1e-5)
        K = cameras.intrinsics
        assert (K[:, 0, 0] > 0).all() and (K[:, 1, 1] > 0).all() and (K[:, 0, 1] == 0).all()
        assert np.allclose(np.linalg.det(cameras.rotations), 1.0)


def test_the_reference_package_accepts_the_release(release: Path, catalog: dict) -> None:
    dataset = pytest.importorskip("h3ds.dataset")
    h3ds = dataset.H3DS(path=str(release), config_path=str(release.parent / CATALOG_NAME))
    assert h3ds.is_available()
    assert h3ds.scenes() == list(catalog["scenes"])
    scene_id = h3ds.scenes(tags={"h3d-net"})[0]
    mesh = h3ds.load_mesh(scene_id)
    assert np.array_equal(mesh.vertices, synthetic_ground_truth(0, index=0).vertices)
    assert h3ds.load_landmarks(scene_id) == synthetic_ground_truth(0, index=0).landmarks
    images = h3ds.load_images(scene_id, "3")
    assert [image.size for image in images] == [(96, 128)] * 3


def _dilate(mask: np.ndarray) -> np.ndarray:
    """3x3 binary dilation (one-pixel border)."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([padded[i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=0)


def test_masks_are_the_silhouettes_of_the_mesh(release: Path, catalog: dict) -> None:
    for scene_id, info in catalog["scenes"].items():
        vertices, _ = _read_obj((release / scene_id / "full_head.obj").read_bytes())
        with np.load(release / scene_id / "cameras.npz") as npz:
            world = [npz[f"world_mat_{i}"] for i in range(info["views"])]
        for view, P in enumerate(world):
            with Image.open(release / scene_id / "mask" / f"mask_{view:04d}.png") as image:
                assert image.mode == "L"
                mask = np.asarray(image)
            assert set(np.unique(mask)) == {0, 255}
            projected = vertices @ P[:3, :3].T + P[:3, 3]
            pixels = np.round(projected[:, :2] / projected[:, 2:]).astype(int)
            h, w = mask.shape
            assert (pixels >= 0).all() and (pixels < [w, h]).all()
            inside = _dilate(mask > 0)
            assert inside[pixels[:, 1], pixels[:, 0]].all(), (scene_id, view)
            # Conversely every mask pixel is within a pixel of some projected vertex (the
            # vertices are denser than the pixels), and the head never touches the border.
            hit = np.zeros_like(mask, dtype=bool)
            hit[pixels[:, 1], pixels[:, 0]] = True
            assert not (mask > 0)[~_dilate(hit)].any(), (scene_id, view)
            assert not (mask[[0, -1]].any() or mask[:, [0, -1]].any())


def test_images_are_portrait_jpegs_showing_the_head(release: Path, catalog: dict) -> None:
    scene_id = next(iter(catalog["scenes"]))
    with Image.open(release / scene_id / "image" / "img_0000.jpg") as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (96, 128))
        rgb = np.asarray(image, dtype=np.float64)
    with Image.open(release / scene_id / "mask" / "mask_0000.png") as image:
        mask = np.asarray(image) > 0
    # The head's colours differ from the backdrop's.
    assert np.abs(rgb[mask].mean(axis=0) - rgb[~mask].mean(axis=0)).max() > 20


def test_zip_packing_records_the_md5(tmp_path: Path) -> None:
    root = write_synthetic_release(
        tmp_path / "h3ds",
        scenes=1,
        views=3,
        image_size=(24, 32),
        subdivisions=3,
        zip_path=tmp_path / "h3ds.zip",
        password="synthetic-token",
        top_folder="h3ds",
    )
    catalog = tomllib.loads((tmp_path / CATALOG_NAME).read_text())
    data = (tmp_path / "h3ds.zip").read_bytes()
    assert catalog["file_md5"] == hashlib.md5(data).hexdigest()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.setpassword(b"synthetic-token")
        for name, content in _files(root).items():
            assert archive.read(f"h3ds/{name}") == content


def test_existing_output_is_protected_and_rewrites_are_idempotent(tmp_path: Path) -> None:
    foreign = tmp_path / "data"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        write_synthetic_release(foreign, scenes=1, views=1, image_size=(8, 8), subdivisions=3)
    assert (foreign / "notes.txt").read_text() == "mine"
    root = write_synthetic_release(
        tmp_path / "h3ds", scenes=1, views=2, image_size=(16, 16), subdivisions=3
    )
    before = _files(root)
    write_synthetic_release(root, scenes=1, views=2, image_size=(16, 16), subdivisions=3)
    assert _files(root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [CATALOG_NAME, "data", "h3ds"]
