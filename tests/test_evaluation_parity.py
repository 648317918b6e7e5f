"""Parity of protocol "h3ds" with the reference h3ds 0.4.0 ``H3DS.evaluate_scene`` (oracle).

A one-scene raw release is written to a temporary folder so the oracle runs unmodified (it reads
full_head.obj, landmarks.txt and regions/*.txt); our implementation gets the same ground truth as
arrays. Distances must agree element by element within 1e-6 mm.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from h3ds_hf.evaluation import SceneEvaluator, evaluate_pair, evaluate_scene_reference
from h3ds_hf.release.obj import write_obj
from h3ds_hf.scene import GroundTruth
from h3ds_hf.synthetic.release import synthetic_ground_truth

if not hasattr(np, "int"):  # the oracle still uses np.int, removed in numpy 1.24
    np.int = int

h3ds_dataset = pytest.importorskip("h3ds.dataset")
h3ds_mesh = pytest.importorskip("h3ds.mesh")

TOLERANCE_MM = 1e-6
REGION_IDS = (None, "face", "face_sphere", "nose")


@pytest.fixture(scope="module")
def gt() -> GroundTruth:
    return synthetic_ground_truth(seed=3, subdivisions=4)


@pytest.fixture(scope="module")
def oracle(gt: GroundTruth, tmp_path_factory: pytest.TempPathFactory):
    """The reference H3DS object over a raw release holding ``gt`` only."""
    root = tmp_path_factory.mktemp("release")
    scene = root / gt.scene_id
    (scene / "regions").mkdir(parents=True)
    write_obj(scene / "full_head.obj", gt.vertices, gt.faces)
    (scene / "landmarks.txt").write_text(
        "".join(f"{name} {index}\n" for name, index in gt.landmarks.items())
    )
    for region, indices in gt.regions.items():
        (scene / "regions" / f"{region}.txt").write_text("".join(f"{i}\n" for i in indices))
    config = root / "config.toml"
    config.write_text(
        f'version = "test"\n[scenes.{gt.scene_id}]\nviews = 1\n'
        f'[scenes.{gt.scene_id}.default_views_configs]\n"1" = [0]\n'
    )
    return h3ds_dataset.H3DS(str(root), config_path=str(config))


# ---------------------------------------------------------------------------- predictions


def _noise(gt: GroundTruth) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    rng = np.random.default_rng(0)
    return gt.vertices + rng.normal(0.0, 0.4, gt.vertices.shape), gt.faces, dict(gt.landmarks)


def _holes(gt: GroundTruth) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Noisy GT with two patches (cheek, top of the head) cut out and vertices renumbered."""
    rng = np.random.default_rng(1)
    vertices = gt.vertices + rng.normal(0.0, 0.3, gt.vertices.shape)
    centres = np.array([[-70.0, -10.0, 40.0], [0.0, 100.0, 0.0]])
    distance = np.linalg.norm(gt.vertices[:, None, :] - centres[None], axis=2).min(axis=1)
    keep = distance > 25.0
    assert keep[list(gt.landmarks.values())].all()
    renumber = np.cumsum(keep) - 1
    faces = renumber[gt.faces[keep[gt.faces].all(axis=1)]]
    landmarks = {name: int(renumber[index]) for name, index in gt.landmarks.items()}
    return vertices[keep], faces, landmarks


def _density(gt: GroundTruth) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The same head tessellated four times finer (scene 3 of the same release seed)."""
    fine = synthetic_ground_truth(seed=3, subdivisions=5)
    return fine.vertices, fine.faces, dict(fine.landmarks)


def _similarity(gt: GroundTruth) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Noisy GT rotated 8 degrees, scaled by 1.1 and shifted: what landmarks must undo."""
    vertices, faces, landmarks = _noise(gt)
    matrix = trimesh.transformations.rotation_matrix(np.radians(8.0), [0.2, 1.0, 0.3])
    matrix[:3, :3] *= 1.1
    matrix[:3, 3] = [6.0, -4.0, 9.0]
    return trimesh.transform_points(vertices, matrix), faces, landmarks


def _mirror(gt: GroundTruth) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """GT reflected through the plane z = z(nose tip): the face turned inside out, for which
    the reference's ICP prefers a reflection on face_sphere and nose."""
    vertices = gt.vertices.copy()
    vertices[:, 2] = 2.0 * gt.vertices[gt.landmarks["nose_tip"], 2] - vertices[:, 2]
    return vertices, gt.faces[:, ::-1], dict(gt.landmarks)


CASES: dict[str, Callable[[GroundTruth], tuple[np.ndarray, np.ndarray, dict[str, int]]]] = {
    "noise": _noise,
    "holes": _holes,
    "density": _density,
    "similarity": _similarity,
    "mirror": _mirror,
}


@pytest.fixture(scope="module")
def run_oracle(oracle, gt):
    """Run the oracle on (case, landmarks?, region_id), memoized across tests.

    Returns the oracle's four outputs and the ICP matrix it computed (captured on the way).
    """
    memo: dict[tuple, tuple] = {}

    def run(case: str, use_landmarks: bool, region_id: str | None):
        key = (case, use_landmarks, region_id)
        if key not in memo:
            vertices, faces, landmarks = CASES[case](gt)
            matrices = []
            perform_icp = h3ds_dataset.perform_icp

            def capture(*args, **kwargs):
                result = perform_icp(*args, **kwargs)
                matrices.append(result[1])
                return result

            mesh = h3ds_mesh.Mesh()
            mesh.vertices, mesh.faces = vertices.copy(), faces.copy()
            h3ds_dataset.perform_icp = capture
            try:
                out = oracle.evaluate_scene(
                    gt.scene_id, mesh, landmarks if use_landmarks else None, region_id
                )
            finally:
                h3ds_dataset.perform_icp = perform_icp
            memo[key] = (out, matrices[0])
        return memo[key]

    return run


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize("use_landmarks", [False, True], ids=["icp-only", "landmarks"])
@pytest.mark.parametrize("region_id", REGION_IDS, ids=[str(r) for r in REGION_IDS])
@pytest.mark.parametrize("case", list(CASES))
def test_reference_function_matches_oracle(run_oracle, gt, case, region_id, use_landmarks):
    vertices, faces, landmarks = CASES[case](gt)
    landmarks = landmarks if use_landmarks else None
    (d_gt, d_pred, mesh_gt, mesh_pred), _ = run_oracle(case, use_landmarks, region_id)

    ours_gt, ours_pred, (cut_v, cut_f), (aligned, ours_faces) = evaluate_scene_reference(
        gt, vertices, faces, landmarks, region_id
    )

    assert ours_gt.shape == d_gt.shape and ours_pred.shape == d_pred.shape
    assert np.abs(ours_gt - d_gt).max() < TOLERANCE_MM
    assert np.abs(ours_pred - d_pred).max() < TOLERANCE_MM
    assert abs(ours_gt.mean() - d_gt.mean()) < TOLERANCE_MM
    assert abs(ours_pred.mean() - d_pred.mean()) < TOLERANCE_MM
    assert np.abs(aligned - mesh_pred.vertices).max() < TOLERANCE_MM
    np.testing.assert_array_equal(cut_v, mesh_gt.vertices)
    np.testing.assert_array_equal(cut_f, mesh_gt.faces)
    np.testing.assert_array_equal(ours_faces, faces)


@pytest.mark.parametrize("region_id", ["face_sphere", "nose"])
def test_mirror_case_makes_the_reference_reflect(run_oracle, gt, region_id):
    vertices, faces, _ = _mirror(gt)
    (d_gt, _, _, _), matrix = run_oracle("mirror", False, region_id)
    assert np.linalg.det(matrix[:3, :3]) < 0
    ours, _, _, _ = evaluate_scene_reference(gt, vertices, faces, None, region_id)
    assert np.abs(ours - d_gt).max() < TOLERANCE_MM
    fit = SceneEvaluator(gt).evaluate((vertices, faces), regions=("face",)).regions["face"]
    assert fit.alignment.reflection


@pytest.mark.parametrize("use_landmarks", [False, True], ids=["icp-only", "landmarks"])
@pytest.mark.parametrize("case", list(CASES))
def test_face_and_head_scores_match_oracle(run_oracle, gt, case, use_landmarks):
    vertices, faces, landmarks = CASES[case](gt)
    landmarks = landmarks if use_landmarks else None
    result = evaluate_pair(gt, (vertices, faces), landmarks, keep_arrays=True)
    for name, region_id in (("face", "face_sphere"), ("head", None)):
        (d_gt, d_pred, _, _), matrix = run_oracle(case, use_landmarks, region_id)
        region = result.regions[name]
        assert abs(region.gt_to_pred_mm - d_gt.mean()) < TOLERANCE_MM
        # The face's prediction side: the predicted points nearest the GT face region only.
        if region_id is None:
            assert np.array_equal(region.pred_indices, np.arange(len(vertices)))
        else:
            nearest = cKDTree(gt.vertices).query(region.aligned_prediction)[1]
            inside = np.isin(nearest, gt.regions[region_id])
            assert np.array_equal(region.pred_indices, np.flatnonzero(inside))
            assert 0 < len(region.pred_indices) < len(vertices)
        d_pred = d_pred[region.pred_indices]
        assert abs(region.pred_to_gt_mm - d_pred.mean()) < TOLERANCE_MM
        assert np.abs(region.gt_to_pred - d_gt).max() < TOLERANCE_MM
        assert np.abs(region.pred_to_gt - d_pred).max() < TOLERANCE_MM
        assert region.alignment.reflection == bool(np.linalg.det(matrix[:3, :3]) < 0)
        np.testing.assert_allclose(region.alignment.matrix, matrix, rtol=0, atol=1e-9)


def test_one_evaluator_scores_several_predictions_like_fresh_ones(gt):
    """Cached GT trees give the same numbers as a fresh evaluator per prediction."""
    evaluator = SceneEvaluator(gt)
    for make in (_noise, _similarity, _holes):
        vertices, faces, landmarks = make(gt)
        shared = evaluator.evaluate((vertices, faces), landmarks).to_dict()
        fresh = evaluate_pair(gt, (vertices, faces), landmarks).to_dict()
        assert shared == fresh


@pytest.mark.parametrize("scale", [0.9, 1.05])
def test_icp_diagnostics_are_reported(gt, scale):
    """A prediction that is the GT scaled about the origin: ICP recovers the scale exactly."""
    result = evaluate_pair(gt, (gt.vertices * scale, gt.faces))
    for region in result.regions.values():
        assert 1 <= region.alignment.iterations <= 20
        assert region.alignment.scale == pytest.approx(scale, rel=1e-6)
        assert not region.alignment.reflection
        assert region.alignment.rms_mm < 1e-6
        assert region.gt_to_pred_mm < 1e-6


def test_gt_written_for_the_oracle_round_trips(oracle, gt):
    """The oracle reads back exactly the floats our side uses (precondition of parity)."""
    mesh = oracle.load_mesh(gt.scene_id)
    np.testing.assert_array_equal(mesh.vertices, gt.vertices)
    np.testing.assert_array_equal(mesh.faces, gt.faces)
    assert oracle.load_landmarks(gt.scene_id) == dict(gt.landmarks)
