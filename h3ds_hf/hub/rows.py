"""Dataset rows from a raw release: configs, splits, checks and one row per scene.

A config is a views config of the release ('3-views' = the catalog's 3 views of every scene) or
all views ('all-views'); a split is a scene set ('test' = every scene, 'h3d_net' = the scenes
tagged 'h3d-net'). :func:`read_scene` reads a scene once (ground truth, cameras, the photos and
masks any requested config needs) and :func:`scene_row` cuts the row of one config out of it,
so preparing all configs reads every file of the source exactly once.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import PIL.ExifTags
import PIL.Image
import pyarrow as pa
from datasets import Dataset, Features, Image, List, Value

from h3ds_hf.benchmark.names import SPLITS, config_names, parse_config_name
from h3ds_hf.errors import (
    MalformedFileError,
    MissingFileError,
    SourceError,
    UnknownViewsConfigError,
    get_logger,
)
from h3ds_hf.hub.features import scene_features
from h3ds_hf.hub.preview import PREVIEW_NAME, preview_glb
from h3ds_hf.release.cameras import decompose_projection, normalization_matrix
from h3ds_hf.release.catalog import Catalog
from h3ds_hf.release.reader import Cameras, Release
from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES, GroundTruth

logger = get_logger(__name__)

#: Missing files named in an error message before the rest is only counted.
SHOWN_MISSING = 10
_INT32_MAX = np.iinfo(np.int32).max
_IMAGE = re.compile(r"^image/img_(\d+)\.jpg$")


def dataset_configs(catalog: Catalog) -> dict[str, str | None]:
    """Config name -> views config id (None for all views), in the catalog's order."""
    return {name: parse_config_name(name).views_config for name in config_names(catalog)}


def resolve_configs(catalog: Catalog, names: Iterable[str] | None = None) -> dict[str, str | None]:
    """The requested configs (all when None) checked against the catalog.

    Raises:
        UnknownViewsConfigError: a name is not a config of this catalog; the message lists the
            known ones.
    """
    known = dataset_configs(catalog)
    if names is None:
        return known
    chosen: dict[str, str | None] = {}
    for name in names:
        if name not in known:
            raise UnknownViewsConfigError(
                f"unknown config {name!r} for release {catalog.name} (known: {', '.join(known)})"
            )
        chosen[name] = known[name]
    if not chosen:
        raise UnknownViewsConfigError(f"no config given (known: {', '.join(known)})")
    return chosen


def split_scenes(catalog: Catalog, views_config: str | None = None) -> dict[str, list[str]]:
    """Split name -> scene ids of a config, in catalog order.

    Only scenes that define ``views_config`` belong to its config (the official catalogs
    define every views config for every scene; custom ones may not). A split left without
    scenes is left out: custom catalogs without 'h3d-net' scenes have only 'test'.
    """
    splits = {}
    for split, tag in SPLITS.items():
        if tag is not None and tag not in catalog.tags():
            continue
        scene_ids = [
            scene_id
            for scene_id in catalog.scene_ids(() if tag is None else (tag,))
            if views_config is None or views_config in catalog.scene(scene_id).views_configs
        ]
        if scene_ids:
            splits[split] = scene_ids
    return splits


def view_indices(catalog: Catalog, scene_id: str, views_config: str | None) -> tuple[int, ...]:
    """The views of a scene in a config, in the published order (repeats kept)."""
    scene = catalog.scene(scene_id)
    return tuple(range(scene.views)) if views_config is None else scene.views_config(views_config)


def check_source(release: Release, scene_ids: Iterable[str]) -> None:
    """Fail before writing anything if a scene's files are missing or its photos are not the
    ones the catalog describes.

    Raises:
        MissingFileError: files the catalog expects are absent (the first ones are named).
        SourceError: a scene holds more photos than the catalog says.
    """
    scene_ids = list(scene_ids)
    missing = release.missing(scene_ids)
    if missing:
        shown = ", ".join(missing[:SHOWN_MISSING])
        more = f" and {len(missing) - SHOWN_MISSING} more" if len(missing) > SHOWN_MISSING else ""
        raise MissingFileError(
            f"{release.source.description} lacks {len(missing)} file(s) of release "
            f"{release.catalog.name}: {shown}{more}"
        )
    counts = {scene_id: 0 for scene_id in scene_ids}
    for name in release.source.names():
        scene_id, _, rest = name.partition("/")
        if scene_id in counts and _IMAGE.match(rest):
            counts[scene_id] += 1
    for scene_id, count in counts.items():
        expected = release.catalog.scene(scene_id).views
        if count != expected:
            raise SourceError(
                f"scene {scene_id} holds {count} images but release {release.catalog.name} "
                f"expects {expected}: wrong catalog for this source?"
            )


class Media:
    """The photos (or masks) of some views of a scene, back to back in one buffer.

    One allocation per scene instead of one per file: freeing a scene returns its memory to
    the system at once (many ~1 MB blocks would stay in the C heap), and a Parquet row of views
    stored in order can use the buffer without copying it (see :mod:`h3ds_hf.hub.arrow_rows`).
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self.spans: dict[int, tuple[int, int]] = {}  # view -> (start, end) in data

    def add(self, view: int, blob: bytes) -> None:
        start = len(self.data)
        self.data += blob
        self.spans[view] = (start, len(self.data))

    def __getitem__(self, view: int) -> bytes:
        start, end = self.spans[view]
        return bytes(self.data[start:end])


@dataclass(frozen=True)
class SceneTexture:
    """The texture of a GT scan.

    Attributes:
        uvs: (T, 2) float64 texture coordinates; face_uvs: (M, 3) int64 indices into them,
        one row per GT face; image: the texture file's bytes; path: its name in the release.
    """

    uvs: np.ndarray
    face_uvs: np.ndarray
    image: bytes
    path: str


def read_texture(release: Release, scene_id: str) -> SceneTexture | None:
    """The scan's texture when its folder holds a material library (``.mtl``) that leads to
    an image and the OBJ has UVs for every face; None otherwise (then the OBJ is not parsed a
    second time)."""
    if not any(
        name.startswith(f"{scene_id}/") and name.endswith(".mtl") for name in release.source.names()
    ):
        return None
    attributes = release.mesh_attributes(scene_id)
    texture = release.texture(scene_id, attributes)
    if texture is None or attributes.face_uvs is None:
        return None
    return SceneTexture(attributes.uvs, attributes.face_uvs, texture.data, texture.name)


@dataclass(frozen=True)
class SceneData:
    """Everything the rows of one scene are made of.

    Attributes:
        release: catalog name the scene belongs to ('v2', ...).
        tags: the scene's tags.
        ground_truth: mesh (mm), landmarks and regions.
        cameras: (V, 4, 4) world and scale matrices of every view.
        images: JPEG bytes by view index, for the views some requested config uses.
        masks: PNG bytes by view index, same views.
        preview: GLB bytes of the decimated scan (:func:`h3ds_hf.hub.preview.preview_glb`).
        texture: the scan's texture, or None.
    """

    release: str
    tags: tuple[str, ...]
    ground_truth: GroundTruth
    cameras: Cameras
    images: Media
    masks: Media
    preview: bytes
    texture: SceneTexture | None = None


def _warn_if_rotated(jpeg: bytes, scene_id: str, view: int) -> None:
    """Warn about an EXIF orientation: datasets' Image feature rotates such photos when
    decoding, while the cameras (and the reference's loader) describe the stored pixels."""
    try:
        with PIL.Image.open(io.BytesIO(jpeg)) as image:
            orientation = image.getexif().get(PIL.ExifTags.Base.Orientation)
    except (OSError, ValueError, SyntaxError, PIL.Image.DecompressionBombError) as error:
        raise MalformedFileError(
            f"{Release.image_name(scene_id, view)}: not a readable image ({error})"
        ) from None
    if orientation not in (None, 1):
        logger.warning(
            "scene %s view %d: EXIF orientation %s; decoded images will be rotated relative "
            "to the cameras (read image['bytes'] to get the stored pixels)",
            scene_id,
            view,
            orientation,
        )


def read_scene(release: Release, scene_id: str, views: Iterable[int]) -> SceneData:
    """Read one scene: ground truth, cameras and the photos and masks of ``views``."""
    wanted = sorted(set(views))
    images, masks = Media(), Media()
    for view in wanted:
        photo = release.image_bytes(scene_id, view)
        _warn_if_rotated(photo, scene_id, view)
        images.add(view, photo)
        masks.add(view, release.mask_bytes(scene_id, view))
    ground_truth = release.ground_truth(scene_id)
    if len(ground_truth.vertices) > _INT32_MAX:
        raise MalformedFileError(f"scene {scene_id}: too many vertices for int32 indices")
    return SceneData(
        release=release.catalog.name,
        tags=release.catalog.scene(scene_id).tags,
        ground_truth=ground_truth,
        cameras=release.cameras(scene_id),
        images=images,
        masks=masks,
        # Here, not per row: once per scene, and in the worker processes of `prepare --jobs`.
        preview=preview_glb(ground_truth.vertices, ground_truth.faces),
        texture=read_texture(release, scene_id),
    )


def scene_row(scene: SceneData, views: Iterable[int], *, media_bytes: bool = True) -> dict:
    """The dataset row of a scene for the given views (see :mod:`h3ds_hf.hub.features`).

    Media go in as ``{"bytes": ..., "path": <name inside the release>}``: the bytes are
    embedded and the path is relative, so nothing points into the source. With
    ``media_bytes=False`` the bytes are left None (for :func:`h3ds_hf.hub.arrow_rows.row_table`,
    which takes them from ``scene`` without copying).
    """
    gt = scene.ground_truth
    scene_id = gt.scene_id
    rows = []
    for view in views:
        world_mat = scene.cameras.world_mats[view]
        K, pose = decompose_projection(world_mat)
        rows.append(
            {
                "view_index": view,
                "image": {
                    "bytes": scene.images[view] if media_bytes else None,
                    "path": Release.image_name(scene_id, view),
                },
                "mask": {
                    "bytes": scene.masks[view] if media_bytes else None,
                    "path": Release.mask_name(scene_id, view),
                },
                "K": K,
                "pose": pose,
                "world_mat": world_mat,
                "scale_mat": scene.cameras.scale_mats[view],
            }
        )
    texture = scene.texture
    return {
        "scene_id": scene_id,
        "release": scene.release,
        "tags": list(scene.tags),
        "mesh_preview": {"bytes": scene.preview, "path": f"{scene_id}/{PREVIEW_NAME}"},
        "vertices": gt.vertices,
        "faces": gt.faces.astype(np.int32),
        "texture": None if texture is None else {"bytes": texture.image, "path": texture.path},
        "texture_coordinates": None if texture is None else texture.uvs,
        "texture_indices": None if texture is None else texture.face_uvs.astype(np.int32),
        "landmarks": {name: int(gt.landmarks[name]) for name in LANDMARK_NAMES},
        "regions": {name: gt.regions[name].astype(np.int32) for name in REGION_NAMES},
        "normalization_matrix": normalization_matrix(scene.cameras.scale_mats[0]),
        "views": rows,
    }


def ground_truth_from_row(row: Mapping) -> GroundTruth:
    """The :class:`GroundTruth` of a dataset row (python or numpy format), ready to score.

    Use the default python format (or ``with_format("arrow")``): datasets' numpy format casts
    float64 to float32, which would move the vertices.
    """
    vertices = np.asarray(row["vertices"], dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(row["faces"], dtype=np.int64).reshape(-1, 3)
    return GroundTruth(
        scene_id=str(row["scene_id"]),
        vertices=vertices,
        faces=faces,
        landmarks={name: int(row["landmarks"][name]) for name in LANDMARK_NAMES},
        regions={
            name: np.asarray(row["regions"][name], dtype=np.int64).reshape(-1)
            for name in REGION_NAMES
        },
    )


def numpy_row(row: Mapping[str, Any], features: Features | None = None) -> dict[str, Any]:
    """A decoded row (python format, or one streamed) with its arrays as numpy arrays of the
    stored dtypes: ``vertices`` (N, 3) float64, ``faces`` (M, 3) int32, matrices (4, 4),
    photos (H, W, 3) and masks (H, W) uint8; ``views`` stays a list of dicts, strings stay
    strings and ``mesh_preview`` stays the decoded trimesh object.

    Use it instead of ``with_format("numpy")``, which datasets 5.2 cannot apply to these rows:
    to decode ``views`` it compares each matrix's rows, already numpy arrays, with lists
    (``ValueError: The truth value of an array ... is ambiguous``), and it would cast the
    float64 vertices to float32. ``features`` default to :func:`scene_features`.
    """
    features = scene_features() if features is None else features
    return {name: _numpy(features[name], value) for name, value in row.items()}


def numpy_rows(dataset: Dataset) -> Dataset:
    """``dataset`` formatted so that ``dataset[i]`` (and slices, iteration) gives
    :func:`numpy_row` rows: the whole-row numpy view ``with_format("numpy")`` cannot give."""
    features = dataset.features

    def transform(batch: dict[str, list]) -> dict[str, list]:
        return {name: [_numpy(features[name], v) for v in values] for name, values in batch.items()}

    return dataset.with_transform(transform)


def _numpy(feature: Any, value: Any) -> Any:
    """``value`` (of ``feature``) with numeric lists as arrays and decoded images as arrays."""
    if value is None:
        return None
    if isinstance(feature, dict):
        return {name: _numpy(feature[name], item) for name, item in value.items()}
    if isinstance(feature, List):
        inner = feature.feature
        while isinstance(inner, List):
            inner = inner.feature
        if isinstance(inner, Value) and inner.dtype != "string":  # a (nested) numeric array
            return np.asarray(value, dtype=inner.dtype)
        return [_numpy(feature.feature, item) for item in value]
    if isinstance(feature, Image) and isinstance(value, PIL.Image.Image):
        return np.asarray(value)
    return value


def arrow_rows(column: pa.ChunkedArray | pa.Array) -> list[dict[str, Any]]:
    """Items of a stored struct column as dicts of numpy arrays (None for nulls).

    Matrices come back as (N, 3) arrays without a Python-list detour: the vertices are the
    float64 values that were added, bit for bit.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return [_struct_row(column, i) for i in range(len(column))]


def _struct_row(column: pa.StructArray, i: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for position, field in enumerate(column.type):
        row[field.name] = _value(column.field(position), field.type, i)
    return row


def _value(array: pa.Array, type_: pa.DataType, i: int) -> Any:
    if not array[i].is_valid:
        return None
    if pa.types.is_struct(type_):
        return _struct_row(array, i)
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        values = array[i].values
        if pa.types.is_fixed_size_list(type_.value_type):
            width = type_.value_type.list_size
            return values.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
        return values.to_numpy(zero_copy_only=False)
    return array[i].as_py()
