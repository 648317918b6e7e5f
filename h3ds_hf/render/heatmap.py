"""Shaded pictures of a vertex-coloured mesh from the front, the left and the right, on CPU.

Built on the z-buffer of :mod:`h3ds_hf.render.raster` (which triangle is seen at each pixel):
colours are interpolated from the triangle's three vertices (perspective-correct barycentrics)
and shaded by the triangle's facing to the camera (a light at the eye), so that the shape reads
under the heatmap. Headless: numpy and one numba kernel, no display, GPU or network.

The views are set by the head itself: "front" looks at the face from the direction
``front`` (unit (3,), from the head's centre towards the face), "left" and "right" from the
subject's left and right, with ``up`` (unit (3,)) up in every picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from h3ds_hf.render.raster import coherent_order, project, rasterize

#: Views drawn, in order: name -> rotation of the front direction about ``up`` (degrees,
#: positive turns towards the subject's left).
VIEWS: dict[str, float] = {"front": 0.0, "left": 90.0, "right": -90.0}
#: Background of the pictures (RGB).
BACKGROUND = (255, 255, 255)
#: Share of the picture's half-size the mesh's bounding sphere fills.
_FILL = 0.95
#: Camera distance in bounding-sphere radii: far enough to look almost orthographic.
_DISTANCE = 20.0


@dataclass(frozen=True)
class ViewFrame:
    """Where to look at a head from: ``centre`` (3,) and ``radius`` (the bounding sphere, in the
    mesh's units), ``front`` and ``up`` unit (3,) directions (see the module docstring)."""

    centre: np.ndarray
    radius: float
    front: np.ndarray
    up: np.ndarray


def view_frame(vertices: np.ndarray, face_point: np.ndarray, up: np.ndarray) -> ViewFrame:
    """The frame of a head: its bounding sphere, ``front`` towards ``face_point`` (3,) (e.g.
    the nose tip), ``up`` (3,) made orthogonal to it."""
    vertices = np.asarray(vertices, dtype=np.float64)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = (low + high) / 2
    radius = float(np.linalg.norm(vertices - centre, axis=1).max())
    front = np.asarray(face_point, dtype=np.float64) - centre
    front /= np.linalg.norm(front)
    up = np.asarray(up, dtype=np.float64) - front * np.dot(up, front)
    return ViewFrame(centre, radius, front, up / np.linalg.norm(up))


def render_view(
    vertices: np.ndarray,
    faces: np.ndarray,
    colours: np.ndarray,
    frame: ViewFrame,
    view: str = "front",
    size: int = 512,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """Draw a vertex-coloured mesh from one of :data:`VIEWS`.

    Args:
        vertices: (N, 3) float; faces: (M, 3) int; colours: (N, 3) uint8 RGB per vertex.
        frame: the head's :class:`ViewFrame` (the same for GT and prediction, so they line up).
        view: a name of :data:`VIEWS`; size: picture width and height in pixels.
        order: :func:`~h3ds_hf.render.raster.coherent_order` of the faces, if already known.

    Returns:
        (size, size, 3) uint8 RGB picture, :data:`BACKGROUND` where no triangle is seen.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if order is None:
        order = coherent_order(vertices, faces)
    faces = faces[order]
    pixels, depth = project(view_camera(frame, view, size), vertices)
    raster = rasterize(pixels, depth, faces, size, size)
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    rows, cols = np.nonzero(raster.covered)
    triangles = faces[raster.faces[rows, cols]]  # (P, 3)
    corners = pixels[triangles]  # (P, 3, 2)
    weights = _barycentrics(corners, np.stack([cols, rows], axis=1).astype(np.float64))
    weights /= depth[triangles]  # perspective-correct: interpolate colour / z, then normalize
    weights /= weights.sum(axis=1, keepdims=True)
    colour = np.einsum("pk,pkc->pc", weights, colours[triangles].astype(np.float64))
    image[rows, cols] = np.clip(
        colour * _shading(vertices, triangles, frame, view)[:, None], 0, 255
    )
    return image


def _rotation(frame: ViewFrame, view: str) -> tuple[np.ndarray, np.ndarray]:
    """(eye direction from the centre, right direction) of a view, unit (3,) each."""
    angle = np.radians(VIEWS[view])
    side = np.cross(frame.up, frame.front)  # towards the subject's left
    eye = np.cos(angle) * frame.front + np.sin(angle) * side
    return eye, np.cross(frame.up, eye)  # x to the picture's right


def view_camera(frame: ViewFrame, view: str, size: int) -> np.ndarray:
    """(3, 4) projection K [R | t] of a view (OpenCV axes: x right, y down, z forward)."""
    eye, right = _rotation(frame, view)
    rotation = np.stack([right, -frame.up, -eye])
    position = frame.centre + eye * frame.radius * _DISTANCE
    focal = _FILL * (size / 2) * (_DISTANCE - 1)
    intrinsics = np.array([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1]])
    return intrinsics @ np.hstack([rotation, (-rotation @ position)[:, None]])


def _barycentrics(corners: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(P, 3) screen-space barycentric weights of (P, 2) points in (P, 3, 2) triangles."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]

    def cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]

    weights = np.stack(
        [cross(c - b, points - b), cross(a - c, points - c), cross(b - a, points - a)], 1
    )
    total = weights.sum(axis=1, keepdims=True)
    return weights / np.where(total == 0, 1.0, total)


def _shading(
    vertices: np.ndarray, triangles: np.ndarray, frame: ViewFrame, view: str
) -> np.ndarray:
    """(P,) brightness in [0.35, 1] of the seen triangles: a light at the eye, two-sided."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    normals = np.cross(b - a, c - a)
    lengths = np.linalg.norm(normals, axis=1)
    eye, _ = _rotation(frame, view)
    facing = np.abs(normals @ eye) / np.where(lengths == 0, 1.0, lengths)
    return 0.35 + 0.65 * facing
