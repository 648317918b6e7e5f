"""The ground truth of one H3DS scene, as plain arrays shared by every part of the package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

#: The six annotated landmarks, in the order the release lists them.
LANDMARK_NAMES: tuple[str, ...] = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "nose_base",
    "right_lips",
    "left_lips",
)

#: Vertex regions shipped with every scene. 'face': hand-annotated face with ears and neck;
#: 'face_sphere': vertices within 95 mm of the nose tip; 'nose': the nose only.
REGION_NAMES: tuple[str, ...] = ("face", "face_sphere", "nose")


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth head scan of one scene, in millimetres.

    Attributes:
        scene_id: the scene identifier (16 hex digits in the official releases).
        vertices: (N, 3) float64, mm, in the exact order of the release's OBJ file; landmark
            and region indices point into it.
        faces: (M, 3) int64 vertex indices (triangles).
        landmarks: name -> vertex index, for the names of :data:`LANDMARK_NAMES`.
        regions: region name -> (K,) int64 vertex indices, for :data:`REGION_NAMES`.
        inputs: what it was read from -> sha256 (or a location such as a Parquet row group),
            recorded beside the scores it gives.
    """

    scene_id: str
    vertices: np.ndarray
    faces: np.ndarray
    landmarks: Mapping[str, int] = field(default_factory=dict)
    regions: Mapping[str, np.ndarray] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict, compare=False)
