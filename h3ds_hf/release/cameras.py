"""Camera matrices of the IDR convention, decomposed without OpenCV.

``cameras.npz`` holds, per view ``i``, ``world_mat_i`` (4x4 whose top 3x4 block is the
projection P = K [R | t] from world millimetres to pixels) and ``scale_mat_i`` (a similarity
mapping the unit sphere onto the head). The reference decomposed P with
``cv2.decomposeProjectionMatrix``; :func:`decompose_projection` reproduces its result (same
sign conventions and dtypes) with an RQ decomposition from scipy.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from h3ds_hf.errors import MalformedFileError, get_logger

logger = get_logger(__name__)

#: Condition number of a projection's 3x3 block above which its decomposition is imprecise
#: (real cameras: about the focal length in pixels, 1e3-1e4).
MAX_PROJECTION_CONDITION = 1e8


def decompose_projection(
    P: np.ndarray, *, pose_dtype: type[np.floating] = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Split a projection matrix into intrinsics and camera-to-world pose.

    Args:
        P: (3, 4) or (4, 4) projection matrix, world -> homogeneous pixels.
        pose_dtype: dtype of the pose; float32 as the reference returns it, float64 for
            exports that keep the full precision.

    Returns:
        K: (3, 3) float64 intrinsics with K[2, 2] = 1 and positive focal lengths.
        pose: (4, 4) camera-to-world transform (OpenCV camera axes: x right, y down, z
            forward): rotation R^T and the camera centre (world units).

    Raises:
        MalformedFileError: P is not finite or its 3x3 block is singular.
    """
    P = np.asarray(P, dtype=np.float64)[:3, :4]
    M = P[:, :3]
    if not np.isfinite(P).all() or abs(np.linalg.det(M)) <= 1e-12 * np.abs(M).max() ** 3:
        raise MalformedFileError("projection matrix is not finite or its 3x3 block is singular")
    condition = np.linalg.cond(M)
    if condition > MAX_PROJECTION_CONDITION:
        logger.warning(
            "projection matrix nearly singular (condition number %.3g): its intrinsics and pose "
            "are imprecise",
            condition,
        )
    upper, rotation = scipy.linalg.rq(M)
    # OpenCV's convention: K[0,0] > 0, K[1,1] > 0 and R a proper rotation (det +1); the sign
    # of det(M) then lands on K[2,2], which the normalisation by K[2,2] removes.
    signs = np.where(np.diag(upper) < 0, -1.0, 1.0)
    upper, rotation = upper * signs, signs[:, None] * rotation
    if np.linalg.det(rotation) < 0:
        upper[:, 2], rotation[2] = -upper[:, 2], -rotation[2]
    centre = -np.linalg.solve(M, P[:, 3])
    pose = np.eye(4, dtype=pose_dtype)
    pose[:3, :3] = rotation.T
    pose[:3, 3] = centre
    return upper / upper[2, 2], pose


def normalization_matrix(scale_mat: np.ndarray) -> np.ndarray:
    """The (4, 4) float32 similarity mapping the scene (mm) into the unit sphere.

    It is the inverse of ``scale_mat_0``, computed in float32 exactly as the reference's
    ``load_normalization_matrix`` does.
    """
    return np.linalg.inv(np.asarray(scale_mat, dtype=np.float32))


def normalized_projection(world_mat: np.ndarray, normalization: np.ndarray) -> np.ndarray:
    """(4, 4) float32 projection from unit-sphere coordinates, as the reference builds it."""
    return np.asarray(world_mat, dtype=np.float32) @ np.linalg.inv(normalization)


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) affine transform to (N, 3) points; returns (N, 3) float64.

    The product is formed as the reference's AffineTransform does, so that normalised
    vertices match it bit for bit.
    """
    homogeneous = np.concatenate((points.T, np.ones((1, len(points)))), axis=0)
    return np.dot(matrix, homogeneous)[:3, :].T
