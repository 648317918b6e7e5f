"""Per-vertex error heatmaps as coloured PLY meshes, to see where a reconstruction is off.

For each prediction two regions are drawn ('face' = GT face_sphere, 'head' = full head), each
as the GT coloured by GT -> prediction distance and the aligned prediction coloured by
prediction -> GT distance. Alignment and distances are those of the h3ds protocol (landmarks,
ICP, nearest vertex). Colours run from green (0 mm) through yellow to red (>= 5 mm).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from h3ds_hf.atomic import atomic_write_bytes
from h3ds_hf.evaluation import SceneEvaluator

#: Errors at or above this many mm get the full red.
CLIP_MM = 5.0
#: Heatmap region -> the reference's region_id.
HEATMAP_REGIONS: dict[str, str | None] = {"face": "face_sphere", "head": None}


def error_colors(errors_mm: np.ndarray, clip_mm: float = CLIP_MM) -> np.ndarray:
    """(N,) distances in mm -> (N, 4) uint8 RGBA, green at 0, yellow at clip/2, red at clip."""
    t = np.clip(np.asarray(errors_mm, dtype=np.float64) / clip_mm, 0.0, 1.0)
    red = np.clip(2.0 * t, 0.0, 1.0)
    green = np.clip(2.0 * (1.0 - t), 0.0, 1.0)
    rgba = np.stack([red, green, np.zeros_like(t), np.ones_like(t)], axis=1)
    return np.round(rgba * 255).astype(np.uint8)


def write_heatmaps(
    evaluator: SceneEvaluator,
    vertices: np.ndarray,
    faces: np.ndarray,
    landmarks: Mapping[str, int] | None,
    folder: Path,
    prediction: Any,
) -> list[Path]:
    """Write ``{scene}_{views}.{region}.{gt,pred}_heatmap.ply`` into ``folder``; return paths."""
    stem = f"{prediction.scene_id}_{prediction.views_config}"
    written = []
    for region, region_id in HEATMAP_REGIONS.items():
        d_gt, d_pred, (gt_v, gt_f), (pred_v, pred_f) = evaluator.reference(
            vertices, faces, landmarks, region_id
        )
        for side, mesh_vertices, mesh_faces, errors in (
            ("gt", gt_v, gt_f, d_gt),
            ("pred", pred_v, pred_f, d_pred),
        ):
            mesh = trimesh.Trimesh(
                mesh_vertices, mesh_faces, vertex_colors=error_colors(errors), process=False
            )
            path = folder / f"{stem}.{region}.{side}_heatmap.ply"
            written.append(atomic_write_bytes(path, mesh.export(file_type="ply")))
    return written
