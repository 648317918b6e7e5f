"""Rigid and similarity alignment: landmark Procrustes and ICP.

The ICP loop is trimesh.registration.icp's, step for step (same Procrustes closed form, same
stopping rule, same matrix accumulation), with the matching step supplied by the caller: the
nearest target vertex (:class:`~h3ds_hf.evaluation.matching.AnchoredMatcher`: exact, searching
again only the points whose match may have changed), or the closest surface point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from h3ds_hf.errors import EvaluationError
from h3ds_hf.evaluation.neighbors import as_points
from h3ds_hf.evaluation.parallel import kernel_threads

#: trimesh.registration.icp's defaults, which the reference uses.
ICP_MAX_ITERATIONS = 20
ICP_THRESHOLD = 1e-5

# A fitted scale outside this range means the alignment collapsed or exploded.
_SCALE_RANGE = (1e-6, 1e6)
# Procrustes sums are split into this many chunks (a fixed summation order).
_CHUNKS = 64
# Landmarks whose second singular value is below this fraction of the first are collinear.
_COLLINEAR_RATIO = 1e-6


@dataclass(frozen=True)
class IcpFit:
    """Outcome of :func:`icp`.

    Attributes:
        matrix: (4, 4) float64 transform sending the source points onto the target.
        iterations: number of Procrustes steps taken (1..max_iterations).
        cost: trimesh's cost of the last step: mean squared distance (mm²) between the moved
            source points and their nearest target points.
    """

    matrix: np.ndarray
    iterations: int
    cost: float

    @property
    def scale(self) -> float:
        """Isotropic scale of :attr:`matrix` (cube root of the absolute determinant)."""
        return float(abs(np.linalg.det(self.matrix[:3, :3])) ** (1.0 / 3.0))

    @property
    def reflection(self) -> bool:
        """True when :attr:`matrix` mirrors space (negative determinant)."""
        return bool(np.linalg.det(self.matrix[:3, :3]) < 0)

    @property
    def rms_mm(self) -> float:
        """Root of :attr:`cost`: RMS distance (mm) of the last step's matches."""
        return float(np.sqrt(self.cost))


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) homogeneous transform to (N, 3) points, returning (N, 3) float64.

    Same arithmetic as the reference's ``AffineTransform.transform`` (one 4x4 product with
    homogeneous coordinates), so transformed predictions match it bit for bit.
    """
    points = np.asarray(points, dtype=np.float64)
    homogeneous = np.concatenate((points.T, np.ones((1, len(points)))), axis=0)
    return as_points(np.dot(matrix, homogeneous)[:3, :].T)


def transformed(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 3) float64 ``points`` moved by the (4, 4) affine ``matrix``, in parallel.

    The same values as :func:`apply_transform` up to the last bit (it sums in another order);
    used on the large predicted meshes, where the evaluation only needs distances.
    """
    points = as_points(points)
    with kernel_threads(len(points)):
        return _transform_points(np.ascontiguousarray(matrix, dtype=np.float64), points)


def procrustes(
    a: np.ndarray, b: np.ndarray, *, reflection: bool, scale: bool
) -> tuple[np.ndarray, np.ndarray, float]:
    """trimesh.registration.procrustes(a, b, reflection=..., scale=..., translation=True),
    unweighted: the same closed form (centroids, RMS scales, SVD of the scaled cross-covariance)
    computed in two compiled passes instead of a dozen numpy ones. The moments are summed over
    fixed chunks added in a fixed order; they equal trimesh's up to float64 rounding (~1e-16
    relative).

    Args:
        a: (N, 3) points to move; b: (N, 3) corresponding target points (mm).
        reflection: allow a mirroring orthogonal part; scale: allow an isotropic scale.

    Returns:
        matrix: (4, 4) transform sending a onto b; transformed: (N, 3) the moved a;
        cost: mean squared distance (mm²) between transformed and b.
    """
    a, b = as_points(a), as_points(b)
    a_center, b_center, cross, a_var, b_var = _centred_moments(a, b)
    a_scale, b_scale = (np.sqrt(a_var), np.sqrt(b_var)) if scale else (1.0, 1.0)
    u, _, vh = np.linalg.svd(cross / (b_scale * a_scale))
    if reflection:
        rotation = np.dot(u, vh)
    else:
        rotation = np.dot(np.dot(u, np.diag([1, 1, np.linalg.det(np.dot(u, vh))])), vh)
    matrix = np.eye(4)
    matrix[:3, :3] = b_scale / a_scale * rotation
    matrix[:3, 3] = b_center - (b_scale / a_scale) * np.dot(rotation, a_center)
    transformed, cost = _transform_and_cost(matrix, a, b)
    return matrix, transformed, float(cost)


@numba.njit(cache=True, nogil=True)
def _centred_moments(a: np.ndarray, b: np.ndarray):
    """Centroids (3,) of a and b, cross-covariance sum (3, 3) of (b - b̄)ᵀ(a - ā), and the mean
    squared distances of a and b to their centroids.

    On one thread: ~1.5 ms for 75k points, less than a parallel launch costs when another
    process keeps a core busy, and a parallel version took ~5 s more to compile."""
    n = a.shape[0]
    sums = np.zeros((_CHUNKS, 6))
    for chunk in range(_CHUNKS):
        _chunk_sums(a, b, chunk * n // _CHUNKS, (chunk + 1) * n // _CHUNKS, sums[chunk])
    total = _ordered_sum(sums)
    a_center = total[:3] / n
    b_center = total[3:] / n
    # Per chunk: cross-covariance (9, row-major), then the two squared spreads.
    moments = np.zeros((_CHUNKS, 11))
    for chunk in range(_CHUNKS):
        first, last = chunk * n // _CHUNKS, (chunk + 1) * n // _CHUNKS
        _chunk_moments(a, b, a_center, b_center, first, last, moments[chunk])
    total = _ordered_sum(moments)
    return a_center, b_center, total[:9].reshape(3, 3), total[9] / n, total[10] / n


@numba.njit(cache=True, nogil=True)
def _chunk_sums(a, b, start, end, out):
    """Add the coordinate sums of a[start:end] and b[start:end] to out (6,)."""
    for i in range(start, end):
        for k in range(3):
            out[k] += a[i, k]
            out[3 + k] += b[i, k]


@numba.njit(cache=True, nogil=True)
def _chunk_moments(a, b, a_center, b_center, start, end, out):
    """Add the centred cross products (9) and squared spreads (2) of rows start:end to out."""
    da = np.empty(3)
    db = np.empty(3)
    for i in range(start, end):
        for k in range(3):
            da[k] = a[i, k] - a_center[k]
            db[k] = b[i, k] - b_center[k]
            out[9] += da[k] * da[k]
            out[10] += db[k] * db[k]
        for r in range(3):
            for c in range(3):
                out[3 * r + c] += db[r] * da[c]


@numba.njit(cache=True, inline="always")
def _ordered_sum(parts: np.ndarray) -> np.ndarray:
    """Column sums of (chunks, M) partial sums, chunk after chunk (a fixed order)."""
    total = np.zeros(parts.shape[1])
    for chunk in range(parts.shape[0]):
        for column in range(parts.shape[1]):
            total[column] += parts[chunk, column]
    return total


@numba.njit(cache=True, parallel=True)
def _transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    moved = np.empty_like(points)
    for i in numba.prange(points.shape[0]):
        for r in range(3):
            moved[i, r] = (
                matrix[r, 0] * points[i, 0]
                + matrix[r, 1] * points[i, 1]
                + matrix[r, 2] * points[i, 2]
                + matrix[r, 3]
            )
    return moved


@numba.njit(cache=True, nogil=True)
def _transform_and_cost(matrix: np.ndarray, a: np.ndarray, b: np.ndarray):
    """a (N, 3) moved by the (4, 4) matrix, and the mean squared distance to b (N, 3)."""
    n = a.shape[0]
    moved = np.empty((n, 3))
    cost = 0.0
    for i in range(n):
        for r in range(3):
            value = matrix[r, 3]
            for c in range(3):
                value += matrix[r, c] * a[i, c]
            moved[i, r] = value
            cost += (b[i, r] - value) ** 2
    return moved, cost / n


def landmark_alignment(source: np.ndarray, target: np.ndarray, *, scale: bool) -> np.ndarray:
    """Procrustes from corresponding ``source`` to ``target`` landmarks, never reflecting.

    Args:
        source: (L, 3) predicted landmark positions (mm).
        target: (L, 3) ground-truth landmark positions (mm), same order.
        scale: allow an isotropic scale (similarity) or not (rigid).

    Returns:
        (4, 4) float64 matrix sending ``source`` onto ``target``.

    Raises:
        EvaluationError: the landmarks of either side are coincident or collinear, which
            leaves the rotation undetermined.
    """
    for name, points in (("predicted", source), ("ground-truth", target)):
        singular = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
        if not singular[0] > 0 or singular[1] <= _COLLINEAR_RATIO * singular[0]:
            raise EvaluationError(
                f"degenerate landmark alignment: the {name} landmarks are coincident or collinear"
            )
    matrix, _, _ = procrustes(source, target, reflection=False, scale=scale)
    _check_matrix(matrix, "landmark alignment")
    return matrix


def icp(
    source: np.ndarray,
    match: Callable[[np.ndarray], np.ndarray],
    *,
    reflection: bool = True,
    scale: bool = True,
    initial: np.ndarray | None = None,
    max_iterations: int = ICP_MAX_ITERATIONS,
    threshold: float = ICP_THRESHOLD,
) -> IcpFit:
    """Iterative closest point moving ``source`` onto the target that ``match`` searches.

    With the defaults and an :class:`~h3ds_hf.evaluation.matching.AnchoredMatcher` this is
    trimesh.registration.icp(source, target) up to float rounding: each step matches every moved
    source point (``match``: (N, 3) -> (N, 3) target points), solves a Procrustes (reflection
    and scale as given, translation always), and stops after ``max_iterations`` steps or when
    the cost decreased by less than ``threshold``.

    Args:
        source: (N, 3) points to move (mm).
        match: the matching step.
        initial: (4, 4) transform applied to ``source`` first (identity when None).

    Raises:
        EvaluationError: the cost or the transform became non-finite, or the scale collapsed.
    """
    total = np.eye(4) if initial is None else np.asarray(initial, dtype=np.float64)
    moved = as_points(source).copy() if initial is None else apply_transform(total, source)
    old_cost = np.inf
    cost = np.inf
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        try:
            # A degenerate match (all points onto one target point) divides by zero; it is
            # reported below instead of warning.
            with np.errstate(invalid="ignore", divide="ignore"):
                matrix, transformed, cost = procrustes(
                    moved, match(moved), reflection=reflection, scale=scale
                )
        except np.linalg.LinAlgError as err:
            raise EvaluationError(f"ICP diverged at iteration {iterations}: {err}") from err
        if not np.isfinite(cost) or not np.isfinite(matrix).all():
            raise EvaluationError(f"ICP diverged: non-finite cost at iteration {iterations}")
        moved = as_points(transformed)
        total = np.dot(matrix, total)
        if old_cost - cost < threshold:
            break
        old_cost = cost
    _check_matrix(total, "ICP")
    return IcpFit(matrix=total, iterations=iterations, cost=float(cost))


def _check_matrix(matrix: np.ndarray, what: str) -> None:
    """Refuse transforms that are non-finite or whose scale collapsed or exploded."""
    if not np.isfinite(matrix).all():
        raise EvaluationError(f"{what} diverged: the transform is not finite")
    fitted = abs(np.linalg.det(matrix[:3, :3])) ** (1.0 / 3.0)
    if not _SCALE_RANGE[0] < fitted < _SCALE_RANGE[1]:
        raise EvaluationError(f"{what} degenerate: fitted scale {fitted:.3g}")
