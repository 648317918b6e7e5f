"""`h3ds_hf.H3DS` behaves like the reference `h3ds.dataset.H3DS` (h3ds 0.4.0)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy import ndimage

from h3ds_hf import H3DS
from h3ds_hf.errors import UnknownSceneError, UnknownTagError, UnknownViewsConfigError


@pytest.fixture(scope="module")
def reference_class():
    np.int = int  # h3ds 0.4.0 still uses the alias numpy 1.24 removed
    dataset = pytest.importorskip("h3ds.dataset", reason="the test-only oracle h3ds==0.4.0")
    return dataset.H3DS


@pytest.fixture(scope="module")
def pair(synthetic, reference_class):
    ours = H3DS(synthetic.folder, config_path=synthetic.catalog_path)
    theirs = reference_class(str(synthetic.folder), config_path=str(synthetic.catalog_path))
    return ours, theirs


def test_catalog_methods(pair):
    ours, theirs = pair
    assert ours.is_available() and theirs.is_available()
    assert ours.scenes() == theirs.scenes()
    assert ours.scenes({"h3d-net"}) == theirs.scenes({"h3d-net"})
    assert ours.regions() == theirs.regions()
    for scene_id in theirs.scenes():
        assert ours.default_views_configs(scene_id) == theirs.default_views_configs(scene_id)


@pytest.mark.parametrize("normalized", [False, True])
def test_meshes(pair, normalized):
    ours, theirs = pair
    for scene_id in theirs.scenes():
        mine = ours.load_mesh(scene_id, normalized=normalized)
        ref = theirs.load_mesh(scene_id, normalized=normalized)
        assert isinstance(mine, trimesh.Trimesh)
        assert np.array_equal(np.asarray(mine.vertices), ref.vertices)
        assert np.array_equal(np.asarray(mine.faces), ref.faces)


def test_annotations_and_normalization(pair):
    ours, theirs = pair
    for scene_id in theirs.scenes():
        assert ours.load_landmarks(scene_id) == theirs.load_landmarks(scene_id)
        for region_id in theirs.regions():
            assert np.array_equal(
                ours.load_region(scene_id, region_id), theirs.load_region(scene_id, region_id)
            )
        mine = ours.load_normalization_matrix(scene_id)
        ref = theirs.load_normalization_matrix(scene_id)
        assert mine.dtype == ref.dtype and np.array_equal(mine, ref)


@pytest.mark.parametrize("views_config_id", [None, "3", "8"])
@pytest.mark.parametrize("normalized", [False, True])
def test_cameras(pair, views_config_id, normalized):
    ours, theirs = pair
    scene_id = theirs.scenes()[0]
    mine = ours.load_cameras(scene_id, views_config_id, normalized)
    ref = theirs.load_cameras(scene_id, views_config_id, normalized)
    assert len(mine) == len(ref)
    for (K, pose), (K_ref, pose_ref) in zip(mine, ref, strict=True):
        assert K.dtype == K_ref.dtype and pose.dtype == pose_ref.dtype
        np.testing.assert_allclose(K, K_ref, rtol=0, atol=1e-6)
        np.testing.assert_allclose(pose[:3, :3], pose_ref[:3, :3], rtol=0, atol=1e-6)
        scale = max(1.0, float(np.linalg.norm(pose_ref[:3, 3])))
        np.testing.assert_allclose(pose[:3, 3], pose_ref[:3, 3], rtol=0, atol=1e-6 * scale)


def test_scene_images_and_masks(pair):
    ours, theirs = pair
    scene_id = theirs.scenes()[-1]
    mesh, images, masks, cameras = ours.load_scene(scene_id, "4")
    mesh_ref, images_ref, masks_ref, _ = theirs.load_scene(scene_id, "4")
    assert np.array_equal(np.asarray(mesh.vertices), mesh_ref.vertices)
    assert len(images) == len(masks) == len(cameras) == 4
    for mine, ref in zip(images + masks, images_ref + masks_ref, strict=True):
        assert mine.mode == ref.mode and mine.size == ref.size
        assert np.array_equal(np.asarray(mine), np.asarray(ref))
    assert len(ours.load_images(scene_id)) == ours.catalog.scene(scene_id).views


def test_masks_contain_the_projected_head(pair):
    """Cameras, mesh and masks agree: GT vertices project inside the silhouettes (within the
    one-pixel border that rasterisation leaves at the silhouette's edge)."""
    ours, _ = pair
    scene_id = ours.scenes()[0]
    vertices = np.asarray(ours.load_mesh(scene_id).vertices)
    for (K, pose), mask in zip(
        ours.load_cameras(scene_id, "8"), ours.load_masks(scene_id, "8"), strict=True
    ):
        world_to_camera = np.linalg.inv(pose.astype(np.float64))
        camera = vertices @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        pixels = camera @ K.T
        uv = np.rint(pixels[:, :2] / pixels[:, 2:]).astype(int)
        image = ndimage.binary_dilation(np.asarray(mask.convert("L")) > 0)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < image.shape[1]) & (uv[:, 1] >= 0)
        inside &= uv[:, 1] < image.shape[0]
        assert inside.all()
        assert image[uv[:, 1], uv[:, 0]].all()


def test_evaluate_scene_matches_reference(pair):
    ours, theirs = pair
    scene_id = theirs.scenes()[0]
    mesh = ours.load_mesh(scene_id)
    rng = np.random.default_rng(3)
    prediction = trimesh.Trimesh(
        np.asarray(mesh.vertices) * 1.02 + rng.normal(0, 0.4, mesh.vertices.shape) + [3, -2, 1],
        np.asarray(mesh.faces),
        process=False,
    )
    landmarks = ours.load_landmarks(scene_id)
    for region_id in (None, "face_sphere"):
        mine = ours.evaluate_scene(scene_id, prediction, landmarks, region_id)
        ref = theirs.evaluate_scene(scene_id, prediction, landmarks, region_id)
        np.testing.assert_allclose(mine[0], ref[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(mine[1], ref[1], rtol=0, atol=1e-6)
        np.testing.assert_allclose(np.asarray(mine[2].vertices), ref[2].vertices, atol=1e-9)
        np.testing.assert_allclose(np.asarray(mine[3].vertices), ref[3].vertices, atol=1e-6)


def test_evaluate_scene_reads_a_scene_once_and_returns_fresh_meshes(synthetic, monkeypatch):
    # Several calls on one scene (regions, predictions) share its OBJ read and trees; what they
    # return is the caller's own, and another scene is read afresh.
    ours = H3DS(synthetic.folder, config_path=synthetic.catalog_path)
    fresh = H3DS(synthetic.folder, config_path=synthetic.catalog_path)
    reads = []
    original = ours.release.mesh_attributes
    monkeypatch.setattr(
        ours.release,
        "mesh_attributes",
        lambda scene_id, **kw: reads.append(scene_id) or original(scene_id, **kw),
    )
    first, second = ours.scenes()[:2]
    gt = ours.load_mesh(first)
    prediction = trimesh.Trimesh(np.asarray(gt.vertices) * 1.01 + 0.5, gt.faces, process=False)
    reads.clear()
    head = ours.evaluate_scene(first, prediction)
    head[2].vertices[:] = 0.0  # the caller's copy: the next call must not see it
    for region_id in (None, "face_sphere", "nose"):
        mine = ours.evaluate_scene(first, prediction, None, region_id)
        alone = fresh.evaluate_scene(first, prediction, None, region_id)
        for got, expected in zip(mine[:2], alone[:2], strict=True):
            assert np.array_equal(got, expected)
        assert np.array_equal(mine[2].vertices, alone[2].vertices)
    assert reads == [first]
    ours.evaluate_scene(second, prediction)
    assert reads == [first, second]


def test_unknown_names(pair):
    ours, _ = pair
    with pytest.raises(UnknownTagError):
        ours.scenes({"cvpr"})
    with pytest.raises(UnknownSceneError):
        ours.load_landmarks("ffffffffffffffff")
    with pytest.raises(UnknownViewsConfigError):
        ours.load_images(ours.scenes()[0], "7")


def test_zip_path_and_missing_path(synthetic, monkeypatch, tmp_path):
    monkeypatch.setenv("H3DS_ACCESS_TOKEN", synthetic.token)
    from_zip = H3DS(synthetic.zip_path, config_path=synthetic.catalog_path)
    from_folder = H3DS(synthetic.folder, config_path=synthetic.catalog_path)
    assert from_zip.is_available()
    scene_id = from_zip.scenes()[0]
    assert np.array_equal(
        from_zip.load_mesh(scene_id).vertices, from_folder.load_mesh(scene_id).vertices
    )
    assert not H3DS(tmp_path / "absent", config_path=synthetic.catalog_path).is_available()
