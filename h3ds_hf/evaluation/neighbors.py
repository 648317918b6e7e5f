"""Nearest-vertex search on a fixed point set, and the spatial order that keeps queries local.

:class:`NearestVertex` wraps pykdtree, which answers k-nearest queries in parallel (OpenMP, all
cores unless ``OMP_NUM_THREADS`` says otherwise) and is about 20x faster than scipy's cKDTree on
far-away queries (DESIGN.md). It returns the exact nearest neighbours; only the index chosen
among exactly equidistant points can differ from cKDTree's, which never changes a distance.

:func:`spatial_order` lists points along a Morton curve and :func:`compact_blocks` cuts that
list into small groups of neighbours, which :mod:`~h3ds_hf.evaluation.blocktree` searches
together.
"""

from __future__ import annotations

import numba
import numpy as np
from pykdtree.kdtree import KDTree

from h3ds_hf.evaluation.parallel import KERNEL_LOCK

# Measured on 164k-655k point heads: 16 keeps both near and far-away queries fast.
_LEAFSIZE = 16
# Morton-code bits per axis of spatial_order: 1024 cells across the bounding cube (~0.25 mm on
# a head), 30 bits in all, so the keys sort as uint32.
_MORTON_BITS = 10


def as_points(points: np.ndarray) -> np.ndarray:
    """Return ``points`` as a C-contiguous (N, 3) float64 array, the layout the searches need."""
    return np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)


class NearestVertex:
    """Exact Euclidean nearest-neighbour index over a fixed (N, 3) point set.

    Args:
        points: (N, 3) float64 coordinates (mm), N >= 1. They are copied only if they are not
            already C-contiguous float64.
    """

    def __init__(self, points: np.ndarray) -> None:
        self.points = as_points(points)
        self._tree = KDTree(self.points, leafsize=_LEAFSIZE)

    def __len__(self) -> int:
        return len(self.points)

    def query(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Find the ``k`` nearest indexed points of every query point.

        Args:
            queries: (Q, 3) coordinates (mm); listed in a spatial order (:func:`spatial_order`)
                they are searched about twice as fast (the tree stays in cache).
            k: neighbours per query, 1 <= k <= len(self).

        Returns:
            distances: float64 Euclidean distances (mm), (Q,) for k = 1 else (Q, k) sorted
            ascending; indices: int64 into :attr:`points`, same shape.
        """
        distances, indices = self._tree.query(as_points(queries), k=k)
        return distances, indices.astype(np.int64, copy=False)


def spatial_order(points: np.ndarray) -> np.ndarray:
    """A (N,) permutation listing ``points`` (N, 3) along a Morton (Z-order) curve.

    Consecutive points in this order are close in space, and any run of them fills a compact
    region, which keeps search structures in cache and lets query blocks share their work. A
    similarity transform of the points keeps them close, so one order serves every ICP
    iteration and both alignments of a prediction.
    """
    points = as_points(points)
    if len(points) == 0:
        return np.empty(0, dtype=np.int64)
    low = points.min(axis=0)
    span = float((points.max(axis=0) - low).max())
    if not span > 0:  # a single location: any order is as good
        return np.arange(len(points))
    with KERNEL_LOCK:
        keys = _morton_keys(points, low, ((1 << _MORTON_BITS) - 1) / span)
    return np.argsort(keys).astype(np.int64, copy=False)


@numba.njit(cache=True, parallel=True)
def _morton_keys(points: np.ndarray, low: np.ndarray, scale: float) -> np.ndarray:
    """(N,) uint32 Morton codes of the grid cells ((p - low) * scale, 10 bits per axis)."""
    keys = np.empty(points.shape[0], np.uint32)
    top = (1 << _MORTON_BITS) - 1
    for i in numba.prange(points.shape[0]):
        key = 0
        for axis in range(3):
            cell = min(int((points[i, axis] - low[axis]) * scale), top)
            for bit in range(_MORTON_BITS):
                key |= ((cell >> bit) & 1) << (3 * bit + axis)
        keys[i] = key
    return keys


def compact_blocks(ordered: np.ndarray, size: int) -> np.ndarray:
    """Cut points listed in spatial order into blocks of at most ``size`` neighbours.

    A Morton curve sometimes jumps far between consecutive points; a block straddling a jump
    would span the whole mesh and make every search of that block slow. Blocks therefore also
    end where the step to the next point exceeds 8 times the median step.

    Args:
        ordered: (N, 3) points in spatial order (:func:`spatial_order`); size: >= 1.

    Returns:
        (B + 1,) int64 block boundaries: block b is ``ordered[bounds[b]:bounds[b + 1]]``.
    """
    return _compact_blocks(as_points(ordered), size)


@numba.njit(cache=True, nogil=True)
def _compact_blocks(ordered: np.ndarray, size: int) -> np.ndarray:
    n = ordered.shape[0]
    steps = np.empty(max(n - 1, 0))
    for i in range(n - 1):
        dx = ordered[i + 1, 0] - ordered[i, 0]
        dy = ordered[i + 1, 1] - ordered[i, 1]
        dz = ordered[i + 1, 2] - ordered[i, 2]
        steps[i] = np.sqrt(dx * dx + dy * dy + dz * dz)
    # The median of every 16th step is as good a scale as the median, at a 16th of the cost.
    limit = 8.0 * np.median(steps[::16]) if n > 1 else 0.0
    bounds = np.empty(n + 1, np.int64)
    count = 0
    length = 0
    for i in range(n):
        if length == size or (i > 0 and steps[i - 1] > limit):
            length = 0
        if length == 0:
            bounds[count] = i
            count += 1
        length += 1
    bounds[count] = n
    return bounds[: count + 1].copy()
