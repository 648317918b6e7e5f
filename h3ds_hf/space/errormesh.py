"""The aligned prediction coloured by its error, as a vertex-coloured GLB for ``gr.Model3D``.

The alignment and distances are the h3ds protocol's for the full head (landmarks if given, ICP
on the GT face region, nearest vertex): each predicted vertex is coloured by its distance to
the ground truth. Only the prediction is drawn; the ground-truth scan never leaves the server.
The colours are the report's (:func:`h3ds_hf.render.colours.error_colours`); the clip is fixed
(:data:`CLIP_MM`) so that the page's one colour bar holds for every prediction shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import trimesh

from h3ds_hf.atomic import atomic_write_bytes
from h3ds_hf.evaluation import SceneEvaluator
from h3ds_hf.render.colours import error_colours
from h3ds_hf.scene import GroundTruth

#: Errors at or above this many mm get the scale's last colour (a head's typical errors are a
#: few mm; the report picks its clip from the run instead).
CLIP_MM = 5.0
#: Ticks of the colour bar, as fractions of CLIP_MM.
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def error_colors(errors_mm: np.ndarray) -> np.ndarray:
    """(N,) distances in mm -> (N, 4) uint8 RGBA on the report's colour scale, clipped at
    :data:`CLIP_MM`."""
    rgb = error_colours(errors_mm, CLIP_MM)
    return np.concatenate([rgb, np.full((len(rgb), 1), 255, dtype=np.uint8)], axis=1)


def write_error_glb(
    gt: GroundTruth,
    vertices: np.ndarray,
    faces: np.ndarray,
    landmarks: Mapping[str, int] | None,
    path: Path,
) -> tuple[Path, float]:
    """Align a prediction onto its GT and write it coloured by its error.

    Args:
        gt: the scene's ground truth; vertices: (M, 3) predicted vertices (mm); faces: (F, 3).
        landmarks: optional predicted ``{name: vertex index}``.
        path: the .glb to write.

    Returns:
        the path, and the mean prediction -> GT distance (mm) the colours show.
    """
    _d_gt, d_pred, _gt, (aligned, aligned_faces) = SceneEvaluator(gt).reference(
        vertices, faces, landmarks, None
    )
    mesh = trimesh.Trimesh(
        aligned, aligned_faces, vertex_colors=error_colors(d_pred), process=False
    )
    return atomic_write_bytes(path, mesh.export(file_type="glb")), float(np.mean(d_pred))


def colour_bar_html() -> str:
    """An HTML colour bar of :func:`error_colors` from 0 to CLIP_MM, with its ticks in mm."""
    samples = np.linspace(0.0, CLIP_MM, 21)
    stops = ", ".join(
        f"rgb({r},{g},{b}) {100 * i / (len(samples) - 1):.0f}%"
        for i, (r, g, b, _a) in enumerate(error_colors(samples))
    )
    ticks = "".join(
        f'<span style="position:absolute;left:{100 * t:.0f}%;transform:translateX(-50%)">'
        f"{t * CLIP_MM:g}{'+' if t == 1.0 else ''}</span>"
        for t in _TICKS
    )
    return (
        '<div style="max-width:420px;margin:4px 12px 20px">'
        "<div>prediction → ground truth distance (mm)</div>"
        f'<div style="height:14px;border-radius:3px;background:linear-gradient(to right, {stops})">'
        "</div>"
        f'<div style="position:relative;height:1.2em;font-size:0.85em">{ticks}</div></div>'
    )
