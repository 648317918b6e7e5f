"""The spatial order that keeps searches local, and its cut into blocks of neighbours.

:func:`spatial_order` lists points along a Morton curve and :func:`compact_blocks` cuts that
list into small groups of neighbours, which :mod:`~h3ds_hf.evaluation.blocktree` searches
together.
"""

from __future__ import annotations

import numba
import numpy as np

from h3ds_hf.evaluation.parallel import KERNEL_LOCK

# Morton-code bits per axis of spatial_order: 1024 cells across the bounding cube (~0.25 mm on
# a head), 30 bits in all, so the keys sort as uint32.
_MORTON_BITS = 10


def as_points(points: np.ndarray) -> np.ndarray:
    """Return ``points`` as a C-contiguous (N, 3) float64 array, the layout the searches need."""
    return np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)


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
