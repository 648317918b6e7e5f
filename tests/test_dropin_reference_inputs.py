"""`h3ds_hf.H3DS` accepts what h3ds 0.4.0 accepts, returns what it returns, and raises
instances of the exception types it raises."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import trimesh

from h3ds_hf import H3DS, Mesh


@pytest.fixture(scope="module")
def reference_class():
    np.int = int  # h3ds 0.4.0 still uses the alias numpy 1.24 removed
    return pytest.importorskip("h3ds.dataset", reason="the test-only oracle h3ds==0.4.0").H3DS


@pytest.fixture(scope="module")
def pair(synthetic, reference_class):
    ours = H3DS(synthetic.folder, config_path=synthetic.catalog_path)
    theirs = reference_class(str(synthetic.folder), config_path=str(synthetic.catalog_path))
    return ours, theirs


@pytest.fixture(scope="module")
def prediction(pair):
    ours, _ = pair
    scene_id = ours.scenes()[0]
    gt = ours.load_mesh(scene_id)
    rng = np.random.default_rng(5)
    vertices = np.asarray(gt.vertices) * 0.98 + rng.normal(0, 0.3, gt.vertices.shape) + [2, 1, -1]
    return scene_id, vertices, np.asarray(gt.faces), ours.load_landmarks(scene_id)


def assert_same_results(mine, ref) -> None:
    np.testing.assert_allclose(mine[0], ref[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(mine[1], ref[1], rtol=0, atol=1e-6)
    assert isinstance(mine[2], Mesh)
    assert np.array_equal(mine[2].vertices, ref[2].vertices)
    assert np.array_equal(mine[2].faces, ref[2].faces)
    np.testing.assert_allclose(np.asarray(mine[3].vertices), ref[3].vertices, rtol=0, atol=1e-6)


@pytest.mark.parametrize("region_id", [None, "", "face_sphere", "nose"])
def test_point_clouds_and_region_ids(pair, prediction, region_id):
    ours, theirs = pair
    scene_id, vertices, _, landmarks = prediction
    cloud = trimesh.PointCloud(vertices)
    mine = ours.evaluate_scene(scene_id, cloud, landmarks, region_id)
    assert_same_results(mine, theirs.evaluate_scene(scene_id, cloud, landmarks, region_id))
    assert type(mine[3]) is trimesh.PointCloud and mine[3] is not cloud
    assert np.array_equal(cloud.vertices, vertices)  # the caller's object is not moved


def test_the_aligned_prediction_keeps_the_callers_type_and_colours(pair, prediction):
    ours, theirs = pair
    scene_id, vertices, faces, landmarks = prediction
    colours = np.tile([10, 200, 30, 255], (len(vertices), 1)).astype(np.uint8)
    coloured = trimesh.Trimesh(vertices, faces, vertex_colors=colours, process=False)
    mine = ours.evaluate_scene(scene_id, coloured, landmarks, "face_sphere")
    assert_same_results(mine, theirs.evaluate_scene(scene_id, coloured, landmarks, "face_sphere"))
    assert type(mine[3]) is trimesh.Trimesh
    assert np.array_equal(mine[3].visual.vertex_colors, colours)
    ours_mesh = Mesh(vertices, faces, vertices_color=colours[:, :3] / 255)
    aligned = ours.evaluate_scene(scene_id, ours_mesh, landmarks)[3]
    assert type(aligned) is Mesh and np.array_equal(aligned.vertices_color, colours[:, :3] / 255)


def test_extra_landmark_names_are_ignored_with_a_warning(pair, prediction, caplog):
    ours, theirs = pair
    scene_id, vertices, faces, landmarks = prediction
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    extra = {"chin": 3, **landmarks, "left_ear": 7}
    # (a logger created once h3ds is imported would be of its class, which does not propagate)
    with caplog.at_level(logging.WARNING, logger="h3ds_hf.dropin.dataset"):
        mine = ours.evaluate_scene(scene_id, mesh, extra)
    assert "chin" in caplog.text and "left_ear" in caplog.text
    assert_same_results(mine, theirs.evaluate_scene(scene_id, mesh, extra))


def raised(call):
    try:
        call()
    except Exception as error:
        return error
    raise AssertionError("no exception")


def test_exceptions_are_instances_of_the_references(pair, prediction):
    ours, theirs = pair
    scene_id, vertices, faces, landmarks = prediction
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    missing = {k: v for k, v in landmarks.items() if k != "nose_tip"}
    outside = {**landmarks, "nose_tip": len(vertices) + 5}
    cases = {
        "unknown region": lambda h: h.evaluate_scene(scene_id, mesh, None, "ears"),
        "load unknown region": lambda h: h.load_region(scene_id, "ears"),
        "unknown scene mesh": lambda h: h.load_mesh("ffffffffffffffff"),
        "unknown scene landmarks": lambda h: h.load_landmarks("ffffffffffffffff"),
        "unknown scene images": lambda h: h.load_images("ffffffffffffffff"),
        "unknown scene configs": lambda h: h.default_views_configs("ffffffffffffffff"),
        "unknown views config": lambda h: h.load_images(scene_id, "7"),
        "unknown tag": lambda h: h.scenes({"cvpr"}),
        "missing landmark": lambda h: h.evaluate_scene(scene_id, mesh, missing),
        "landmark outside": lambda h: h.evaluate_scene(scene_id, mesh, outside),
    }
    for name, case in cases.items():
        reference_error = raised(lambda case=case: case(theirs))
        assert isinstance(raised(lambda case=case: case(ours)), type(reference_error)), name


def test_availability_and_quads_as_the_reference_sees_them(synthetic, reference_class, tmp_path):
    folder = tmp_path / "release"
    shutil.copytree(synthetic.folder, folder)
    scene_id = H3DS(folder, config_path=synthetic.catalog_path).scenes()[0]
    (folder / scene_id / "regions" / "nose.txt").unlink()  # the reference checks less
    obj = folder / scene_id / "full_head.obj"
    obj.write_bytes(obj.read_bytes() + b"f 1 2 3 4\nf 4 3 2 1 5\n")
    ours = H3DS(folder, config_path=synthetic.catalog_path)
    theirs = reference_class(str(folder), config_path=str(synthetic.catalog_path))
    assert ours.is_available() and theirs.is_available()
    mine, ref = ours.load_mesh(scene_id), theirs.load_mesh(scene_id)
    assert np.array_equal(mine.faces, ref.faces) and mine.faces[-1].tolist() == [3, 2, 1]
    mine = ours.evaluate_scene(scene_id, ref, None, "face")
    ref = theirs.evaluate_scene(scene_id, ref, None, "face")
    assert_same_results(mine, ref)
