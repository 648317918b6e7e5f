"""The spatial order that keeps searches local, and its cut into blocks of neighbours.

:func:`spatial_order` lists points along a Morton curve and :func:`compact_blocks` cuts that
list into small groups of neighbours, which :mod:`~h3ds_hf.evaluation.blocktree` searches
together.
"""

from __future__ import annotations

import numba
import numpy as np

from h3ds_hf.evaluation.parallel import kernel_threads

# Morton keys are sorted packed with their point's index into one uint64: the index takes the
# low bits, the code the rest, up to 21 bits per axis (655k points: 14 bits, 16384 cells across
# the bounding cube, 0.03 mm on a head). numpy sorts uint64 values ~3x faster than it argsorts.
_MAX_AXIS_BITS = 21


def as_points(points: np.ndarray) -> np.ndarray:
    """Return ``points`` as a C-contiguous (N, 3) float64 array, the layout the searches need."""
    return np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)


def morton_order(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``points`` (N, 3) listed along a Morton (Z-order) curve over their bounding cube.

    Returns:
        order: (N,) int64 permutation of the points; keys: (N,) uint64 their Morton codes,
        ascending. Points sharing a key prefix lie in one cell of a grid (as many bits per axis
        as the prefix holds), which :func:`~h3ds_hf.evaluation.blocktree.build_tree` turns into
        a tree; points sharing a whole key lie in one finest cell (1/16384 of the bounding cube
        for 655k points, fewer cells for more points).
    """
    points = as_points(points)
    count = len(points)
    index_bits = max(1, (count - 1).bit_length())
    axis_bits = min(_MAX_AXIS_BITS, (64 - index_bits) // 3)
    low, high = _bounding_box(points)
    span = float((high - low).max()) if count else 0.0
    # A single location: every key is 0.
    scale = ((1 << axis_bits) - 1) / span if span > 0 else 0.0
    with kernel_threads(count):
        packed = _packed_keys(points, low, scale, axis_bits, index_bits)
    packed.sort()
    return _unpacked(packed, index_bits)


def spatial_order(points: np.ndarray) -> np.ndarray:
    """A (N,) int64 permutation listing ``points`` (N, 3) along a Morton (Z-order) curve.

    Consecutive points in this order are close in space, and any run of them fills a compact
    region, which keeps search structures in cache and lets query blocks share their work. A
    similarity transform of the points keeps them close, so one order serves every ICP
    iteration and both alignments of a prediction.
    """
    return morton_order(points)[0]


@numba.njit(cache=True, nogil=True)
def _bounding_box(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest coordinates (3,) of (N, 3) points; numpy's min(axis=0) on this layout
    is ~20x slower. One thread: ~1 ms for 655k points, memory-bound."""
    low = np.full(3, np.inf)
    high = np.full(3, -np.inf)
    for i in range(points.shape[0]):
        for a in range(3):
            low[a] = min(low[a], points[i, a])
            high[a] = max(high[a], points[i, a])
    return low, high


@numba.njit(cache=True, parallel=True)
def _packed_keys(points, low, scale, axis_bits, index_bits):
    """(N,) uint64: the Morton code of each point's grid cell (p - low) * scale (``axis_bits``
    per axis), shifted above the point's index (``index_bits``)."""
    keys = np.empty(points.shape[0], np.uint64)
    top = (1 << axis_bits) - 1
    for i in numba.prange(points.shape[0]):
        code = np.uint64(0)
        for axis in range(3):
            cell = min(max(int((points[i, axis] - low[axis]) * scale), 0), top)
            code |= _spread_bits(np.uint64(cell)) << np.uint64(axis)
        keys[i] = (code << np.uint64(index_bits)) | np.uint64(i)
    return keys


@numba.njit(cache=True, nogil=True)
def _unpacked(packed, index_bits):
    """Sorted packed keys -> (indices (N,) int64, codes (N,) uint64)."""
    mask = (np.uint64(1) << np.uint64(index_bits)) - np.uint64(1)
    order = np.empty(packed.shape[0], np.int64)
    codes = np.empty(packed.shape[0], np.uint64)
    for i in range(packed.shape[0]):
        order[i] = packed[i] & mask
        codes[i] = packed[i] >> np.uint64(index_bits)
    return order, codes


@numba.njit(cache=True, inline="always")
def _spread_bits(value):
    """The 21 low bits of ``value`` (uint64) moved to every third bit: b0, b3, b6, ..."""
    value = (value | (value << np.uint64(32))) & np.uint64(0x1F00000000FFFF)
    value = (value | (value << np.uint64(16))) & np.uint64(0x1F0000FF0000FF)
    value = (value | (value << np.uint64(8))) & np.uint64(0x100F00F00F00F00F)
    value = (value | (value << np.uint64(4))) & np.uint64(0x10C30C30C30C30C3)
    value = (value | (value << np.uint64(2))) & np.uint64(0x1249249249249249)
    return value


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
    ordered = as_points(ordered)
    steps = _steps(ordered)
    # The median of every 16th step is as good a scale as the median, at a 16th of the cost
    # (numpy's: numba's np.median costs seconds of compilation).
    limit = 8.0 * float(np.median(steps[::16])) if len(steps) else 0.0
    return _cut_blocks(steps, len(ordered), size, limit)


@numba.njit(cache=True, nogil=True)
def _steps(ordered: np.ndarray) -> np.ndarray:
    """(N - 1,) distances between consecutive rows of (N, 3) points."""
    n = ordered.shape[0]
    steps = np.empty(max(n - 1, 0))
    for i in range(n - 1):
        dx = ordered[i + 1, 0] - ordered[i, 0]
        dy = ordered[i + 1, 1] - ordered[i, 1]
        dz = ordered[i + 1, 2] - ordered[i, 2]
        steps[i] = np.sqrt(dx * dx + dy * dy + dz * dz)
    return steps


@numba.njit(cache=True, nogil=True)
def _cut_blocks(steps: np.ndarray, n: int, size: int, limit: float) -> np.ndarray:
    """Block boundaries (B + 1,) over n points whose (n - 1,) consecutive ``steps`` are given:
    a block ends after ``size`` points or before a step longer than ``limit``."""
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
