"""A COLMAP sparse model (text format) of a scene's views: ``cameras.txt``, ``images.txt``,
``points3D.txt``, as COLMAP documents them (colmap.github.io/format.html).

One PINHOLE camera per image (H3DS calibrates every view on its own), ``fx fy cx cy`` with
COLMAP's pixel convention: the centre of the top-left pixel is at (0.5, 0.5), so the principal
point is H3DS's plus half a pixel. Poses are world-to-camera, quaternion (w, x, y, z) and
translation, in COLMAP's camera axes (x right, y down, z forward: OpenCV's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from h3ds_hf.export.cameras import ViewCamera

#: Where a model goes in an export folder, as COLMAP's mapper writes it.
MODEL_FOLDER = "sparse/0"


@dataclass(frozen=True)
class Points:
    """3D points with their observations, for ``points3D.txt`` and the images' 2D points.

    Attributes:
        xyz: (P, 3) float64 world coordinates.
        rgb: (P, 3) uint8 colours.
        tracks: per image (in the order of the cameras), (K, 3) float64 rows
            (point index, x, y): the points seen in that image and where (COLMAP pixels).
    """

    xyz: np.ndarray
    rgb: np.ndarray
    tracks: Sequence[np.ndarray]


def _number(value: float) -> str:
    return repr(float(value))


def colmap_files(
    cameras: Sequence[ViewCamera], names: Sequence[str], points: Points | None = None
) -> dict[str, str]:
    """File name -> text of the model of ``cameras`` (image ``i`` named ``names[i]``, relative
    to the images folder); image and camera ids are 1..n in that order."""
    camera_lines = [
        "# Camera list with one line of data per camera:",
        "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
        f"# Number of cameras: {len(cameras)}",
    ]
    image_lines = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
        f"# Number of images: {len(cameras)}",
    ]
    observed: list[list[tuple[int, int]]] = [[] for _ in range(len(points.xyz))] if points else []
    for number, (camera, name) in enumerate(zip(cameras, names, strict=True), start=1):
        K = camera.K
        params = (K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5)
        camera_lines.append(
            f"{number} PINHOLE {camera.width} {camera.height} "
            + " ".join(_number(p) for p in params)
        )
        world_to_cam = camera.world_to_cam
        x, y, z, w = Rotation.from_matrix(world_to_cam[:3, :3]).as_quat()
        pose = (w, x, y, z) if w >= 0 else (-w, -x, -y, -z)
        image_lines.append(
            f"{number} "
            + " ".join(_number(v) for v in (*pose, *world_to_cam[:3, 3]))
            + f" {number} {name}"
        )
        track = points.tracks[number - 1] if points else np.empty((0, 3))
        for index, (point, _, _) in enumerate(track):
            observed[int(point)].append((number, index))
        image_lines.append(
            " ".join(f"{_number(px)} {_number(py)} {int(point) + 1}" for point, px, py in track)
        )
    point_lines = [
        "# 3D point list with one line of data per point:",
        "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
        f"# Number of points: {len(observed)}",
    ]
    if points is not None:
        for index, (xyz, rgb, seen) in enumerate(
            zip(points.xyz, points.rgb, observed, strict=True)
        ):
            point_lines.append(
                f"{index + 1} "
                + " ".join(_number(v) for v in xyz)
                + " {} {} {} 0".format(*(int(c) for c in rgb))
                + "".join(f" {image} {point2d}" for image, point2d in seen)
            )
    return {
        "cameras.txt": "\n".join(camera_lines) + "\n",
        "images.txt": "\n".join(image_lines) + "\n",
        "points3D.txt": "\n".join(point_lines) + "\n",
    }


def write_colmap(
    folder: Path, cameras: Sequence[ViewCamera], names: Sequence[str], points: Points | None
) -> Path:
    """Write the model into ``folder / MODEL_FOLDER`` (the export's staging folder, so plain
    writes: the whole export is renamed into place at the end); returns the model folder."""
    model = folder / MODEL_FOLDER
    model.mkdir(parents=True)
    for name, text in colmap_files(cameras, names, points).items():
        (model / name).write_text(text, encoding="utf-8")
    return model
