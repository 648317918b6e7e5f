"""The scan's 3D preview for the Hub's dataset viewer: a decimated copy of the GT as GLB bytes.

The rows keep the exact scan in ``vertices`` / ``faces`` (the truth for evaluation); the
``mesh_preview`` column (a datasets ``Mesh``) holds this lighter copy, which the viewer shows
as a thumbnail and an interactive 3D preview. A real scan (~164k vertices, ~327k faces) is
decimated to at most :data:`PREVIEW_MAX_FACES` faces by quadric edge collapse (trimesh's
``simplify_quadric_decimation``, i.e. fast-simplification): ~0.5 s and ~0.9 MB of GLB per
scan. Smaller scans (the synthetic ones) are kept whole.

The bytes depend only on the scan: the decimation is deterministic and GLB export writes no
timestamp, so a re-run (or another ``--jobs``) writes the same Parquet files.
"""

from __future__ import annotations

import numpy as np
import trimesh

#: Most faces a preview keeps: about 0.9 MB of GLB (float32 vertices, uint32 faces).
PREVIEW_MAX_FACES = 50_000
#: The preview's file name inside a scene (the Mesh feature reads the format from it).
PREVIEW_NAME = "full_head_preview.glb"


def preview_glb(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """A GLB of the scan with at most :data:`PREVIEW_MAX_FACES` faces.

    Args:
        vertices: (N, 3) float vertex positions in millimetres (kept in mm in the GLB).
        faces: (M, 3) integer triangles, 0-based indices into ``vertices``.

    Returns:
        GLB bytes of one mesh, float32 positions in mm, no normals (viewers shade flat).
    """
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    if len(mesh.faces) > PREVIEW_MAX_FACES:
        mesh = mesh.simplify_quadric_decimation(face_count=PREVIEW_MAX_FACES)
    return mesh.export(file_type="glb")
