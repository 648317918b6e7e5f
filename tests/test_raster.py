"""The z-buffer against ray casting (Moller-Trumbore, every ray against every triangle): the
same covered pixels, visible triangles and depths at pixel centres."""

from __future__ import annotations

import numpy as np

from h3ds_hf.render.raster import coherent_order, project, rasterize
from h3ds_hf.synthetic.release import synthetic_cameras, synthetic_ground_truth


def _rays(world_mat: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit directions of the rays through every pixel centre (row-major)."""
    M, p4 = world_mat[:3, :3], world_mat[:3, 3]
    centre = -np.linalg.solve(M, p4)
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    pixels = np.stack([cols.ravel(), rows.ravel(), np.ones(cols.size)], axis=1)
    directions = np.linalg.solve(M, pixels.T).T
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return np.tile(centre, (len(directions), 1)), directions


def _cast(
    origin: np.ndarray, directions: np.ndarray, triangles: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit distance along each ray (inf for none) and the triangle hit (-1)."""
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    e1, e2 = b - a, c - a
    p = np.cross(directions[:, None], e2[None])  # (R, M, 3)
    det = np.einsum("rmk,mk->rm", p, e1)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        s = origin - a
        u = np.einsum("rmk,mk->rm", p, s) * inv
        q = np.cross(s, e1)
        v = np.einsum("rk,mk->rm", directions, q) * inv
        t = np.einsum("mk,mk->m", e2, q)[None] * inv
    hit = (np.abs(det) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    t = np.where(hit, t, np.inf)
    nearest = t.argmin(axis=1)
    distance = t[np.arange(len(t)), nearest]
    return distance, np.where(np.isfinite(distance), nearest, -1)


def test_raster_matches_ray_casting_on_the_synthetic_head():
    gt = synthetic_ground_truth(0, subdivisions=3)
    width, height = 36, 48
    cameras = synthetic_cameras(gt.vertices, 4, (width, height))
    for world_mat in cameras.world_mats:
        raster = rasterize(*project(world_mat, gt.vertices), gt.faces, width, height)
        origins, directions = _rays(world_mat, width, height)
        distance, triangle = _cast(origins[0], directions, gt.vertices[gt.faces])
        hit = triangle >= 0
        covered = raster.covered.ravel()
        # Rays grazing an edge may go either way: at most a handful of pixels differ.
        assert np.count_nonzero(covered != hit) <= 3 and covered.sum() > 200
        both = covered & hit
        agree = raster.faces.ravel()[both] == triangle[both]
        assert agree.mean() > 0.99  # the rest: rays through a shared edge
        axis = world_mat[2, :3] / np.linalg.norm(world_mat[2, :3])
        depth = distance * (directions @ axis) * np.linalg.norm(world_mat[2, :3])
        np.testing.assert_allclose(raster.depth.ravel()[both], depth[both], rtol=1e-9)


def test_nearer_triangle_wins_in_any_order():
    # Two screen-filling triangles at depths 2 and 5 seen by K = I-like camera.
    K = np.array([[10.0, 0, 4.5], [0, 10.0, 4.5], [0, 0, 1]])
    P = np.hstack([K, np.zeros((3, 1))])
    square = np.array([[-5, -5], [5, -5], [0, 5]], dtype=np.float64)
    near = np.column_stack([square * 2, np.full(3, 2.0)])
    far = np.column_stack([square * 5, np.full(3, 5.0)])
    vertices = np.concatenate([far, near])
    for faces in ([[0, 1, 2], [3, 4, 5]], [[3, 4, 5], [0, 1, 2]]):
        raster = rasterize(*project(P, vertices), np.array(faces), 10, 10)
        seen = np.array(faces)[raster.faces[raster.covered]][:, 0]
        assert (seen == 3).all() and np.allclose(raster.depth[raster.covered], 2.0)


def test_triangles_behind_the_camera_are_skipped():
    P = np.hstack([np.eye(3), np.zeros((3, 1))])
    vertices = np.array([[-1.0, -1, -1], [1, -1, -1], [0, 1, -1]])
    raster = rasterize(*project(P, vertices), np.array([[0, 1, 2]]), 4, 4)
    assert not raster.covered.any() and np.isinf(raster.depth).all()


def test_coherent_order_changes_the_speed_not_the_picture():
    gt = synthetic_ground_truth(0, subdivisions=4)
    order = coherent_order(gt.vertices, gt.faces)
    assert sorted(order) == list(range(len(gt.faces)))
    world_mat = synthetic_cameras(gt.vertices, 3, (96, 128)).world_mats[1]
    pixels, depth = project(world_mat, gt.vertices)
    plain = rasterize(pixels, depth, gt.faces, 96, 128)
    ordered = rasterize(pixels, depth, gt.faces[order], 96, 128)
    assert (plain.covered == ordered.covered).all()
    np.testing.assert_allclose(ordered.depth, plain.depth)
    same = order[ordered.faces[ordered.covered]] == plain.faces[plain.covered]
    assert same.mean() > 0.98  # the rest: pixel centres on an edge shared by two triangles
