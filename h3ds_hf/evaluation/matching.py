"""ICP's matching step, exact, without searching again for points that barely moved.

trimesh's ICP looks up the nearest target vertex of every source point at every iteration; the
h3ds protocol runs 20 iterations for each of two regions over a ~655k-vertex prediction, so
those lookups dominate its cost. Between iterations the points move by a fraction of a
millimetre and most keep their nearest vertex. :class:`AnchoredMatcher` proves it instead of
searching:

When a point is searched at position a (its *anchor*), it keeps its K nearest target vertices,
the K-th at distance r_K. Later, at position p with δ = |p - a|, every other target vertex w
has |p - w| >= |a - w| - δ >= r_K - δ. So if the nearest of the K candidates lies closer than
r_K - δ, it is the nearest target vertex of p, exactly what a full search finds. Only points
failing that test (about one in ten per iteration on the benchmark) are searched again, which
anchors them where they are. The matches equal trimesh's full search at every iteration (an
exact tie between equidistant vertices may resolve differently, which never changes a distance).
"""

from __future__ import annotations

import numba
import numpy as np

from h3ds_hf.evaluation.blocktree import point_squared
from h3ds_hf.evaluation.neighbors import NearestVertex, as_points
from h3ds_hf.evaluation.parallel import KERNEL_LOCK

#: Candidates kept per point. Measured on the benchmark: 16 searches ~3 times per point over
#: 20 iterations, 8 ~5 times, 24 ~2.4 times; the total time is flat in between.
CANDIDATES = 16
# Slack (mm) on the proof, far above float64 rounding of mm-scale distances (~1e-13).
_SLACK = 1e-9


class AnchoredMatcher:
    """Nearest target vertex of a moving set of source points, reusing earlier searches.

    Args:
        target: the index over the target vertices (M, 3).
        size: number of source points N; every call passes N points in the same order.
    """

    def __init__(self, target: NearestVertex, size: int) -> None:
        self.target = target
        self._k = min(CANDIDATES, len(target))
        self._anchors = np.zeros((size, 3))
        self._candidates = np.zeros((size, self._k), dtype=np.int64)
        # -inf: nothing proven before a point's first search. +inf when every target vertex is
        # a candidate: the proof always holds.
        self._radius = np.full(size, -np.inf)
        if self._k == len(target):
            self._candidates[:] = np.arange(self._k)
            self._radius[:] = np.inf
        self.searched = 0  #: points searched in the tree so far (diagnostics)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """ICP matching step: (N, 3) moved source points -> (N, 3) nearest target vertices."""
        return self._match(points)[2]

    def nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest target vertex of each of the (N, 3) points.

        Returns:
            distances: (N,) float64 (mm); indices: (N,) int64 into the target's points.
        """
        distances, indices, _ = self._match(points)
        return distances, indices

    def _match(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distances (N,), indices (N,) and coordinates (N, 3) of the nearest targets."""
        points = as_points(points)
        indices = np.empty(len(points), dtype=np.int64)
        distances = np.empty(len(points))
        matched = np.empty_like(points)
        with KERNEL_LOCK:
            proven = _nearest_candidates(
                points,
                self._anchors,
                self._candidates,
                self._radius,
                self.target.points,
                indices,
                distances,
                matched,
            )
        stale = np.flatnonzero(~proven)
        if len(stale):
            self.searched += len(stale)
            found, neighbours = self.target.query(points[stale], k=self._k)
            found = found.reshape(len(stale), self._k)
            neighbours = neighbours.reshape(len(stale), self._k)
            self._anchors[stale] = points[stale]
            self._candidates[stale] = neighbours
            self._radius[stale] = found[:, -1]
            indices[stale] = neighbours[:, 0]
            distances[stale] = found[:, 0]
            matched[stale] = self.target.points[neighbours[:, 0]]
        return distances, indices, matched


@numba.njit(cache=True, parallel=True)
def _nearest_candidates(
    points, anchors, candidates, radius, target, out_index, out_distance, out_point
):
    """Nearest candidate of every point; True where it is proven the global nearest.

    Args:
        points, anchors: (N, 3); candidates: (N, K) rows of target; radius: (N,) r_K;
        target: (M, 3). Written: out_index (N,) the chosen target rows, out_distance (N,)
        their distances, out_point (N, 3) their coordinates.
    """
    proven = np.empty(len(points), np.bool_)
    for i in numba.prange(len(points)):
        x, y, z = points[i, 0], points[i, 1], points[i, 2]
        best = np.inf
        chosen = -1
        for c in range(candidates.shape[1]):
            row = candidates[i, c]
            d2 = point_squared(x, y, z, target, row)
            if d2 < best:
                best = d2
                chosen = row
        out_index[i] = chosen
        out_distance[i] = np.sqrt(best)
        for a in range(3):
            out_point[i, a] = target[chosen, a]
        mx, my, mz = x - anchors[i, 0], y - anchors[i, 1], z - anchors[i, 2]
        proven[i] = out_distance[i] + np.sqrt(mx * mx + my * my + mz * mz) + _SLACK < radius[i]
    return proven
