"""The IDR / NeuS layout's cameras: ``cameras.npz`` and ``cameras_sphere.npz``.

Both hold, for the exported views renumbered 0..n-1 in the order written, ``world_mat_i``
(P = K [R | t], mm -> pixels, pixel centres at integers) and ``scale_mat_i`` (unit sphere ->
mm), exactly as the release stores them. IDR and NeuS read them as ``P = world_mat @ scale_mat``
and decompose P with OpenCV, which puts the scene in the unit sphere.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from h3ds_hf.release.reader import SceneView

#: The files an IDR (``cameras.npz``) or NeuS (``cameras_sphere.npz``) loader opens.
CAMERA_FILES = ("cameras.npz", "cameras_sphere.npz")


def cameras_npz(views: Sequence[SceneView]) -> bytes:
    """The .npz bytes of the views' matrices, renumbered 0..n-1 (float64, as released)."""
    arrays: dict[str, np.ndarray] = {}
    for number, view in enumerate(views):
        arrays[f"world_mat_{number}"] = np.asarray(view.world_mat, dtype=np.float64)
        arrays[f"scale_mat_{number}"] = np.asarray(view.scale_mat, dtype=np.float64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
