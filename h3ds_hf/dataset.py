"""``H3DS``: a drop-in replacement for the reference ``h3ds.dataset.H3DS`` (h3ds 0.4.0).

Same constructor, methods, arguments and return conventions, working on numpy 2, reading the
release from a folder or directly from the encrypted zip, with vectorized OBJ loading and the
fast evaluation of :mod:`h3ds_hf.evaluation`. Meshes are returned as ``trimesh.Trimesh`` built
without processing, so vertex order and values are the file's.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from PIL import Image

from h3ds_hf.errors import H3DSError, MalformedFileError, get_logger
from h3ds_hf.release.cameras import (
    apply_transform,
    decompose_projection,
    normalization_matrix,
    normalized_projection,
)
from h3ds_hf.release.catalog import Catalog, load_catalog
from h3ds_hf.release.reader import Release, open_release
from h3ds_hf.scene import REGION_NAMES

logger = get_logger(__name__)


class H3DS:
    """Access to a local copy of the H3DS dataset, like the reference class.

    Args:
        path: the extracted release folder, or the official zip (read in place; the access
            token comes from ``$H3DS_ACCESS_TOKEN``).
        config_path: optional custom catalog (the authors' TOML shape).
        config_id: 'config_v1' or 'config_v2' (default), the shipped catalogs.
    """

    def __init__(
        self, path: str | Path, config_path: str | Path | None = None, config_id: str = "config_v2"
    ) -> None:
        self.path = Path(path).expanduser()
        self.config_path = config_path
        self.catalog: Catalog = (
            load_catalog(path=config_path) if config_path else load_catalog(config_id)
        )
        self._release: Release | None = None
        if not self.is_available():
            logger.warning(
                "H3DS %s (version %s) was not found complete at %s",
                self.catalog.name,
                self.catalog.version,
                self.path,
            )

    @property
    def release(self) -> Release:
        """The opened release (opened on first use)."""
        if self._release is None:
            self._release = open_release(self.path, catalog=self.catalog, verify_md5=False)
        return self._release

    # -- catalog ---------------------------------------------------------------------------
    def is_available(self) -> bool:
        """True when the release at ``path`` has the catalog's version and every file."""
        try:
            return self.release.version == self.catalog.version and not self.release.missing()
        except H3DSError:
            return False

    def scenes(self, tags: Iterable[str] = ()) -> list[str]:
        """Scene ids carrying all ``tags`` (e.g. {'h3d-net'}); all scenes when empty."""
        return self.catalog.scene_ids(tags)

    def regions(self) -> list[str]:
        """Region ids available for every scene: 'face', 'face_sphere', 'nose'."""
        return list(REGION_NAMES)

    def default_views_configs(self, scene_id: str) -> list[str]:
        """Views config ids of a scene, e.g. ['1', '3', '4', '6', '8', '16', '32']."""
        return list(self.catalog.scene(scene_id).views_configs)

    # -- loading ---------------------------------------------------------------------------
    def load_scene(
        self, scene_id: str, views_config_id: str | int | None = None, normalized: bool = False
    ) -> tuple[trimesh.Trimesh, list[Image.Image], list[Image.Image], list[tuple]]:
        """Mesh, images, masks and cameras of a scene (optionally only a views config)."""
        return (
            self.load_mesh(scene_id, normalized),
            self.load_images(scene_id, views_config_id),
            self.load_masks(scene_id, views_config_id),
            self.load_cameras(scene_id, views_config_id, normalized),
        )

    def load_mesh(self, scene_id: str, normalized: bool = False) -> trimesh.Trimesh:
        """The GT head mesh in mm, or mapped into the unit sphere when ``normalized``."""
        vertices, faces = self.release.mesh(scene_id)
        if normalized:
            vertices = apply_transform(self.load_normalization_matrix(scene_id), vertices)
        return _trimesh(vertices, faces)

    def load_images(
        self, scene_id: str, views_config_id: str | int | None = None
    ) -> list[Image.Image]:
        """RGB photos as PIL images, all views or those of ``views_config_id``."""
        views = self._views(scene_id, views_config_id)
        return [
            _image(
                self.release.image_bytes(scene_id, view), self.release.image_name(scene_id, view)
            )
            for view in views
        ]

    def load_masks(
        self, scene_id: str, views_config_id: str | int | None = None
    ) -> list[Image.Image]:
        """Foreground masks as PIL images, all views or those of ``views_config_id``."""
        views = self._views(scene_id, views_config_id)
        return [
            _image(self.release.mask_bytes(scene_id, view), self.release.mask_name(scene_id, view))
            for view in views
        ]

    def load_cameras(
        self, scene_id: str, views_config_id: str | int | None = None, normalized: bool = False
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Cameras as (K (3, 3) float64, camera-to-world pose (4, 4) float32) pairs."""
        world_mats = self.release.cameras(scene_id).world_mats
        normalization = self.load_normalization_matrix(scene_id) if normalized else None
        cameras = []
        for view in self._views(scene_id, views_config_id):
            P = np.asarray(world_mats[view], dtype=np.float32)
            if normalization is not None:
                P = normalized_projection(P, normalization)
            cameras.append(decompose_projection(P))
        return cameras

    def load_landmarks(self, scene_id: str) -> dict[str, int]:
        """Landmark name -> vertex index into the GT mesh."""
        return self.release.landmarks(scene_id)

    def load_region(self, scene_id: str, region_id: str) -> np.ndarray:
        """(K,) int64 vertex indices of region 'face', 'face_sphere' or 'nose'."""
        return self.release.region(scene_id, region_id)

    def load_normalization_matrix(self, scene_id: str) -> np.ndarray:
        """(4, 4) float32 similarity from mm to the unit sphere (inverse of scale_mat_0)."""
        return normalization_matrix(self.release.cameras(scene_id).scale_mats[0])

    # -- evaluation ------------------------------------------------------------------------
    def evaluate_scene(
        self,
        scene_id: str,
        mesh_pred: Any,
        landmarks_pred: Mapping[str, int] | None = None,
        region_id: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray, trimesh.Trimesh, trimesh.Trimesh]:
        """Score a reconstruction exactly as h3ds 0.4.0 does (protocol 'h3ds').

        Args:
            scene_id: the scene.
            mesh_pred: a trimesh.Trimesh or any object with ``vertices`` and ``faces`` (mm).
            landmarks_pred: optional {landmark name: vertex index into mesh_pred} for the
                coarse alignment.
            region_id: None for the full head, or a region id (e.g. 'face_sphere').

        Returns:
            (N,) gt->pred distances (mm) for each GT vertex (of the region), (M,) pred->gt
            distances for each predicted vertex, the GT mesh (cut to the region), and the
            aligned prediction.
        """
        from h3ds_hf.evaluation import evaluate_scene_reference

        gt = self.release.ground_truth(scene_id)
        d_gt_pred, d_pred_gt, gt_mesh, pred_mesh = evaluate_scene_reference(
            gt,
            np.asarray(mesh_pred.vertices, dtype=np.float64),
            np.asarray(mesh_pred.faces),
            landmarks_pred,
            region_id,
        )
        return d_gt_pred, d_pred_gt, _trimesh(*gt_mesh), _trimesh(*pred_mesh)

    def _views(self, scene_id: str, views_config_id: str | int | None) -> Sequence[int]:
        scene = self.catalog.scene(scene_id)
        if views_config_id is None:
            return range(scene.views)
        return scene.views_config(views_config_id)


def _trimesh(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False, validate=False)


def _image(data: bytes, name: str) -> Image.Image:
    """Decode a photo or mask; MalformedFileError naming it if corrupt or a decompression bomb."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise MalformedFileError(f"{name}: not a readable image ({error})") from None
