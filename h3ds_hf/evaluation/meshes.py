"""Validating user-supplied reconstructions and landmarks.

Everything that can make a score meaningless (an empty mesh, NaN coordinates, faces pointing
outside the vertex list, unknown landmark names) is refused here with an
:class:`~h3ds_hf.errors.EvaluationError` naming the problem, before any alignment runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from h3ds_hf.errors import EvaluationError, LandmarkIndexError, MissingLandmarkError


def mesh_arrays(mesh: Any, *, what: str = "prediction") -> tuple[np.ndarray, np.ndarray]:
    """Validated arrays of a trimesh.Trimesh, any object with ``.vertices``/``.faces``, or a
    ``(vertices, faces)`` pair.

    Returns:
        vertices: (N, 3) float64 C-contiguous (mm); faces: (M, 3) int64 (M may be 0).
    """
    if isinstance(mesh, tuple | list) and len(mesh) == 2:
        vertices, faces = mesh
    elif hasattr(mesh, "vertices") and hasattr(mesh, "faces"):
        vertices, faces = mesh.vertices, mesh.faces
    else:
        raise EvaluationError(
            f"{what}: expected a mesh with .vertices and .faces or a (vertices, faces) pair, "
            f"got {type(mesh).__name__}"
        )
    return validate_mesh(vertices, faces, what=what)


def validate_mesh(
    vertices: Any, faces: Any, *, what: str = "prediction"
) -> tuple[np.ndarray, np.ndarray]:
    """Check a mesh and return it as (N, 3) float64 C-contiguous vertices, (M, 3) int64 faces.

    Raises:
        EvaluationError: no vertices, wrong shapes, non-finite coordinates, non-integer faces or
            face indices outside ``[0, N)``.
    """
    try:
        vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise EvaluationError(f"{what}: vertices are not numeric ({err})") from err
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise EvaluationError(f"{what}: vertices must have shape (N, 3), got {vertices.shape}")
    if len(vertices) == 0:
        raise EvaluationError(f"{what}: the mesh is empty (no vertices)")
    if not np.isfinite(vertices).all():
        bad = int((~np.isfinite(vertices)).any(axis=1).sum())
        raise EvaluationError(f"{what}: {bad} vertices have non-finite coordinates")
    faces = np.asarray(faces if faces is not None else np.empty((0, 3)))
    if faces.size == 0:
        faces = np.empty((0, 3), dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise EvaluationError(f"{what}: faces must have shape (M, 3), got {faces.shape}")
    if not (np.issubdtype(faces.dtype, np.integer) or np.array_equal(faces, np.round(faces))):
        raise EvaluationError(f"{what}: face indices are not integers")
    faces = faces.astype(np.int64, copy=False)
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise EvaluationError(
            f"{what}: face indices must lie in [0, {len(vertices)}), found "
            f"[{int(faces.min())}, {int(faces.max())}]"
        )
    return vertices, faces


def validate_landmarks(
    landmarks: Mapping[str, Any], names: tuple[str, ...], n_vertices: int, *, what: str
) -> dict[str, int]:
    """Check predicted landmarks ``{name: vertex index}`` against the expected ``names``.

    Returns:
        name -> int index, in the order of ``names``.

    Raises:
        MissingLandmarkError: a name is missing; EvaluationError: a name is unknown;
        LandmarkIndexError: an index is not an integer in ``[0, n_vertices)``.
    """
    if not isinstance(landmarks, Mapping):
        raise EvaluationError(f"{what}: landmarks must be a mapping {{name: vertex index}}")
    unknown = sorted(set(landmarks) - set(names))
    missing = [name for name in names if name not in landmarks]
    if unknown or missing:
        raise (MissingLandmarkError if missing else EvaluationError)(
            f"{what}: landmark names must be {list(names)}; missing {missing}, unknown {unknown}"
        )
    checked: dict[str, int] = {}
    for name in names:
        value = landmarks[name]
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise LandmarkIndexError(f"{what}: landmark {name!r} index {value!r} is not an integer")
        if not 0 <= int(value) < n_vertices:
            raise LandmarkIndexError(
                f"{what}: landmark {name!r} index {int(value)} outside [0, {n_vertices})"
            )
        checked[name] = int(value)
    return checked
