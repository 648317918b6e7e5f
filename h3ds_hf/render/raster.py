"""A CPU z-buffer: which triangle of a mesh is seen at each pixel centre of a pinhole camera.

The camera is a projection P = K [R | t] (``world_mat`` of the IDR convention, OpenCV axes:
x right, y down, z forward) mapping world points to homogeneous pixels whose integer
coordinates are pixel centres: pixel (col, row) of an image is centred at (col, row). A pixel is
covered by a triangle when its centre lies inside the projected triangle or on its edges; the
nearest covering triangle (smallest camera depth, interpolated perspective-correctly) wins, the
earlier triangle on exact ties. One sequential numba kernel, so its time does not depend on idle
cores (see DESIGN.md). Its cost is memory traffic: drawn in :func:`coherent_order`, a
330k-triangle head at 1512x2016 takes about 3x less time than in a scattered file order.

Typical use (silhouette, depth map and visible triangles of a view)::

    order = coherent_order(vertices, faces)  # once per mesh: neighbours drawn together
    pixels, depth = project(world_mat, vertices)
    raster = rasterize(pixels, depth, faces[order], width, height)
    silhouette = raster.covered
    visible = order[raster.faces[silhouette]]  # indices into the original faces

Callers that need colours (shading, per-triangle heatmaps) index their per-triangle arrays with
``raster.faces[raster.covered]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

#: Nearest camera depth a drawn triangle may reach, in world units (a triangle with a corner
#: at or behind it is skipped: the pinhole projection is meaningless there).
NEAR = 1e-6


@dataclass(frozen=True)
class Raster:
    """What a camera sees of a mesh, per pixel.

    Attributes:
        depth: (H, W) float64 camera depth (z along the optical axis, world units) of the
            visible surface at each pixel centre; +inf where no triangle covers it.
        faces: (H, W) int32 index of the visible triangle, -1 where none.
    """

    depth: np.ndarray
    faces: np.ndarray

    @property
    def covered(self) -> np.ndarray:
        """(H, W) bool: pixels where some triangle is visible (the mesh's silhouette)."""
        return self.faces >= 0


def project(world_mat: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points through a pinhole camera.

    Args:
        world_mat: (3, 4) or (4, 4) projection P = K [R | t] (top 3x4 used), world -> pixels,
            with K[2, 2] > 0 so that the third homogeneous coordinate is the depth times K[2, 2].
        points: (N, 3) world points.

    Returns:
        pixels (N, 2) float64 (x = column, y = row; pixel centres at integers) and depth
        (N,) float64, the third homogeneous coordinate (the camera depth when K[2, 2] = 1;
        <= 0 behind the camera).
    """
    P = np.asarray(world_mat, dtype=np.float64)[:3, :4]
    homogeneous = np.asarray(points, dtype=np.float64) @ P[:, :3].T + P[:, 3]
    depth = homogeneous[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        pixels = homogeneous[:, :2] / depth[:, None]
    return pixels, depth


def coherent_order(vertices: np.ndarray, faces: np.ndarray, cells: int = 64) -> np.ndarray:
    """A drawing order of the triangles that keeps neighbours together (any view then touches
    the z-buffer's memory in runs): triangles sorted by the cell of a ``cells``^3 grid over
    the mesh's bounding box holding their centroid.

    Args:
        vertices: (N, 3) vertices; faces: (M, 3) triangles.

    Returns:
        (M,) int64 permutation of the triangles.
    """
    centroids = np.asarray(vertices, dtype=np.float64)[faces].mean(axis=1)
    low = centroids.min(axis=0)
    size = max(float(np.ptp(centroids, axis=0).max()), np.finfo(np.float64).tiny)
    cell = np.minimum((centroids - low) * (cells / size), cells - 1).astype(np.int64)
    return np.argsort((cell[:, 2] * cells + cell[:, 1]) * cells + cell[:, 0], kind="stable")


def rasterize(
    pixels: np.ndarray, depth: np.ndarray, faces: np.ndarray, width: int, height: int
) -> Raster:
    """Z-buffer a projected triangle mesh.

    Args:
        pixels: (N, 2) float64 projected vertices (x, y), pixel centres at integers.
        depth: (N,) float64 camera depths of the vertices (> 0 in front of the camera).
        faces: (M, 3) integer vertex indices of the triangles to draw (any orientation: no
            culling, occlusion is resolved by depth).
        width, height: image size in pixels.

    Returns:
        The :class:`Raster` of the view.
    """
    zbuffer = np.full((height, width), np.inf)
    owner = np.full((height, width), -1, dtype=np.int32)
    _zbuffer(
        np.ascontiguousarray(pixels, dtype=np.float64),
        np.ascontiguousarray(depth, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int64),
        zbuffer,
        owner,
    )
    return Raster(depth=zbuffer, faces=owner)


@numba.njit(cache=True, nogil=True)
def _zbuffer(
    pixels: np.ndarray, depth: np.ndarray, faces: np.ndarray, zbuffer: np.ndarray, owner: np.ndarray
) -> None:
    height, width = zbuffer.shape
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        za, zb, zc = depth[a], depth[b], depth[c]
        if min(za, zb, zc) <= NEAR:
            continue
        ax, ay = pixels[a, 0], pixels[a, 1]
        bx, by = pixels[b, 0], pixels[b, 1]
        cx, cy = pixels[c, 0], pixels[c, 1]
        x0 = max(math.ceil(min(ax, bx, cx)), 0)
        x1 = min(math.floor(max(ax, bx, cx)), width - 1)
        y0 = max(math.ceil(min(ay, by, cy)), 0)
        y1 = min(math.floor(max(ay, by, cy)), height - 1)
        for py in range(y0, y1 + 1):
            for px in range(x0, x1 + 1):
                # Twice the signed areas of the sub-triangles opposite each corner.
                wa = (cx - bx) * (py - by) - (cy - by) * (px - bx)
                wb = (ax - cx) * (py - cy) - (ay - cy) * (px - cx)
                wc = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
                area = wa + wb + wc
                if area == 0.0:
                    continue
                if not ((wa >= 0 and wb >= 0 and wc >= 0) or (wa <= 0 and wb <= 0 and wc <= 0)):
                    continue
                # Screen-space barycentrics interpolate 1/z linearly (perspective-correct).
                z = area / (wa / za + wb / zb + wc / zc)
                if z < zbuffer[py, px]:
                    zbuffer[py, px] = z
                    owner[py, px] = f
