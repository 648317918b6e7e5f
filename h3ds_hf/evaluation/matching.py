"""ICP's matching step, exact, without searching again for points that barely moved.

trimesh's ICP looks up the nearest target vertex of every source point at every iteration; the
h3ds protocol runs 20 iterations for each of two regions over a ~655k-vertex prediction, so
those lookups dominate its cost. Between iterations the points move by a fraction of a
millimetre and most keep their nearest vertex. :class:`AnchoredMatcher` proves it instead of
searching:

When a point is searched at position a (its *anchor*), it keeps its K nearest target vertices,
the K-th at distance r_K. Later, at position p with δ = |p - a|, every other target vertex w
has |p - w| >= |a - w| - δ >= r_K - δ. So if the nearest of the K candidates lies closer than
r_K - δ, it is the nearest target vertex of p, exactly what a full search finds. A point
failing that test is searched again where it is, in the target's tree, starting from its K
candidates: they are still close, so the search reads only the few leaves around the point.
The matches equal trimesh's full search at every iteration (an exact tie between equidistant
vertices may resolve differently, which never changes a distance).

One compiled kernel per iteration does both the proofs and the searches, on all cores.
"""

from __future__ import annotations

import numba
import numpy as np

from h3ds_hf.evaluation.blocktree import BlockTree, k_nearest, point_squared, rows_near
from h3ds_hf.evaluation.neighbors import as_points
from h3ds_hf.evaluation.parallel import kernel_threads

#: Candidates kept per point. Measured on the benchmark's head ICP (75k points, 20 iterations):
#: 8 and 12 equally fast, 6 ~5% and 16 ~20% slower (fewer candidates: more points searched
#: again; more: costlier searches and proofs).
CANDIDATES = 8
# Slack (mm) on the proof, far above float64 rounding of mm-scale distances (~1e-13).
_SLACK = 1e-9
# Points searched one after the other by a thread, sharing its scratch arrays (and, on a first
# search, each starting from the one before).
_SEARCH_BATCH = 64


class AnchoredMatcher:
    """Nearest target vertex of a moving set of source points, reusing earlier searches.

    Args:
        target: the index over the target vertices (M, 3).
        size: number of source points N; every call passes N points in the same order.
    """

    def __init__(self, target: BlockTree, size: int) -> None:
        self.target = target
        self._k = min(CANDIDATES, len(target))
        self._anchors = np.zeros((size, 3))
        # Rows of target.tree.elements.
        self._candidates = np.zeros((size, self._k), dtype=np.int64)
        # -inf: nothing proven before a point's first search. +inf when every target vertex is
        # a candidate: the proof always holds.
        self._radius = np.full(size, -np.inf)
        if self._k == len(target):
            self._candidates[:] = np.arange(self._k)
            self._radius[:] = np.inf
        self.searched = 0  #: points searched in the tree so far (diagnostics)

    def restricted(self, members: np.ndarray) -> AnchoredMatcher:
        """A matcher for the source points ``members`` ((n,) indices into this one's points, in
        the order the new matcher is called with), keeping their searches so far."""
        matcher = AnchoredMatcher(self.target, 0)
        matcher._anchors = self._anchors[members]
        matcher._candidates = self._candidates[members]
        matcher._radius = self._radius[members]
        return matcher

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """ICP matching step: (N, 3) moved source points -> (N, 3) nearest target vertices."""
        return self._match(points)[2]

    def nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest target vertex of each of the (N, 3) points.

        Returns:
            distances: (N,) float64 (mm); indices: (N,) int64 into the target's points.
        """
        rows, squared, _ = self._match(points)
        return np.sqrt(squared), self.target.perm[rows]

    def _match(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of the target tree's elements (N,), squared distances (N,) and coordinates
        (N, 3) of the nearest target vertices."""
        points = as_points(points)
        rows = np.empty(len(points), dtype=np.int64)
        squared = np.empty(len(points))
        matched = np.empty_like(points)
        tree = self.target.tree
        with kernel_threads(len(points)):
            self.searched += _match_step(
                points,
                self._anchors,
                self._candidates,
                self._radius,
                tree.elements,
                tree.low,
                tree.high,
                tree.start,
                tree.end,
                tree.left,
                tree.depth,
                rows,
                squared,
                matched,
            )
        return rows, squared, matched


@numba.njit(cache=True, parallel=True)
def _match_step(
    points,
    anchors,
    candidates,
    radius,
    target,
    low,
    high,
    start,
    end,
    left,
    depth,
    rows,
    squared,
    matched,
):
    """Nearest target row of every point: proven from its candidates, else searched.

    Args:
        points, anchors: (N, 3); candidates: (N, K) rows of target; radius: (N,) r_K (mm);
            target: (M, 3) the tree's points in leaf order; low ... depth: its tree. The
            anchors, candidates and radii of the searched points are updated.
        rows: (N,) written, the nearest target rows; squared: (N,) written, their squared
            distances (mm²); matched: (N, 3) written, their coordinates (gathered here: numpy's
            fancy indexing of (N, 3) rows is several times slower).

    Returns:
        The number of points searched.
    """
    count = points.shape[0]
    proven = np.empty(count, np.bool_)
    for i in numba.prange(count):
        x, y, z = points[i, 0], points[i, 1], points[i, 2]
        best = np.inf
        chosen = candidates[i, 0]
        for row in candidates[i]:
            d2 = point_squared(x, y, z, target, row)
            if d2 < best:
                best = d2
                chosen = row
        rows[i] = chosen
        squared[i] = best
        mx, my, mz = x - anchors[i, 0], y - anchors[i, 1], z - anchors[i, 2]
        proven[i] = np.sqrt(best) + np.sqrt(mx * mx + my * my + mz * mz) + _SLACK < radius[i]
    stale = np.flatnonzero(~proven)
    k = candidates.shape[1]
    for batch in numba.prange((len(stale) + _SEARCH_BATCH - 1) // _SEARCH_BATCH):
        stack = np.empty(2 * depth + 2, np.int64)
        gaps = np.empty(2 * depth + 2)
        found_d2 = np.empty(k)
        found_row = np.empty(k, np.int64)
        seeded = False
        for i in stale[batch * _SEARCH_BATCH : (batch + 1) * _SEARCH_BATCH]:
            x, y, z = points[i, 0], points[i, 1], points[i, 2]
            if radius[i] == -np.inf:
                # Never searched: start from the previous point's nearest (its neighbour in
                # the source's spatial order), or from the rows around it.
                if not seeded:
                    rows_near(x, y, z, low, high, start, end, left, found_row)
            else:
                for slot in range(k):
                    found_row[slot] = candidates[i, slot]
            for slot in range(k):
                found_d2[slot] = point_squared(x, y, z, target, found_row[slot])
            worst = k_nearest(
                x, y, z, target, low, high, start, end, left, stack, gaps, found_d2, found_row
            )
            nearest = np.argmin(found_d2)
            rows[i], squared[i] = found_row[nearest], found_d2[nearest]
            # Element by element: array assignments compile a shape check (seconds).
            for slot in range(k):
                candidates[i, slot] = found_row[slot]
            radius[i] = np.sqrt(worst)
            for a in range(3):
                anchors[i, a] = points[i, a]
            seeded = True
    for i in numba.prange(count):
        for a in range(3):
            matched[i, a] = target[rows[i], a]
    return len(stale)
