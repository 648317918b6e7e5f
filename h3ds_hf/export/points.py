"""The GT scan's vertices that the exported views see, as a sparse point cloud with tracks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from h3ds_hf.export.colmap import Points
from h3ds_hf.render.raster import coherent_order, project, rasterize

#: Points written at most (a regular subsample of the GT vertices, in their file order).
MAX_POINTS = 20_000
#: A vertex is seen when its depth is within this of the z-buffer's at its pixel, mm.
DEPTH_TOLERANCE_MM = 1.0
#: Colour of the points: they carry the geometry only.
GREY = (180, 180, 180)


def visible_points(
    vertices: np.ndarray,
    faces: np.ndarray,
    world_mats: Sequence[np.ndarray],
    sizes: Sequence[tuple[int, int]],
    *,
    max_points: int = MAX_POINTS,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Which subsampled GT vertices each view sees, occlusion included.

    Args:
        vertices: (N, 3) float64 GT vertices, mm; faces: (M, 3) triangles.
        world_mats: per view, (4, 4) P = K [R | t], mm -> pixels (centres at integers).
        sizes: per view, (width, height).

    Returns:
        chosen (P,) int64 vertex indices (seen by at least one view), and per view a (K, 3)
        float64 array of (point index into chosen, x, y): where it sees them, pixels with the
        centre of the top-left pixel at (0.5, 0.5) (COLMAP's convention).
    """
    sample = np.arange(0, len(vertices), max(1, -(-len(vertices) // max_points)))
    faces = faces[coherent_order(vertices, faces)]
    seen_by = []
    for world_mat, (width, height) in zip(world_mats, sizes, strict=True):
        pixels, depth = project(world_mat, vertices)
        raster = rasterize(pixels, depth, faces, width, height)
        xy = np.rint(pixels[sample]).astype(np.int64)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
        inside &= depth[sample] > 0
        ok = np.flatnonzero(inside)
        front = raster.depth[xy[ok, 1], xy[ok, 0]]
        ok = ok[depth[sample[ok]] <= front + DEPTH_TOLERANCE_MM]
        seen_by.append((ok, pixels[sample[ok]] + 0.5))
    used = np.zeros(len(sample), dtype=bool)
    for ok, _ in seen_by:
        used[ok] = True
    renumber = np.cumsum(used) - 1
    tracks = [np.column_stack([renumber[ok], xy]).astype(np.float64) for ok, xy in seen_by]
    return sample[used], tracks


def gt_points(
    vertices: np.ndarray,
    faces: np.ndarray,
    world_mats: Sequence[np.ndarray],
    sizes: Sequence[tuple[int, int]],
    coordinates: np.ndarray,
) -> Points:
    """:func:`visible_points` as COLMAP points, placed at ``coordinates`` (N, 3): the GT
    vertices in the export's world frame (mm, or normalised)."""
    chosen, tracks = visible_points(vertices, faces, world_mats, sizes)
    rgb = np.tile(np.array(GREY, dtype=np.uint8), (len(chosen), 1))
    return Points(xyz=coordinates[chosen], rgb=rgb, tracks=tracks)
