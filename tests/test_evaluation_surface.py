"""Protocol "surface": exact point-to-triangle distances and cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from h3ds_hf.evaluation import FSCORE_THRESHOLDS_MM, evaluate_pair
from h3ds_hf.evaluation.results import fscore
from h3ds_hf.evaluation.surface import SurfaceIndex, point_triangle_distance
from h3ds_hf.scene import LANDMARK_NAMES, GroundTruth
from h3ds_hf.synthetic.release import synthetic_ground_truth


def _brute_force(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Distance of each point to every triangle via trimesh's closest_point; the minimum."""
    triangles = vertices[faces]
    out = np.empty(len(points))
    for i, point in enumerate(points):
        closest = trimesh.triangles.closest_point(triangles, np.repeat(point[None], len(faces), 0))
        out[i] = np.linalg.norm(closest - point, axis=1).min()
    return out


def _grid(n: int, size: float, z: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A square [0, size]² at height z, n x n vertices, two triangles per cell."""
    xs = np.linspace(0.0, size, n)
    x, y = np.meshgrid(xs, xs, indexing="ij")
    vertices = np.column_stack((x.ravel(), y.ravel(), np.full(n * n, z)))
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
    a = (i * n + j).ravel()
    faces = np.concatenate(
        [np.column_stack((a, a + n, a + 1)), np.column_stack((a + 1, a + n, a + n + 1))]
    )
    return vertices, faces


def _sphere_gt(vertices: np.ndarray, faces: np.ndarray) -> GroundTruth:
    """A sphere as ground truth: 'nose tip' at +z, regions as the release defines them."""
    tip = int(np.argmax(vertices[:, 2]))
    directions = vertices / np.linalg.norm(vertices, axis=1, keepdims=True)
    landmark_dirs = np.array(
        [
            [-0.4, 0.3, 0.86],
            [0.4, 0.3, 0.86],
            [0, 0, 1],
            [0, -0.2, 0.98],
            [-0.3, -0.5, 0.8],
            [0.3, -0.5, 0.8],
        ]
    )
    landmarks = {
        n: int(np.argmax(directions @ d))
        for n, d in zip(LANDMARK_NAMES, landmark_dirs, strict=True)
    }
    landmarks["nose_tip"] = tip
    distance = np.linalg.norm(vertices - vertices[tip], axis=1)
    regions = {
        "face": np.flatnonzero(directions[:, 2] > -0.2),
        "face_sphere": np.flatnonzero(distance <= 95.0),
        "nose": np.flatnonzero(distance <= 20.0),
    }
    return GroundTruth("sphere", vertices, faces, landmarks, regions)


# ---------------------------------------------------------------------------- exactness


def test_point_triangle_distance_matches_trimesh_including_degenerate_triangles():
    rng = np.random.default_rng(0)
    triangles = rng.normal(size=(2000, 3, 3)) * 10
    triangles[:100, 1] = triangles[:100, 0]  # two corners equal
    triangles[100:200, 2] = triangles[100:200, 0] * 0.5 + triangles[100:200, 1] * 0.5  # collinear
    triangles[200:250] = triangles[200:250, :1]  # a point
    points = rng.normal(size=(2000, 3)) * 15
    points[250:500] = triangles[250:500].mean(axis=1)  # on the triangle
    expected = np.linalg.norm(trimesh.triangles.closest_point(triangles, points) - points, axis=1)
    ours = point_triangle_distance(points.T.copy(), triangles.reshape(-1, 9).T.copy())
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)


def test_surface_index_is_exact_near_far_and_with_huge_triangles():
    gt = synthetic_ground_truth(seed=1, subdivisions=3)
    n = len(gt.vertices)
    # A huge triangle and a degenerate one make several radius classes.
    vertices = np.vstack(
        [gt.vertices, [[300, 0, 0], [0, 300, 0], [0, 0, 300], [5, 5, 5], [9, 9, 9]]]
    )
    faces = np.vstack([gt.faces, [[n, n + 1, n + 2], [n + 3, n + 4, n + 3]]])
    rng = np.random.default_rng(2)
    points = np.vstack(
        [
            gt.vertices[::3] + rng.normal(0.0, 2.0, gt.vertices[::3].shape),  # near
            rng.uniform(-500.0, 500.0, (150, 3)),  # far away
            gt.vertices[:40],  # on the surface
        ]
    )
    distances, triangles = SurfaceIndex(vertices, faces).query(points)
    np.testing.assert_allclose(distances, _brute_force(points, vertices, faces), atol=1e-9)
    # The reported triangle realizes the distance.
    again = point_triangle_distance(
        points.T.copy(), vertices[faces[triangles]].reshape(-1, 9).T.copy()
    )
    np.testing.assert_allclose(again, distances, atol=1e-12)
    assert (distances[-40:] < 1e-9).all()


@pytest.mark.parametrize("offset", [0.5, 3.0])
def test_plane_against_parallel_plane_is_the_offset(offset):
    """Points of a plane (inside the other plane's extent) are exactly ``offset`` away."""
    vertices, faces = _grid(41, 100.0)
    index = SurfaceIndex(vertices, faces)
    other, _ = _grid(57, 100.0, z=offset)  # a different tessellation, same extent
    distances, _ = index.query(other)
    np.testing.assert_allclose(distances, offset, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------- protocol


def test_mesh_against_itself_scores_zero():
    gt = synthetic_ground_truth(seed=2, subdivisions=4)
    result = evaluate_pair(gt, (gt.vertices, gt.faces), dict(gt.landmarks), protocol="surface")
    assert set(result.regions) == {"face", "head"}
    for region in result.regions.values():
        assert region.gt_to_pred_mm < 1e-6 and region.pred_to_gt_mm < 1e-6
        assert region.gt_to_pred_p90_mm < 1e-6 and region.pred_to_gt_p90_mm < 1e-6
        assert [s.fscore for s in region.fscores] == [1.0] * len(FSCORE_THRESHOLDS_MM)
        assert not region.alignment.reflection
    assert result.regions["face"].n_gt_points == len(gt.regions["face_sphere"])
    assert result.regions["head"].n_pred_points == len(gt.vertices)


def test_coarse_and_fine_sphere_agree_under_surface_but_not_under_h3ds():
    """Fine GT vs a coarse, rotated tessellation of the same sphere: the surface protocol
    stays within the coarse mesh's sagitta; the h3ds protocol pays the vertex spacing."""
    radius = 100.0
    fine = trimesh.creation.icosphere(subdivisions=5, radius=radius)
    coarse = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    rotation = trimesh.transformations.rotation_matrix(0.3, [1.0, 2.0, 3.0])
    coarse_vertices = trimesh.transform_points(coarse.vertices, rotation)
    gt = _sphere_gt(np.asarray(fine.vertices), np.asarray(fine.faces, dtype=np.int64))
    # Largest gap between the sphere and a coarse triangle (from its circumradius).
    triangles = coarse_vertices[coarse.faces]
    a, b, c = (
        np.linalg.norm(triangles[:, i] - triangles[:, j], axis=1)
        for i, j in ((0, 1), (1, 2), (2, 0))
    )
    circumradius = a * b * c / (4.0 * trimesh.triangles.area(triangles))
    sagitta = radius - np.sqrt(radius**2 - circumradius.max() ** 2)

    pred = (coarse_vertices, np.asarray(coarse.faces))
    surface = evaluate_pair(gt, pred, protocol="surface", alignment="rigid")
    h3ds = evaluate_pair(gt, pred, protocol="h3ds")
    for name in ("face", "head"):
        assert surface.regions[name].gt_to_pred_mm <= sagitta
        assert surface.regions[name].pred_to_gt_mm <= sagitta
        assert h3ds.regions[name].gt_to_pred_mm > 4.0 * surface.regions[name].gt_to_pred_mm


def test_similarity_alignment_undoes_scale_rigid_does_not():
    gt = synthetic_ground_truth(seed=2, subdivisions=4)
    pred = (gt.vertices * 1.05, gt.faces)
    similarity = evaluate_pair(gt, pred, protocol="surface")
    rigid = evaluate_pair(gt, pred, dict(gt.landmarks), protocol="surface", alignment="rigid")
    head_s, head_r = similarity.regions["head"], rigid.regions["head"]
    assert head_s.alignment.scale == pytest.approx(1.05, rel=1e-6)
    assert head_s.gt_to_pred_mm < 1e-6
    assert head_r.alignment.scale == pytest.approx(1.0, abs=1e-9)
    assert head_r.gt_to_pred_mm > 1.0
    assert rigid.alignment == "rigid" and similarity.alignment == "similarity"


def test_surface_protocol_never_reflects():
    gt = synthetic_ground_truth(seed=3, subdivisions=4)
    vertices = gt.vertices.copy()
    vertices[:, 2] = 2.0 * gt.vertices[gt.landmarks["nose_tip"], 2] - vertices[:, 2]
    surface = evaluate_pair(gt, (vertices, gt.faces[:, ::-1]), protocol="surface")
    h3ds = evaluate_pair(gt, (vertices, gt.faces[:, ::-1]), regions=("face",))
    assert not any(r.alignment.reflection for r in surface.regions.values())
    assert h3ds.regions["face"].alignment.reflection


def test_fscore_counts_points_strictly_below_the_threshold():
    gt_to_pred = np.array([0.5, 1.0, 2.0, 6.0])
    pred_to_gt = np.array([0.1, 0.2, 3.0])
    score = fscore(gt_to_pred, pred_to_gt, 1.0)
    assert (score.precision, score.recall) == (2 / 3, 1 / 4)
    assert score.fscore == pytest.approx(2 * (2 / 3) * (1 / 4) / (2 / 3 + 1 / 4))
    assert fscore(gt_to_pred, pred_to_gt, 0.05).fscore == 0.0
