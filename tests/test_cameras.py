"""Camera decomposition equals the reference's OpenCV-based one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from h3ds_hf.errors import MalformedFileError
from h3ds_hf.release.cameras import (
    apply_transform,
    decompose_projection,
    normalization_matrix,
    normalized_projection,
)

cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference's decomposition (test extra)")


def reference_decomposition(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h3ds 0.4.0's load_K_Rt, restated with its OpenCV call."""
    K, R, t = cv2.decomposeProjectionMatrix(P)[:3]
    pose = np.eye(4, dtype=np.float32)
    pose[:3, :3] = R.transpose()
    pose[:3, 3] = (t[:3] / t[3])[:, 0]
    return K / K[2, 2], pose


def camera_strategy(scale: st.SearchStrategy[float]) -> st.SearchStrategy[tuple]:
    """(K, R, centre, scale) of a pinhole camera; P = scale * K [R | -R centre]."""
    return st.builds(
        lambda f, aspect, skew, cx, cy, seed, centre, scale: (
            np.array([[f, skew, cx], [0, f * aspect, cy], [0, 0, 1.0]]),
            Rotation.random(random_state=seed).as_matrix(),
            np.asarray(centre),
            scale,
        ),
        f=st.floats(200, 5000),
        aspect=st.floats(0.8, 1.25),
        skew=st.floats(-2, 2),
        cx=st.floats(0, 2000),
        cy=st.floats(0, 2000),
        seed=st.integers(0, 2**31),
        centre=st.lists(st.floats(-1500, 1500), min_size=3, max_size=3),
        scale=scale,
    )


positive_scale = st.floats(1e-3, 1e3)
#: Any valid camera, including P scaled by a negative factor (OpenCV then returns negative
#: focal lengths, and so does the reference).
any_scale = positive_scale | st.floats(-1e3, -1e-3)


@settings(max_examples=200, deadline=None)
@given(camera_strategy(any_scale))
def test_decomposition_matches_opencv(camera):
    K, R, centre, scale = camera
    P = scale * K @ np.hstack([R, (-R @ centre)[:, None]])
    P32 = np.vstack([P, [0, 0, 0, 1]]).astype(np.float32)
    K_ref, pose_ref = reference_decomposition(P32[:3, :4])
    K_ours, pose_ours = decompose_projection(P32)
    assert K_ours.dtype == np.float64 and pose_ours.dtype == np.float32
    np.testing.assert_allclose(K_ours, K_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(pose_ours[:3, :3], pose_ref[:3, :3], rtol=0, atol=1e-6)
    # OpenCV finds the centre with a float32 SVD, so its value carries float32 rounding:
    # compare relative to the centre's distance from the origin.
    tolerance = 1e-6 * max(1.0, float(np.linalg.norm(pose_ref[:3, 3])))
    np.testing.assert_allclose(pose_ours[:3, 3], pose_ref[:3, 3], rtol=0, atol=tolerance)
    np.testing.assert_array_equal(pose_ours[3], [0, 0, 0, 1])


@settings(max_examples=50, deadline=None)
@given(camera_strategy(positive_scale))
def test_decomposition_round_trip(camera):
    K, R, centre, scale = camera
    P = scale * K @ np.hstack([R, (-R @ centre)[:, None]])
    K_ours, pose = decompose_projection(P)
    rotation = pose[:3, :3].astype(np.float64).T
    np.testing.assert_allclose(K_ours, K, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(rotation, R, atol=1e-6)
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "P",
    [np.zeros((3, 4)), np.full((3, 4), np.nan), np.hstack([np.ones((3, 3)), np.ones((3, 1))])],
)
def test_degenerate_projection(P):
    with pytest.raises(MalformedFileError):
        decompose_projection(P)


def test_normalization_matches_reference_formulas():
    scale_mat = np.diag([120.0, 120.0, 120.0, 1.0])
    scale_mat[:3, 3] = [1.5, -20.25, 33.0]
    normalization = normalization_matrix(scale_mat)
    assert normalization.dtype == np.float32
    np.testing.assert_array_equal(normalization, np.linalg.inv(scale_mat.astype(np.float32)))
    points = np.array([[1.5, -20.25, 33.0], [121.5, -20.25, 33.0]])
    np.testing.assert_allclose(
        apply_transform(normalization, points), [[0, 0, 0], [1, 0, 0]], atol=1e-6
    )
    world = np.eye(4)
    projected = normalized_projection(world, normalization)
    assert projected.dtype == np.float32
    np.testing.assert_allclose(projected, scale_mat, rtol=1e-6)
