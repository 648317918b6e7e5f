"""nerfstudio's ``transforms.json`` (docs.nerf.studio, "Data conventions" and custom data).

Each frame's ``transform_matrix`` is camera-to-world in nerfstudio's OpenGL camera axes (x
right, y up, z backward: the camera looks along -z), the OpenCV pose with its y and z axes
flipped. Intrinsics use nerfstudio's pixel convention, the centre of the top-left pixel at
(0.5, 0.5) (as its COLMAP converter copies them); they go at the top level when all views
share them, else into each frame. ``mask_path`` gives the H3DS mask (255 = head).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from h3ds_hf.export.cameras import OPENCV_TO_OPENGL, ViewCamera


def _intrinsics(camera: ViewCamera) -> dict[str, float | int]:
    K = camera.K
    return {
        "fl_x": float(K[0, 0]),
        "fl_y": float(K[1, 1]),
        "cx": float(K[0, 2]) + 0.5,
        "cy": float(K[1, 2]) + 0.5,
        "w": camera.width,
        "h": camera.height,
    }


def transforms(
    cameras: Sequence[ViewCamera],
    images: Sequence[str],
    masks: Sequence[str],
) -> dict[str, Any]:
    """The content of ``transforms.json`` for ``cameras`` (paths relative to the file)."""
    intrinsics = [_intrinsics(camera) for camera in cameras]
    shared = all(item == intrinsics[0] for item in intrinsics)
    frames = []
    for camera, own, image, mask in zip(cameras, intrinsics, images, masks, strict=True):
        frame: dict[str, Any] = {"file_path": image, "mask_path": mask}
        if not shared:
            frame.update(own)
        frame["transform_matrix"] = (camera.cam_to_world @ OPENCV_TO_OPENGL).tolist()
        frames.append(frame)
    content: dict[str, Any] = {"camera_model": "OPENCV"}
    if shared and intrinsics:
        content.update(intrinsics[0])
    content["frames"] = frames
    return content
