"""Exact closest-point distances from points to a triangle mesh, fast on large meshes.

Approach (exact, no sampling). Every triangle t has a centroid c_t and a radius r_t (largest
centroid-to-corner distance): all of t lies within r_t of c_t, so for a query q

    dist(q, t) >= |q - c_t| - r_t.                                              (1)

If dist(q, t) < d then |q - c_t|² - r_t² < (d + r_t)² - r_t² <= d² + 2 d r_max, so triangles
are indexed by this "power distance" |q - c_t|² - r_t²: each centroid is lifted to 4D as
(c_t, sqrt(W - r_t²)) with W = r_max², and a 4D nearest-neighbour distance ρ from (q, 0)
gives ρ² - W = |q - c_t|² - r_t². Triangles are grouped into radius classes (powers of two
above twice the median radius) so that a few huge triangles do not loosen r_max for the rest.
Per class and query:

1. the exact distance to the nearest lifted centroid's triangle is an upper bound d;
2. the k nearest lifted centroids (pykdtree) give candidate triangles, and only candidates
   whose bound (1) is below d get an exact distance (which lowers d);
3. the class is settled once ρ_k² - W >= d² + 2 d r_max (k-th candidate): no unfetched
   triangle can be closer. Unsettled queries repeat 2-3 with a larger k;
4. queries still unsettled (far from the surface) get every triangle within that bound by a
   cKDTree ball query in the same 4D space, exhaustive by construction.

Point-triangle distances are vectorized numpy on component-major arrays: the distance to the
triangle's plane when the projection falls inside the triangle, otherwise to the nearest of the
three edges (segments). Degenerate (zero-area) triangles reduce to their edges.
"""

from __future__ import annotations

import numpy as np
from pykdtree.kdtree import KDTree
from scipy.spatial import cKDTree
from trimesh.triangles import closest_point

from h3ds_hf.evaluation.neighbors import as_points, spatial_order

# Lifted centroids fetched per class and query, in successive passes over the queries a pass
# could not settle: 16 settles most queries within about a triangle size of the surface, 96
# most of the rest; the few left (far away) go to the exhaustive ball pass.
_K_PASSES = (16, 96)
# Queries per block (bounds the (block, k) candidate arrays to a few tens of MB).
_BLOCK = 1 << 15
# Pairs per vectorized point-triangle batch.
_CHUNK = 1 << 17
# Queries per ball-query batch of the exhaustive pass.
_BALL_BATCH = 4096


class SurfaceIndex:
    """Closest-point index over a triangle mesh.

    Args:
        vertices: (N, 3) float64 (mm); faces: (F, 3) int64, F >= 1.
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        triangles = as_points(vertices)[faces]  # (F, 3, 3)
        # Component-major corners (9, F): rows ax, ay, az, bx, ..., cz; gathers stay contiguous.
        self._corners = np.ascontiguousarray(triangles.reshape(len(faces), 9).T)
        centroids = triangles.mean(axis=1)
        self._radii = np.linalg.norm(triangles - centroids[:, None, :], axis=2).max(axis=1)
        reference = 2.0 * max(float(np.median(self._radii)), np.finfo(float).tiny)
        levels = np.ceil(np.log2(np.maximum(self._radii / reference, 1.0))).astype(np.int64)
        self._classes = [
            _RadiusClass(ids, centroids[ids], self._radii[ids])
            for ids in (np.flatnonzero(levels == level) for level in np.unique(levels))
        ]

    def query(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance from each point to the closest point of the surface.

        Args:
            points: (Q, 3) query coordinates (mm).

        Returns:
            distances: (Q,) float64 (mm); triangles: (Q,) int64 index of a closest face.
        """
        points = as_points(points)
        points_t = np.ascontiguousarray(points.T)  # (3, Q)
        best = np.full(len(points), np.inf)
        best_tri = np.full(len(points), -1, dtype=np.int64)
        # Blocks of spatially close queries keep the trees and triangles in cache.
        order = spatial_order(points)
        for start in range(0, len(points), _BLOCK):
            self._query_block(points_t, order[start : start + _BLOCK], best, best_tri)
        return best, best_tri

    def closest_points(self, points: np.ndarray) -> np.ndarray:
        """The closest surface point of each query point, (Q, 3) float64 (mm)."""
        points = as_points(points)
        _, triangles = self.query(points)
        corners = self._corners[:, triangles].T.reshape(len(points), 3, 3)
        return closest_point(corners, points)

    def _query_block(
        self, points_t: np.ndarray, rows: np.ndarray, best: np.ndarray, best_tri: np.ndarray
    ) -> None:
        for cls in self._classes:
            # The first candidate's exact distance: a tight upper bound to prune the others.
            self._knn_pass(points_t, rows, cls, 1, best, best_tri)
        for cls in self._classes:
            open_rows = rows
            for k in _K_PASSES:
                open_rows = self._knn_pass(points_t, open_rows, cls, k, best, best_tri)
                if len(open_rows) == 0:
                    break
            else:
                self._ball_pass(points_t, open_rows, cls, best, best_tri)

    def _knn_pass(
        self,
        points_t: np.ndarray,
        rows: np.ndarray,
        cls: _RadiusClass,
        k: int,
        best: np.ndarray,
        best_tri: np.ndarray,
    ) -> np.ndarray:
        """Test the k nearest (lifted) triangles of ``cls`` that can still beat ``best``.

        Returns:
            the rows the class cannot settle yet (an unfetched triangle might be closer).
        """
        k = min(k, len(cls.ids))
        lifted = np.zeros((len(rows), 4))
        lifted[:, :3] = points_t[:, rows].T
        lifted_dist, local = cls.tree.query(lifted, k=k)
        power = lifted_dist.reshape(len(rows), k) ** 2 - cls.weight
        triangles = cls.ids[local.reshape(len(rows), k)]
        # Bound (1) with |q - c_t|² = power + r_t²: test only candidates that can still win.
        radii = self._radii[triangles]
        lower = np.sqrt(np.maximum(power + radii**2, 0.0)) - radii
        i, j = np.nonzero(lower < best[rows, None])
        self._pairs(points_t, rows[i], triangles[i, j], best, best_tri)
        if k == len(cls.ids):
            return rows[:0]
        d = best[rows]
        return rows[power[:, -1] < d * (d + 2.0 * cls.max_radius)]

    def _ball_pass(
        self,
        points_t: np.ndarray,
        rows: np.ndarray,
        cls: _RadiusClass,
        best: np.ndarray,
        best_tri: np.ndarray,
    ) -> None:
        """Test every triangle of ``cls`` that could beat ``best`` for the given rows."""
        tree = cls.ball_tree()
        for start in range(0, len(rows), _BALL_BATCH):
            part = rows[start : start + _BALL_BATCH]
            lifted = np.zeros((len(part), 4))
            lifted[:, :3] = points_t[:, part].T
            d = best[part]
            radius = np.sqrt(cls.weight + d * (d + 2.0 * cls.max_radius))
            hits = tree.query_ball_point(lifted, r=radius, workers=-1)
            counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
            if counts.sum() == 0:
                continue
            r = np.repeat(part, counts)
            t = cls.ids[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])]
            self._pairs(points_t, r, t, best, best_tri)

    def _pairs(
        self,
        points_t: np.ndarray,
        rows: np.ndarray,
        triangles: np.ndarray,
        best: np.ndarray,
        best_tri: np.ndarray,
    ) -> None:
        """Lower ``best``/``best_tri`` with the exact distances of (row, triangle) pairs."""
        for start in range(0, len(rows), _CHUNK):
            r = rows[start : start + _CHUNK]
            t = triangles[start : start + _CHUNK]
            d = point_triangle_distance(points_t[:, r], self._corners[:, t])
            np.minimum.at(best, r, d)
            won = d == best[r]
            best_tri[r[won]] = t[won]


class _RadiusClass:
    """Triangles of similar size: ids, lifted-centroid trees, largest radius and W = r_max²."""

    def __init__(self, ids: np.ndarray, centroids: np.ndarray, radii: np.ndarray) -> None:
        self.ids = ids
        self.max_radius = float(radii.max())
        self.weight = self.max_radius**2
        self.lifted = np.empty((len(ids), 4))
        self.lifted[:, :3] = centroids
        self.lifted[:, 3] = np.sqrt(np.maximum(self.weight - radii**2, 0.0))
        self.tree = KDTree(self.lifted, leafsize=16)
        self._ball_tree: cKDTree | None = None

    def ball_tree(self) -> cKDTree:
        if self._ball_tree is None:
            self._ball_tree = cKDTree(self.lifted)
        return self._ball_tree


def point_triangle_distance(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point to its paired filled triangle.

    Args:
        points: (3, P) float64, component-major (row 0 = x).
        corners: (9, P) float64, component-major corners a, b, c (rows ax, ay, az, bx, ...).

    Returns:
        (P,) float64 distances, in the units of the inputs.
    """
    p = points
    a, b, c = corners[0:3], corners[3:6], corners[6:9]
    ab, bc, ca = b - a, c - b, a - c
    pa, pb, pc = p - a, p - b, p - c
    squared = np.minimum(np.minimum(_segment_sq(pa, ab), _segment_sq(pb, bc)), _segment_sq(pc, ca))
    normal = _cross(ab, -ca)
    nn = _dot(normal, normal)
    # Inside when the projection is on the inner side of all three edges (and area > 0).
    inside = (nn > 0) & (_dot(_cross(ab, pa), normal) >= 0)
    inside &= _dot(_cross(bc, pb), normal) >= 0
    inside &= _dot(_cross(ca, pc), normal) >= 0
    if inside.any():
        plane = _dot(normal[:, inside], pa[:, inside]) ** 2 / nn[inside]
        squared[inside] = np.minimum(squared[inside], plane)
    return np.sqrt(squared)


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.stack(
        (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
    )


def _segment_sq(rel: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """Squared distance to segments: ``rel`` = point - segment start, ``edge`` = end - start,
    both (3, P)."""
    length_sq = _dot(edge, edge)
    t = np.divide(_dot(rel, edge), length_sq, out=np.zeros_like(length_sq), where=length_sq > 0)
    np.clip(t, 0.0, 1.0, out=t)
    diff = rel - t * edge
    return _dot(diff, diff)
