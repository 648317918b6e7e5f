"""Synthetic "reconstructions" of a release's scenes, to exercise the evaluation end to end.

Each prediction is the GT head as a method might return it: in its own frame (a random
similarity: rotation of a few degrees, translation, scale), with smooth shape error and vertex
noise that shrink as the views config grows, and with a few holes. Vertex order is kept, so
the GT landmark indices are valid predicted landmarks. Files follow the naming of the
reconstructions published with the paper: ``{scene_id}_{views_config}.ply`` plus
``{scene_id}_{views_config}.landmarks.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from h3ds_hf.atomic import atomic_write_bytes, atomic_write_text
from h3ds_hf.release.reader import Release
from h3ds_hf.scene import GroundTruth


def synthetic_prediction(
    gt: GroundTruth, views: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A perturbed copy of the GT: (N, 3) float64 vertices (mm, own frame), (M, 3) faces."""
    rng = np.random.default_rng([seed, views, int(gt.scene_id, 16) % 2**31])
    centre = gt.vertices.mean(axis=0)
    offsets = gt.vertices - centre
    radius = np.linalg.norm(offsets, axis=1).max()
    # Shape error: a smooth low-frequency bulge plus vertex noise, both smaller with more views.
    amplitude = 6.0 / np.sqrt(views)
    direction = rng.normal(size=3)
    bulge = amplitude * np.sin(offsets @ direction / radius * np.pi)
    normals = offsets / np.linalg.norm(offsets, axis=1, keepdims=True)
    vertices = gt.vertices + bulge[:, None] * normals
    vertices += rng.normal(scale=0.5 * amplitude / 3, size=vertices.shape)
    # The method's own frame: a small rotation, a translation and a scale.
    rotation = Rotation.from_rotvec(rng.normal(scale=np.deg2rad(4), size=3)).as_matrix()
    scale = rng.uniform(0.9, 1.1)
    vertices = scale * (vertices - centre) @ rotation.T + rng.normal(scale=15.0, size=3)
    # Holes: a few percent of the triangles are missing (vertices stay, order is kept).
    keep = rng.random(len(gt.faces)) > 0.03
    return vertices, gt.faces[keep]


def write_synthetic_predictions(
    release: Release,
    folder: str | Path,
    *,
    views_configs: Sequence[str] | None = None,
    seed: int = 0,
    landmarks: bool = True,
) -> Path:
    """Write one reconstruction (PLY) per scene and views config of ``release`` into ``folder``.

    Args:
        release: a synthetic (or any) release whose GT is perturbed.
        folder: output folder, created if needed.
        views_configs: which configs (default: all of the catalog's).
        seed: perturbation seed.
        landmarks: also write ``.landmarks.json`` files (the GT landmark indices).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    configs = list(views_configs or release.catalog.views_config_ids())
    for scene_id in release.catalog.scene_ids():
        gt = release.ground_truth(scene_id)
        for config in configs:
            vertices, faces = synthetic_prediction(gt, int(config), seed)
            mesh = trimesh.Trimesh(vertices, faces, process=False)
            atomic_write_bytes(folder / f"{scene_id}_{config}.ply", mesh.export(file_type="ply"))
            if landmarks:
                atomic_write_text(
                    folder / f"{scene_id}_{config}.landmarks.json", json.dumps(dict(gt.landmarks))
                )
    return folder
