"""``H3DS``: a drop-in replacement for the reference ``h3ds.dataset.H3DS`` (h3ds 0.4.0).

Same constructor, methods, arguments, return types and exception types, working on numpy 2,
reading the release from a folder or directly from the encrypted zip, with vectorized OBJ
loading and the fast evaluation of :mod:`h3ds_hf.evaluation`. Meshes are
:class:`~h3ds_hf.dropin.mesh.Mesh` (the reference's mesh API on an unprocessed
``trimesh.Trimesh``): vertex order and values are the file's, polygons keep their first three
corners as the reference reads them, and textures come along.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from h3ds_hf.dropin.download import download_archive, is_url
from h3ds_hf.dropin.mesh import Mesh
from h3ds_hf.errors import (
    H3DSError,
    MalformedFileError,
    MissingLandmarkError,
    SourceError,
    get_logger,
)
from h3ds_hf.release.cameras import (
    apply_transform,
    decompose_projection,
    normalization_matrix,
    normalized_projection,
)
from h3ds_hf.release.catalog import Catalog, load_catalog
from h3ds_hf.release.extract import extract_release
from h3ds_hf.release.reader import Release, open_release
from h3ds_hf.scene import REGION_NAMES, GroundTruth

if TYPE_CHECKING:
    from h3ds_hf.evaluation import SceneEvaluator

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
        self._token: str | None = None
        #: (scene id, GT mesh, its evaluator) of the scene last evaluated: scoring several
        #: predictions or regions of a scene reads its OBJ and builds its trees once.
        self._evaluated: tuple[str, Mesh, SceneEvaluator] | None = None
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
            self._release = open_release(
                self.path, catalog=self.catalog, token=self._token, verify_md5=False
            )
        return self._release

    def download(
        self,
        token: str | None = None,
        force: bool = False,
        *,
        source: str | Path | None = None,
        progress: bool = True,
    ) -> None:
        """Make the release available at ``path``, as the reference's ``download``.

        A no-op when it already is (unless ``force``). When ``path`` is the zip itself,
        ``token`` is kept to read it in place. Otherwise the official archive is taken from
        ``source`` (a local zip, or an http(s) address), by default the catalog's address;
        a download is resumable, shows progress and is md5-checked against the catalog; then
        it is extracted into ``path`` as ``h3ds-hf extract`` does (md5, safe members, atomic)
        and the downloaded file removed.

        Args:
            token: the access token (the zip's password); defaults to ``$H3DS_ACCESS_TOKEN``.
            force: fetch and extract even when the release is available.
            source: local zip path or URL of the archive.
            progress: show progress bars.
        """
        if self.path.is_file():  # the zip itself: read in place with this token
            self._token, self._release, self._evaluated = token, None, None
            return
        if self.is_available() and not force:
            logger.info("H3DS %s already available at %s", self.catalog.name, self.path)
            return
        source = source if source is not None else self.catalog.url
        if source is None:
            raise SourceError(
                f"catalog {self.catalog.name} gives no download address: pass source="
            )
        if is_url(source):
            archive = self.path.with_name(f".{self.path.name}.h3ds_{self.catalog.version}.zip")
            download_archive(str(source), archive, md5=self.catalog.md5, progress=progress)
        else:
            archive = Path(source).expanduser()
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()  # an empty folder made for the data: extraction creates it
        extract_release(archive, self.path, token=token, catalog=self.catalog, progress=progress)
        if is_url(source):
            archive.unlink()
        self._release, self._evaluated = None, None

    # -- catalog ---------------------------------------------------------------------------
    def is_available(self) -> bool:
        """True when ``path`` holds the catalog's version and every file the reference
        checks: each scene's mesh, images, masks and cameras (landmarks and regions are
        read when used)."""
        expected = ["version.txt"]
        for scene_id, scene in self.catalog.scenes.items():
            expected += [Release.mesh_name(scene_id), Release.cameras_name(scene_id)]
            expected += [Release.image_name(scene_id, view) for view in range(scene.views)]
            expected += [Release.mask_name(scene_id, view) for view in range(scene.views)]
        try:
            release = self.release
            return release.source.names().issuperset(expected) and (
                release.version == self.catalog.version
            )
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
    ) -> tuple[Mesh, list[Image.Image], list[Image.Image], list[tuple]]:
        """Mesh, images, masks and cameras of a scene (optionally only a views config)."""
        return (
            self.load_mesh(scene_id, normalized),
            self.load_images(scene_id, views_config_id),
            self.load_masks(scene_id, views_config_id),
            self.load_cameras(scene_id, views_config_id, normalized),
        )

    def load_mesh(self, scene_id: str, normalized: bool = False) -> Mesh:
        """The GT head mesh in mm, or mapped into the unit sphere when ``normalized``, with
        the OBJ's normals, vertex colours, UVs and texture image when it has them."""
        obj = self.release.mesh_attributes(scene_id, polygons="first")
        texture = self.release.texture(scene_id, obj)
        vertices = obj.vertices
        if normalized:
            vertices = apply_transform(self.load_normalization_matrix(scene_id), vertices)
        return Mesh(
            vertices,
            obj.faces,
            vertex_normals=obj.normals,
            vertices_color=obj.vertex_colors,
            texture_coordinates=obj.uvs,
            texture_indices=obj.face_uvs,
            texture=None if texture is None else _image(texture.data, texture.name),
        )

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
    ) -> tuple[np.ndarray, np.ndarray, Mesh, Any]:
        """Score a reconstruction exactly as h3ds 0.4.0 does (protocol 'h3ds').

        Args:
            scene_id: the scene.
            mesh_pred: a Mesh, trimesh.Trimesh, trimesh.PointCloud or any object with
                ``vertices`` (mm) and, optionally, ``faces``: the protocol uses only vertices.
            landmarks_pred: optional {landmark name: vertex index into mesh_pred} for the
                coarse alignment; names the GT lacks are ignored (with a warning), as the
                reference pairs only the GT's names.
            region_id: None or '' for the full head, or a region id (e.g. 'face_sphere').

        Returns:
            (N,) gt->pred distances (mm) for each GT vertex (of the region), (M,) pred->gt
            distances for each predicted vertex, the GT Mesh (cut to the region), and the
            aligned prediction: a copy of ``mesh_pred`` (same type, colours and all) with
            the aligned vertices.

        Raises:
            UnknownRegionError: (a FileNotFoundError) unknown ``region_id``.
            MissingLandmarkError: (a KeyError) ``landmarks_pred`` lacks a GT landmark.
            LandmarkIndexError: (an IndexError) a landmark index outside the prediction.
            EvaluationError: (a ValueError) a prediction without usable vertices.
        """
        region = region_id or None
        mesh_gt, evaluator = self._scene_evaluator(scene_id)
        if landmarks_pred is not None:
            landmarks_pred = _gt_landmarks(landmarks_pred, evaluator.gt.landmarks)
        d_gt_pred, d_pred_gt, _, (aligned_vertices, _) = evaluator.reference(
            np.asarray(mesh_pred.vertices, dtype=np.float64),
            getattr(mesh_pred, "faces", None),
            landmarks_pred,
            region,
        )
        aligned = mesh_pred.copy() if hasattr(mesh_pred, "copy") else copy.deepcopy(mesh_pred)
        aligned.vertices = aligned_vertices
        if region is None:
            mesh_gt = mesh_gt.copy()
        else:  # the cut shares the kept mesh's texture image: the caller gets its own
            mesh_gt = mesh_gt.cut(evaluator.gt.regions[region])
            if mesh_gt.texture is not None:
                mesh_gt.texture = mesh_gt.texture.copy()
        return d_gt_pred, d_pred_gt, mesh_gt, aligned

    def _scene_evaluator(self, scene_id: str) -> tuple[Mesh, SceneEvaluator]:
        """The GT mesh of ``scene_id`` and an evaluator of it, kept for the next call."""
        from h3ds_hf.evaluation import SceneEvaluator  # the kernels: only when scoring

        kept = self._evaluated
        if kept is None or kept[0] != scene_id:
            self._evaluated = None  # the previous scene's trees are freed before the new ones
            mesh_gt = self.load_mesh(scene_id)
            gt = GroundTruth(
                scene_id,
                np.asarray(mesh_gt.vertices),
                np.asarray(mesh_gt.faces),
                self.load_landmarks(scene_id),
                _SceneRegions(self.release, scene_id),
            )
            kept = self._evaluated = (scene_id, mesh_gt, SceneEvaluator(gt))
        return kept[1], kept[2]

    def _views(self, scene_id: str, views_config_id: str | int | None) -> Sequence[int]:
        scene = self.catalog.scene(scene_id)
        if views_config_id is None:
            return range(scene.views)
        return scene.views_config(views_config_id)


class _SceneRegions(Mapping[str, np.ndarray]):
    """A scene's regions, each read on first use, as the reference reads only the region a
    call uses (a release may lack the others' files)."""

    def __init__(self, release: Release, scene_id: str) -> None:
        self._release, self._scene_id = release, scene_id
        self._read: dict[str, np.ndarray] = {}

    def __getitem__(self, region_id: str) -> np.ndarray:
        if region_id not in self._read:
            self._read[region_id] = self._release.region(self._scene_id, region_id)
        return self._read[region_id]

    def __iter__(self) -> Iterator[str]:
        return iter(REGION_NAMES)

    def __len__(self) -> int:
        return len(REGION_NAMES)


def _gt_landmarks(landmarks_pred: Mapping[str, int], landmarks_gt: Mapping[str, int]) -> dict:
    """The predicted landmarks of the GT's names, in the GT's order (the reference pairs
    them so); extra names are ignored with a warning, a missing one is a KeyError."""
    missing = [name for name in landmarks_gt if name not in landmarks_pred]
    if missing:
        raise MissingLandmarkError(f"predicted landmarks lack {missing}")
    extra = sorted(set(landmarks_pred) - set(landmarks_gt))
    if extra:
        logger.warning("ignoring predicted landmarks the ground truth does not have: %s", extra)
    return {name: landmarks_pred[name] for name in landmarks_gt}


def _image(data: bytes, name: str) -> Image.Image:
    """Decode a photo or mask; MalformedFileError naming it if corrupt or a decompression bomb."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise MalformedFileError(f"{name}: not a readable image ({error})") from None
