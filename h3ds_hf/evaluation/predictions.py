"""Reading reconstructions and their predicted landmarks from files.

A reconstruction is a .ply, .obj or .glb mesh; its optional landmarks sit beside it in
``<stem>.landmarks.json`` as ``{name: vertex index}`` (the naming ``h3ds-hf evaluate`` and the
metric read). Vertex order is kept, since landmarks index into it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import trimesh

from h3ds_hf.errors import EvaluationError, MalformedFileError
from h3ds_hf.evaluation.meshes import validate_mesh
from h3ds_hf.release.obj import read_obj

#: Suffix of a reconstruction's landmarks file: ``{scene_id}_{views}.landmarks.json``.
LANDMARKS_SUFFIX = ".landmarks.json"
#: File types :func:`load_prediction` reads.
PREDICTION_SUFFIXES: tuple[str, ...] = (".ply", ".obj", ".glb")


def load_prediction(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a reconstructed mesh from .ply, .obj or .glb, keeping its vertex order.

    Predicted landmarks are vertex indices, so vertices must be neither merged nor reordered:
    OBJ goes through :func:`h3ds_hf.release.obj.read_obj`, the other formats through trimesh with
    processing off.

    Args:
        path: the mesh file.

    Returns:
        vertices: (N, 3) float64; faces: (M, 3) int64.

    Raises:
        EvaluationError: unsupported suffix, unreadable file, or an invalid mesh.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PREDICTION_SUFFIXES:
        raise EvaluationError(
            f"{path}: unsupported mesh type {suffix!r} (expected one of {PREDICTION_SUFFIXES})"
        )
    try:
        if suffix == ".obj":
            vertices, faces = read_obj(path.read_bytes(), name=str(path))
        else:
            loaded = trimesh.load(
                str(path), file_type=suffix[1:], process=False, maintain_order=True
            )
            if isinstance(loaded, trimesh.Scene):  # glb: all geometry, node transforms applied
                loaded = loaded.to_mesh()
            vertices = loaded.vertices
            faces = getattr(loaded, "faces", None)  # a PLY point cloud has none
    except (OSError, ValueError, KeyError, IndexError, MalformedFileError) as err:
        raise EvaluationError(f"{path}: cannot read the mesh ({err})") from err
    return validate_mesh(vertices, faces, what=str(path))


def read_landmarks(path: Path) -> dict[str, int]:
    """Predicted landmarks ``{name: vertex index}`` from JSON; EvaluationError if malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise EvaluationError(f"{path.name}: not readable JSON ({error})") from None
    if not isinstance(data, Mapping) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in data.values()
    ):
        raise EvaluationError(f"{path.name}: expected an object of landmark name -> vertex index")
    return {str(name): int(index) for name, index in data.items()}
