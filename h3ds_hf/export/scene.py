"""``h3ds-hf export``: a scene's views in the layout of a reconstruction pipeline.

One folder per scene, ``<output>/<scene_id>/``, holding the photos exactly as published (the
JPEG bytes copied, never re-encoded) and the masks under their release names, the cameras in
the format's files, and ``h3ds_export.json`` (what was exported from where). Views are written
in increasing index order, each once (a views config may repeat an index):

- ``colmap``: ``images/``, ``masks/``, ``sparse/0/{cameras,images,points3D}.txt``;
- ``nerfstudio``: ``images/``, ``masks/``, ``transforms.json``;
- ``idr``: ``image/``, ``mask/``, ``cameras.npz`` and ``cameras_sphere.npz`` (the IDR / NeuS
  layout; loaders sort the file names, which is the cameras' order 0..n-1).

The GT scan is the test set: it goes in (``full_head.obj``, and the visible GT vertices as
COLMAP's points3D) only when asked for with ``with_gt``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm.auto import tqdm

from h3ds_hf.atomic import replace_folder
from h3ds_hf.errors import ExportError, OutputExistsError, UnknownViewsConfigError
from h3ds_hf.export.cameras import image_size, view_camera
from h3ds_hf.export.colmap import write_colmap
from h3ds_hf.export.idr import CAMERA_FILES, cameras_npz
from h3ds_hf.export.names import FORMATS
from h3ds_hf.export.nerfstudio import transforms
from h3ds_hf.export.points import gt_points
from h3ds_hf.hub.views import SceneViewsSource
from h3ds_hf.release.cameras import apply_transform, normalization_matrix
from h3ds_hf.release.obj import obj_bytes

logger = logging.getLogger(__name__)

#: The record of an export, in every exported scene folder.
MANIFEST_NAME = "h3ds_export.json"
#: The GT scan's file name in an export made with ``with_gt``.
GT_NAME = "full_head.obj"
_FOLDERS = {
    "colmap": ("images", "masks"),
    "nerfstudio": ("images", "masks"),
    "idr": ("image", "mask"),
}


@dataclass(frozen=True)
class ExportOptions:
    """How to export.

    Attributes:
        format: one of :data:`FORMATS`.
        normalized: cameras (and the GT) in the unit sphere of ``scale_mat_0``, as the
            drop-in's ``normalized=True``; colmap and nerfstudio only (the IDR layout carries
            the normalisation in ``scale_mat_i``).
        with_gt: also write the GT scan (the test set!).
    """

    format: str
    normalized: bool = False
    with_gt: bool = False

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ExportError(
                f"unknown export format {self.format!r} (known: {', '.join(FORMATS)})"
            )
        if self.normalized and self.format == "idr":
            raise ExportError(
                "--normalized is for colmap and nerfstudio: the IDR layout carries the "
                "normalisation in scale_mat_i"
            )


def export_indices(source: SceneViewsSource, scene_id: str, views_config: str | None) -> list[int]:
    """The views a scene exports for a views config (None: all), increasing, each once."""
    scene = source.catalog.scene(scene_id)
    chosen = range(scene.views) if views_config is None else scene.views_config(views_config)
    return sorted(set(chosen))


def export_scene(
    source: SceneViewsSource,
    scene_id: str,
    views_config: str | None,
    output: str | Path,
    options: ExportOptions,
) -> Path:
    """Export one scene into ``output / scene_id`` (replaced atomically if it holds an earlier
    export; anything else there is refused). Returns that folder."""
    target = Path(output) / scene_id
    if target.exists() and any(target.iterdir()) and not (target / MANIFEST_NAME).is_file():
        raise OutputExistsError(f"{target} exists and is not an h3ds-hf export")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{scene_id}.", dir=target.parent))
    try:
        _write(source, scene_id, views_config, staging, options)
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("exported %s to %s", scene_id, target)
    return target


def _write(
    source: SceneViewsSource,
    scene_id: str,
    views_config: str | None,
    folder: Path,
    options: ExportOptions,
) -> None:
    images_dir, masks_dir = _FOLDERS[options.format]
    (folder / images_dir).mkdir()
    (folder / masks_dir).mkdir()
    views, images, masks, sizes = [], [], [], []
    for view in source.views(scene_id, export_indices(source, scene_id, views_config)):
        image, mask = f"img_{view.index:04d}.jpg", f"mask_{view.index:04d}.png"
        assert view.image is not None  # asked for with images=True
        (folder / images_dir / image).write_bytes(view.image)
        (folder / masks_dir / mask).write_bytes(view.mask)
        sizes.append(image_size(view.image, f"{scene_id}/{image}"))
        views.append(replace(view, image=None, mask=b""))  # the bytes are on disk now
        images.append(image)
        masks.append(mask)
    normalization = normalization_matrix(views[0].scale_mat) if options.normalized else None
    gt = source.ground_truth(scene_id) if options.with_gt else None
    coordinates = None
    if gt is not None:
        coordinates = gt.vertices
        if normalization is not None:
            coordinates = apply_transform(normalization, gt.vertices)
        (folder / GT_NAME).write_bytes(obj_bytes(coordinates, gt.faces))

    if options.format == "idr":
        data = cameras_npz(views)
        for name in CAMERA_FILES:
            (folder / name).write_bytes(data)
    else:
        cameras = [
            view_camera(v, size, normalization) for v, size in zip(views, sizes, strict=True)
        ]
        if options.format == "colmap":
            points = None
            if gt is not None and coordinates is not None:
                world_mats = [view.world_mat for view in views]
                points = gt_points(gt.vertices, gt.faces, world_mats, sizes, coordinates)
            write_colmap(folder, cameras, images, points)
        else:
            content = transforms(
                cameras, [f"{images_dir}/{n}" for n in images], [f"{masks_dir}/{n}" for n in masks]
            )
            (folder / "transforms.json").write_text(json.dumps(content, indent=2) + "\n")
    manifest = {
        "scene_id": scene_id,
        "views_config": views_config or "all",
        "views": [view.index for view in views],
        "format": options.format,
        "normalized": options.normalized,
        "with_gt": options.with_gt,
        "release": source.catalog.name,
        "source": source.description,
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")


def export_scenes(
    source: SceneViewsSource,
    scene_ids: Iterable[str] | None,
    views_config: str | None,
    output: str | Path,
    options: ExportOptions,
    *,
    progress: bool = True,
) -> list[Path]:
    """Export several scenes (all those defining ``views_config`` when ``scene_ids`` is None),
    one folder each under ``output``."""
    if scene_ids is None:
        scene_ids = [
            scene_id
            for scene_id in source.catalog.scene_ids()
            if views_config is None or views_config in source.catalog.scene(scene_id).views_configs
        ]
    scene_ids = list(scene_ids)
    if not scene_ids:
        raise UnknownViewsConfigError(
            f"no scene of {source.description} has views config {views_config!r}"
        )
    for scene_id in scene_ids:  # fail on an unknown scene or config before writing anything
        export_indices(source, scene_id, views_config)
    return [
        export_scene(source, scene_id, views_config, output, options)
        for scene_id in tqdm(scene_ids, desc="export", unit="scene", disable=not progress)
    ]
