"""A view's camera as reconstruction pipelines want it: intrinsics and camera-to-world pose.

H3DS stores P = K [R | t] (``world_mat``, IDR convention: OpenCV camera axes, x right, y down,
z forward; pixel centres at integer coordinates). :func:`view_camera` decomposes it with
:func:`h3ds_hf.release.cameras.decompose_projection`, in millimetres or, normalised, in the unit
sphere coordinates of ``scale_mat`` (exactly as the drop-in's ``normalized=True`` computes them).
Formats then convert: COLMAP and nerfstudio put pixel centres at +0.5, nerfstudio uses OpenGL
camera axes (x right, y up, z backward).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image

from h3ds_hf.errors import MalformedFileError
from h3ds_hf.release.cameras import decompose_projection, normalized_projection
from h3ds_hf.release.reader import SceneView

logger = logging.getLogger(__name__)

#: Skew (K[0, 1] relative to the focal length) above which dropping it is worth a warning:
#: PINHOLE cameras (COLMAP, nerfstudio) have none.
SKEW_WARNING = 1e-4

#: Flips OpenCV camera axes (y down, z forward) to OpenGL ones (y up, z backward), and back.
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class ViewCamera:
    """One view's pinhole camera, OpenCV conventions.

    Attributes:
        view: the view's index in the scene.
        K: (3, 3) float64 intrinsics, pixels; pixel centres at integer coordinates.
        cam_to_world: (4, 4) float64 camera-to-world transform, OpenCV camera axes; world in
            mm, or in unit-sphere coordinates for a normalised export.
        width, height: image size, pixels.
    """

    view: int
    K: np.ndarray
    cam_to_world: np.ndarray
    width: int
    height: int

    @property
    def world_to_cam(self) -> np.ndarray:
        """(4, 4) float64 world-to-camera transform [R | t], OpenCV axes."""
        return np.linalg.inv(self.cam_to_world)


def image_size(data: bytes, name: str) -> tuple[int, int]:
    """(width, height) of an image read from its header only (nothing decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError) as error:
        raise MalformedFileError(f"{name}: not a readable image ({error})") from None


def view_camera(
    view: SceneView, size: tuple[int, int], normalization: np.ndarray | None = None
) -> ViewCamera:
    """The camera of ``view`` for an image of ``size`` (width, height).

    Args:
        normalization: (4, 4) scene -> unit sphere similarity
            (:func:`~h3ds_hf.release.cameras.normalization_matrix` of ``scale_mat_0``), or
            None for millimetres.
    """
    P = view.world_mat
    if normalization is not None:
        P = normalized_projection(P, normalization).astype(np.float64)
    K, pose = decompose_projection(P, pose_dtype=np.float64)
    if abs(K[0, 1]) > SKEW_WARNING * K[0, 0]:
        logger.warning(
            "view %d: skew %.3g px dropped (pinhole cameras have none)", view.index, K[0, 1]
        )
    return ViewCamera(view.index, K, pose, int(size[0]), int(size[1]))
