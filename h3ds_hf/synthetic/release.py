"""A deterministic synthetic mini-H3DS: head-like scans, cameras, images and masks.

Tests, benchmarks and the demo need data in the exact raw layout of the official release
without the (gated) release itself. This module generates it from a seed:

- :func:`synthetic_ground_truth` builds a closed, head-like triangle mesh in millimetres (face
  looking along +z, y up, subject's right at -x) with a nose, brow, eye sockets, lips, chin and
  ears, and a deliberate left/right asymmetry so that landmark alignment and ICP have a unique
  answer; plus the 6 landmarks and the 3 regions of the release.
- :func:`write_synthetic_release` writes a few scenes in the raw layout (``version.txt``,
  ``<scene>/full_head.obj``, ``image/img_%04d.jpg``, ``mask/mask_%04d.png``, ``cameras.npz``,
  ``landmarks.txt``, ``regions/*.txt``) and a catalog of the reference's TOML shape, optionally
  packed as a ZipCrypto archive like the official one.

Everything is a pure function of the arguments: the same seed gives the same bytes. The
version string starts with ``synthetic-`` and the scene ids with ``0000`` (no official id
does), so synthetic data can never be mistaken for the real release.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from h3ds_hf.atomic import atomic_write_text, replace_folder, staging_folder
from h3ds_hf.errors import OutputExistsError, get_logger
from h3ds_hf.release.obj import obj_bytes, textured_obj_bytes
from h3ds_hf.release.zipcrypto import pack_zip
from h3ds_hf.render.raster import project, rasterize
from h3ds_hf.scene import LANDMARK_NAMES, GroundTruth

__all__ = [
    "CATALOG_NAME",
    "FACE_SPHERE_RADIUS",
    "SYNTHETIC_VERSION",
    "VIEWS_CONFIG_SIZES",
    "SyntheticCameras",
    "render_view",
    "synthetic_cameras",
    "synthetic_ground_truth",
    "synthetic_scene_id",
    "synthetic_texture",
    "turned_camera",
    "write_synthetic_release",
]

logger = get_logger(__name__)

#: Content of the synthetic release's version.txt (and its catalog's ``version``).
SYNTHETIC_VERSION = "synthetic-0.1"
#: File name of the catalog written next to (not inside) the release folder.
CATALOG_NAME = "catalog.toml"
#: Radius of the 'face_sphere' region around the nose tip, mm (the official definition).
FACE_SPHERE_RADIUS = 95.0
#: Views configs of the official v2 release, written when a scene has enough views.
VIEWS_CONFIG_SIZES = (1, 3, 4, 6, 8, 16, 32)

_JPEG_QUALITY = 90
_PNG_COMPRESS_LEVEL = 6
_NPZ_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times keep cameras.npz reproducible
_CAMERA_DISTANCE = 420.0  # mm from the head centre: the whole head fits in the image
_FOCAL_FACTOR = 1.2  # focal length in pixels = factor * image width (~45 degree field of view)


# --------------------------------------------------------------------------------------------
# Mesh


def _icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere built by repeated midpoint subdivision, in a fixed vertex order.

    Returns:
        vertices (10 * 4**s + 2, 3) float64 unit vectors; faces (20 * 4**s, 3) int64,
        counter-clockwise seen from outside (outward normals).
    """
    g = (1.0 + 5.0**0.5) / 2.0
    vertices = np.array(
        [
            [-1, g, 0], [1, g, 0], [-1, -g, 0], [1, -g, 0],
            [0, -1, g], [0, 1, g], [0, -1, -g], [0, 1, -g],
            [g, 0, -1], [g, 0, 1], [-g, 0, -1], [-g, 0, 1],
        ],
        dtype=np.float64,
    )  # fmt: skip
    faces = np.array(
        [
            [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
            [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
            [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
            [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
        ],
        dtype=np.int64,
    )  # fmt: skip
    vertices /= np.linalg.norm(vertices, axis=1, keepdims=True)
    for _ in range(subdivisions):
        # Edges (ab, bc, ca) of every face; each unique edge gets one new midpoint vertex,
        # numbered after the existing vertices in np.unique's (sorted) order.
        edges = np.stack([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=1)
        unique, inverse = np.unique(
            np.sort(edges.reshape(-1, 2), axis=1), axis=0, return_inverse=True
        )
        midpoints = vertices[unique].sum(axis=1)
        midpoints /= np.linalg.norm(midpoints, axis=1, keepdims=True)
        mid = inverse.reshape(-1, 3) + len(vertices)
        a, b, c = faces.T
        ab, bc, ca = mid.T
        faces = np.concatenate(
            [np.stack(t, axis=1) for t in ((a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca))]
        )
        vertices = np.concatenate([vertices, midpoints])
    return vertices, faces


def _bump(
    azimuth: np.ndarray,
    elevation: np.ndarray,
    centre: tuple[float, float],
    width: tuple[float, float],
) -> np.ndarray:
    """Gaussian of the (azimuth, elevation) angles of unit directions, peak 1 at ``centre``.

    Angles in radians; azimuth = atan2(x, z) (0 straight ahead, > 0 towards the subject's
    left), elevation = asin(y).
    """
    d_az = np.angle(np.exp(1j * (azimuth - centre[0])))  # wrapped to [-pi, pi]
    return np.exp(-0.5 * ((d_az / width[0]) ** 2 + ((elevation - centre[1]) / width[1]) ** 2))


@dataclass(frozen=True)
class _Shape:
    """The seeded parameters of one synthetic head (mm and radians)."""

    scale: float  # overall size factor
    nose: float  # nose height factor
    nose_shift: float  # nose azimuth, rad (> 0: towards the subject's left)
    widen_left: float  # relative widening of the left half of the head
    right_ear: float  # size factor of the right ear (the left one is 1)

    @classmethod
    def from_rng(cls, rng: np.random.Generator) -> _Shape:
        u = rng.uniform(-1.0, 1.0, size=5)
        return cls(
            scale=1.0 + 0.05 * u[0],
            nose=1.0 + 0.15 * u[1],
            nose_shift=0.035 + 0.015 * u[2],
            widen_left=0.05 + 0.02 * u[3],
            right_ear=1.3 + 0.1 * u[4],
        )


# Landmark positions as (azimuth, elevation) of the direction from the head centre, rad.
# nose_tip is not listed: it is the most protruding nose vertex.
_LANDMARK_DIRECTIONS = {
    "right_eye": (-0.36, 0.15),
    "left_eye": (0.36, 0.15),
    "nose_base": (0.0, -0.21),  # azimuth offset by the nose shift
    "right_lips": (-0.21, -0.36),
    "left_lips": (0.21, -0.36),
}


def synthetic_scene_id(seed: int = 0, index: int = 0) -> str:
    """Scene id of scene ``index`` of the synthetic release ``seed``: 16 lowercase hex digits.

    The ids start with '0000', which no official H3DS scene id does.
    """
    digest = hashlib.sha256(f"h3ds-hf synthetic scene {seed} {index}".encode()).hexdigest()
    return "0000" + digest[:12]


def _rng(seed: int, index: int, purpose: str) -> np.random.Generator:
    """Independent generator per (release seed, scene index, purpose)."""
    tag = int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:4], "little")
    return np.random.default_rng([seed, index, tag])


def synthetic_ground_truth(seed: int = 0, *, index: int = 0, subdivisions: int = 5) -> GroundTruth:
    """Ground truth of scene ``index`` of the synthetic release ``seed``.

    The head is a star-shaped deformation of an icosphere (so it is closed, manifold and never
    self-intersecting): an ellipsoid about 150 mm wide (x), 200 mm tall (y) and 190 mm deep (z)
    centred at the origin, with Gaussian bumps for nose, brow, cheeks, lips, chin and ears and
    hollows for the eyes. The left half is wider, the nose leans to the left and the right ear
    is larger, so no reflection maps the head onto itself. The seed varies the size, the nose
    and the asymmetry slightly.

    Args:
        seed: release seed.
        index: scene index within the release (each index is a different head).
        subdivisions: icosphere subdivisions; the mesh has 10 * 4**s + 2 vertices:
            4 -> 2,562, 5 -> 10,242 (default), 6 -> 40,962, 7 -> 163,842 (benchmark size).

    Returns:
        A :class:`GroundTruth` with vertices (N, 3) float64 mm, faces (2N - 4, 3) int64,
        the 6 landmarks and the regions 'face' (front of the head with ears and neck),
        'face_sphere' (vertices within 95 mm of the nose tip) and 'nose'.
    """
    if subdivisions < 3:
        raise ValueError("subdivisions must be at least 3 for the face to be resolved")
    shape = _Shape.from_rng(_rng(seed, index, "shape"))
    directions, faces = _icosphere(subdivisions)
    x, y, z = directions.T
    azimuth, elevation = np.arctan2(x, z), np.arcsin(np.clip(y, -1.0, 1.0))

    # Ellipsoid radius along each direction; the left half (x > 0) is a little wider.
    half_width = 75.0 * (1.0 + shape.widen_left * np.tanh(4.0 * x))
    radius = 1.0 / np.sqrt((x / half_width) ** 2 + (y / 100.0) ** 2 + (z / 95.0) ** 2)

    def bump(az: float, el: float, w_az: float, w_el: float) -> np.ndarray:
        return _bump(azimuth, elevation, (az, el), (w_az, w_el))

    nose = shape.nose * (
        16.0 * bump(shape.nose_shift, -0.02, 0.075, 0.10)
        + 10.0 * bump(shape.nose_shift, -0.10, 0.06, 0.06)
    )
    radius = radius + nose
    radius += 6.0 * bump(0.0, 0.28, 0.45, 0.07)  # brow ridge
    radius -= 7.0 * (bump(-0.36, 0.15, 0.10, 0.08) + bump(0.36, 0.15, 0.10, 0.08))  # eyes
    radius += 5.0 * bump(-0.55, -0.08, 0.16, 0.12)  # right cheekbone only: asymmetry
    radius += 5.0 * bump(0.0, -0.36, 0.22, 0.06)  # lips
    radius += 8.0 * bump(0.0, -0.60, 0.20, 0.10)  # chin
    radius += 14.0 * shape.right_ear * bump(-np.pi / 2 - 0.05, 0.0, 0.10, 0.16)  # right ear
    radius += 14.0 * bump(np.pi / 2 + 0.05, 0.02, 0.10, 0.16)  # left ear
    radius += 8.0 * bump(2.3, 0.35, 0.35, 0.30)  # a bun of hair at the back left
    vertices = directions * radius[:, None]
    # Neck: stretch the lower half down and narrow it below the chin. The map
    # (x, y, z) -> (s(y) x, y, s(y) z) with s > 0 keeps the surface free of self-intersections.
    vertices[:, 1] *= np.where(vertices[:, 1] < 0.0, 1.12, 1.0)
    narrowing = 1.0 - 0.35 / (1.0 + np.exp((vertices[:, 1] + 80.0) / 8.0))
    vertices[:, [0, 2]] *= narrowing[:, None]
    vertices *= shape.scale

    nose_region = np.flatnonzero(nose > 0.08 * nose.max())
    landmarks = {"nose_tip": int(nose_region[np.argmax(vertices[nose_region, 2])])}
    for name, (az, el) in _LANDMARK_DIRECTIONS.items():
        az_name = az + shape.nose_shift if name == "nose_base" else az
        target = np.array([np.cos(el) * np.sin(az_name), np.sin(el), np.cos(el) * np.cos(az_name)])
        landmarks[name] = int(np.argmax(directions @ target))
    distance_to_tip = np.linalg.norm(vertices - vertices[landmarks["nose_tip"]], axis=1)
    regions = {
        # Generous front part: face, ears (|azimuth| ~ 90 degrees) and neck, no scalp or back.
        "face": np.flatnonzero((z > -0.25) & (y < 0.5)).astype(np.int64),
        "face_sphere": np.flatnonzero(distance_to_tip <= FACE_SPHERE_RADIUS).astype(np.int64),
        "nose": nose_region.astype(np.int64),
    }
    return GroundTruth(
        scene_id=synthetic_scene_id(seed, index),
        vertices=vertices,
        faces=faces,
        landmarks={name: landmarks[name] for name in LANDMARK_NAMES},
        regions=regions,
    )


# --------------------------------------------------------------------------------------------
# Cameras


@dataclass(frozen=True)
class SyntheticCameras:
    """Cameras of one synthetic scene, IDR convention (world = GT mesh frame, mm).

    Attributes:
        world_mats: (V, 4, 4) float64; top 3x4 rows = P = K [R | t] maps world points to
            homogeneous pixels (OpenCV camera: x right, y down, z forward; pixel centres at
            integer coordinates); last row [0, 0, 0, 1].
        scale_mats: (V, 4, 4) float64, identical for all views: maps the unit sphere onto a
            sphere enclosing the head, so inv(scale_mat) normalises the head into it.
        intrinsics: (V, 3, 3) float64 K (positive focal lengths, zero skew, K[2, 2] = 1).
        rotations: (V, 3, 3) float64 world-to-camera R, det +1.
        centres: (V, 3) float64 camera centres, mm.
    """

    world_mats: np.ndarray
    scale_mats: np.ndarray
    intrinsics: np.ndarray
    rotations: np.ndarray
    centres: np.ndarray

    @property
    def azimuths(self) -> np.ndarray:
        """(V,) azimuth of each camera centre around the y axis, rad (0 = in front)."""
        return np.arctan2(self.centres[:, 0], self.centres[:, 2])


def synthetic_cameras(
    vertices: np.ndarray,
    views: int,
    image_size: tuple[int, int] = (96, 128),
    *,
    seed: int = 0,
    index: int = 0,
) -> SyntheticCameras:
    """Cameras on an arc around the head, looking at it, like a hand-held capture.

    The views sweep the azimuth from -150 to +150 degrees (view 0 at the subject's right
    side and back, increasing towards the left), with a seeded jitter of elevation (about
    -15 to +25 degrees), distance, roll and aim.

    Args:
        vertices: (N, 3) float64 head vertices, mm (for the enclosing sphere).
        views: number of cameras V.
        image_size: (width, height) in pixels.
        seed, index: release seed and scene index (the jitter depends on them).
    """
    width, height = image_size
    rng = _rng(seed, index, "cameras")
    centre = 0.5 * (vertices.min(axis=0) + vertices.max(axis=0))
    radius = 1.1 * float(np.linalg.norm(vertices - centre, axis=1).max())
    scale_mat = np.diag([radius, radius, radius, 1.0])
    scale_mat[:3, 3] = centre

    span = np.deg2rad(150.0)
    azimuth = np.linspace(-span, span, views) if views > 1 else np.zeros(1)
    azimuth = azimuth + rng.uniform(-0.03, 0.03, views)
    elevation = np.deg2rad(5.0 + 12.0 * np.sin(2.4 * np.arange(views)) + rng.uniform(-3, 3, views))
    distance = _CAMERA_DISTANCE * (1.0 + rng.uniform(-0.04, 0.04, views))
    roll = np.deg2rad(rng.uniform(-3.0, 3.0, views))
    aim = centre + rng.uniform(-5.0, 5.0, (views, 3))

    focal = _FOCAL_FACTOR * width * (1.0 + rng.uniform(-0.02, 0.02))
    intrinsic = np.array(
        [[focal, 0.0, width / 2.0 - 0.5], [0.0, focal, height / 2.0 - 0.5], [0.0, 0.0, 1.0]]
    )
    centres = aim + distance[:, None] * np.stack(
        [
            np.cos(elevation) * np.sin(azimuth),
            np.sin(elevation),
            np.cos(elevation) * np.cos(azimuth),
        ],
        axis=1,
    )
    forward = aim - centres
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    right = np.cross(forward, [0.0, 1.0, 0.0])  # image x: right when y is up and z forward
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    down = np.cross(forward, right)  # image y points down (OpenCV)
    cos_r, sin_r = np.cos(roll)[:, None], np.sin(roll)[:, None]
    right, down = cos_r * right + sin_r * down, cos_r * down - sin_r * right
    rotations = np.stack([right, down, forward], axis=1)  # rows: camera axes in world
    translations = -np.einsum("vij,vj->vi", rotations, centres)
    world_mats = np.tile(np.eye(4), (views, 1, 1))
    world_mats[:, :3, :3] = intrinsic @ rotations
    world_mats[:, :3, 3] = translations @ intrinsic.T
    return SyntheticCameras(
        world_mats=world_mats,
        scale_mats=np.tile(scale_mat, (views, 1, 1)),
        intrinsics=np.tile(intrinsic, (views, 1, 1)),
        rotations=rotations,
        centres=centres,
    )


def turned_camera(world_mat: np.ndarray, intrinsic: np.ndarray, degrees: float) -> np.ndarray:
    """The projection of a camera turned by ``degrees`` about its own vertical (image y) axis,
    its centre and intrinsics kept: a calibration error of that size.

    Args:
        world_mat: (4, 4) P = K [R | t]; intrinsic: (3, 3) its K.

    Returns:
        (4, 4) float64 K Q K^-1 P, Q the rotation about the camera's y axis.
    """
    angle = np.deg2rad(degrees)
    turn = np.array(
        [[np.cos(angle), 0.0, np.sin(angle)], [0.0, 1.0, 0.0], [-np.sin(angle), 0.0, np.cos(angle)]]
    )
    turned = np.array(world_mat, dtype=np.float64)
    turned[:3] = intrinsic @ turn @ np.linalg.solve(intrinsic, turned[:3])
    return turned


# --------------------------------------------------------------------------------------------
# Rendering


def _albedo(directions: np.ndarray) -> np.ndarray:
    """(M, 3) float64 RGB in [0, 1] of faces whose centroids lie along the unit ``directions``
    (M, 3) from the head centre: skin, hair on the scalp and at the back, red lips."""
    x, y, z = directions.T
    colour = np.tile([0.87, 0.68, 0.58], (len(directions), 1))
    colour[(y > 0.45) | ((z < -0.2) & (y > -0.5))] = [0.30, 0.20, 0.13]
    colour[(np.abs(x) < 0.2) & (np.abs(y + 0.35) < 0.05) & (z > 0.8)] = [0.75, 0.35, 0.35]
    return colour


@dataclass(frozen=True)
class _Surface:
    """View-independent per-face data of a mesh, computed once per scene.

    Attributes: vertices (N, 3) mm; faces (M, 3); normals (M, 3) unit outward; centroids
    (M, 3) mm; albedo (M, 3) RGB in [0, 1].
    """

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    centroids: np.ndarray
    albedo: np.ndarray

    @classmethod
    def of(cls, vertices: np.ndarray, faces: np.ndarray) -> _Surface:
        a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
        normals = np.cross(b - a, c - a)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        centroids = (a + b + c) / 3.0
        directions = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
        return cls(vertices, faces, normals, centroids, _albedo(directions))


def _background(width: int, height: int, view: int) -> np.ndarray:
    """(H, W, 3) float64 deterministic textured backdrop in [0, 1], varying with the view."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    wave = np.sin(xx / 5.0 + 0.7 * view) * np.cos(yy / 7.0 - 0.3 * view)
    base = 0.45 + 0.25 * yy / max(height - 1, 1)
    return np.clip(np.stack([base + 0.08 * wave, base + 0.05, base + 0.15 - 0.08 * wave], -1), 0, 1)


def render_view(
    vertices: np.ndarray,
    faces: np.ndarray,
    world_mat: np.ndarray,
    centre: np.ndarray,
    image_size: tuple[int, int],
    view: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one view: a Lambert-shaded head over a textured backdrop, and its silhouette.

    Args:
        vertices: (N, 3) float64 mm; faces: (M, 3) int64, outward (counter-clockwise) and
            closed (the silhouette is drawn from the front faces only).
        world_mat: (4, 4) or (3, 4) P = K [R | t]; centre: (3,) camera centre, mm.
        image_size: (width, height); view: view index (varies the backdrop).

    Returns:
        image (H, W, 3) uint8 RGB and mask (H, W) uint8 (255 = head, 0 = background): the
        mask is on exactly at the pixel centres covered by the projected mesh.
    """
    return _render(_Surface.of(vertices, faces), world_mat, centre, image_size, view)


def _render(
    surface: _Surface,
    world_mat: np.ndarray,
    centre: np.ndarray,
    image_size: tuple[int, int],
    view: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`render_view` with the view-independent face data precomputed."""
    width, height = image_size
    pixels, depth = project(world_mat, surface.vertices)
    to_camera = centre - surface.centroids
    to_camera /= np.linalg.norm(to_camera, axis=1, keepdims=True)
    facing = np.einsum("ij,ij->i", surface.normals, to_camera)
    front = np.flatnonzero(facing > 0)  # a closed mesh's silhouette is its front faces' union
    raster = rasterize(pixels, depth, surface.faces[front], width, height)
    flat = np.flatnonzero(raster.covered)
    visible = front[raster.faces.reshape(-1)[flat]]

    mask = np.zeros(height * width, dtype=np.uint8)
    mask[flat] = 255
    image = _background(width, height, view).reshape(-1, 3)
    shade = 0.3 + 0.7 * facing[visible]  # head-light Lambert shading
    image[flat] = surface.albedo[visible] * shade[:, None]
    rgb = np.round(255.0 * image).astype(np.uint8).reshape(height, width, 3)
    return rgb, mask.reshape(height, width)


# --------------------------------------------------------------------------------------------
# Release writing


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (stored zip of .npy members) with fixed member times, unlike np.savez."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(name + ".npy", _NPZ_DATE_TIME), member.getvalue())
    return buffer.getvalue()


def _views_configs(cameras: SyntheticCameras) -> dict[str, list[int]]:
    """Default views configs chosen like the official ones: frontal views first, nested.

    Views are picked for target azimuths in a fixed priority (front, +-50, +-25, +-90, back);
    "n" takes the first n picks for n <= 8 ("4" takes the four side picks, as the official
    4-view configs skip the frontal view), and "16"/"32" extend "8" by farthest-point
    sampling of the camera directions. So 1 < 3 < 6 < 8 < 16 < 32 and 4 < 8, as subsets.
    """
    views = len(cameras.centres)
    unit = cameras.centres / np.linalg.norm(cameras.centres, axis=1, keepdims=True)
    picks: list[int] = []
    for target in np.deg2rad([0, -50, 50, -25, 25, 90, -90, 180]):
        if len(picks) == views:
            break
        gap = np.abs(np.angle(np.exp(1j * (cameras.azimuths - target))))
        gap[picks] = np.inf
        picks.append(int(np.argmin(gap)))
    ordered = list(picks)
    while len(ordered) < views:
        nearest = np.max(unit @ unit[ordered].T, axis=1)  # cosine to the closest chosen view
        nearest[ordered] = np.inf
        ordered.append(int(np.argmin(nearest)))
    configs = {}
    for size in VIEWS_CONFIG_SIZES:
        if size <= views:
            chosen = ordered[1:5] if size == 4 and views >= 5 else ordered[:size]
            configs[str(size)] = sorted(chosen)
    return configs


def _catalog_text(
    scenes: list[tuple[str, tuple[str, ...], int, dict[str, list[int]]]], md5: str
) -> str:
    """The catalog in the reference's TOML shape (version, file_md5, [scenes.<id>] ...)."""
    lines = [f'version = "{SYNTHETIC_VERSION}"', f'file_md5 = "{md5}"', "", "[scenes]"]
    for scene_id, tags, views, configs in scenes:
        lines.append(f"    [scenes.{scene_id}]")
        lines.append("    tags = [" + ",".join(f"'{t}'" for t in tags) + "]")
        lines.append(f"    views = {views}")
        lines.append(f"        [scenes.{scene_id}.default_views_configs]")
        lines += [f"        {key} = {value}" for key, value in configs.items()]
        lines.append("")
    return "\n".join(lines)


#: Texture image size (width, height) of the textured variant: small, still readable.
TEXTURE_SIZE = (64, 32)


def synthetic_texture(
    vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Image.Image]:
    """UVs and texture image of a synthetic head: an equirectangular map of its albedo.

    A vertex along direction (x, y, z) from the head centre gets u = 1/2 + atan2(x, z) / 2 pi,
    v = 1/2 + asin(y) / pi. The ``vt`` list is written in reverse vertex order, so that the
    faces' UV indices differ from their vertex indices (as in real scans, where they do).

    Returns:
        uvs: (N, 2) float64 in [0, 1]; face_uvs: (M, 3) int64 into ``uvs``; the (64 x 32)
        RGB texture image.
    """
    directions = vertices / np.linalg.norm(vertices, axis=1, keepdims=True)
    u = 0.5 + np.arctan2(directions[:, 0], directions[:, 2]) / (2 * np.pi)
    v = 0.5 + np.arcsin(np.clip(directions[:, 1], -1, 1)) / np.pi
    uvs = np.column_stack([u, v])[::-1].copy()
    face_uvs = len(vertices) - 1 - np.asarray(faces, dtype=np.int64)
    width, height = TEXTURE_SIZE
    azimuth = ((np.arange(width) + 0.5) / width - 0.5) * 2 * np.pi
    elevation = ((height - np.arange(height) - 0.5) / height - 0.5) * np.pi  # row 0: v = 1
    az, el = np.meshgrid(azimuth, elevation)
    grid = np.stack([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)], axis=-1)
    rgb = _albedo(grid.reshape(-1, 3)).reshape(height, width, 3)
    return uvs, face_uvs, Image.fromarray(np.round(rgb * 255).astype(np.uint8), "RGB")


def _write_scene(
    folder: Path,
    ground_truth: GroundTruth,
    cameras: SyntheticCameras,
    image_size: tuple[int, int],
    world_mats: np.ndarray,
    textured: bool = False,
) -> None:
    """Write one scene's raw layout into ``folder`` (which must exist): photos and masks seen
    by ``cameras``, and ``world_mats`` (V, 4, 4) as its calibration; with ``textured``, the
    OBJ has UVs and a material whose ``full_head.png`` is the texture."""
    if textured:
        uvs, face_uvs, texture = synthetic_texture(ground_truth.vertices, ground_truth.faces)
        obj = textured_obj_bytes(
            ground_truth.vertices,
            ground_truth.faces,
            uvs,
            face_uvs,
            material_library="full_head.mtl",
            material="material_0",
        )
        (folder / "full_head.mtl").write_text("newmtl material_0\nKd 1 1 1\nmap_Kd full_head.png\n")
        texture.save(folder / "full_head.png", format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
    else:
        obj = obj_bytes(ground_truth.vertices, ground_truth.faces)
    (folder / "full_head.obj").write_bytes(obj)
    landmarks = "".join(f"{name} {ground_truth.landmarks[name]}\n" for name in LANDMARK_NAMES)
    (folder / "landmarks.txt").write_text(landmarks)
    (folder / "regions").mkdir()
    for name, indices in ground_truth.regions.items():
        (folder / "regions" / f"{name}.txt").write_text("".join(f"{i}\n" for i in indices))
    arrays = {}
    for view in range(len(cameras.world_mats)):
        arrays[f"world_mat_{view}"] = world_mats[view]
        arrays[f"scale_mat_{view}"] = cameras.scale_mats[view]
    (folder / "cameras.npz").write_bytes(_npz_bytes(arrays))
    (folder / "image").mkdir()
    (folder / "mask").mkdir()
    surface = _Surface.of(ground_truth.vertices, ground_truth.faces)
    for view in range(len(cameras.world_mats)):
        rgb, mask = _render(
            surface, cameras.world_mats[view], cameras.centres[view], image_size, view
        )
        Image.fromarray(rgb, "RGB").save(
            folder / "image" / f"img_{view:04d}.jpg", format="JPEG", quality=_JPEG_QUALITY
        )
        Image.fromarray(mask, "L").save(
            folder / "mask" / f"mask_{view:04d}.png",
            format="PNG",
            compress_level=_PNG_COMPRESS_LEVEL,
        )


def _is_synthetic_release(folder: Path) -> bool:
    """Whether ``folder`` holds a release written by this module (safe to replace)."""
    version = folder / "version.txt"
    return version.is_file() and version.read_text().startswith("synthetic-")


def write_synthetic_release(
    root: str | os.PathLike[str],
    *,
    scenes: int = 3,
    views: int | Sequence[int] = 34,
    image_size: tuple[int, int] = (96, 128),
    seed: int = 0,
    subdivisions: int = 5,
    catalog_path: str | os.PathLike[str] | None = None,
    zip_path: str | os.PathLike[str] | None = None,
    password: str | None = None,
    top_folder: str | None = None,
    turned_view: tuple[int, int, float] | None = None,
    textured: bool = False,
) -> Path:
    """Write a synthetic release in the official raw layout, and its catalog.

    Layout under ``root``: ``version.txt`` ("synthetic-0.1"), and per scene
    ``<scene_id>/full_head.obj``, ``image/img_%04d.jpg``, ``mask/mask_%04d.png`` (mode 'L',
    255 = head silhouette), ``cameras.npz`` (``world_mat_<i>``, ``scale_mat_<i>``, float64
    4x4), ``landmarks.txt`` and ``regions/{face,face_sphere,nose}.txt``. Scene ``i`` is
    ``synthetic_ground_truth(seed, index=i, subdivisions=...)`` seen by
    ``synthetic_cameras(vertices, views_i, image_size, seed=seed, index=i)``.

    The catalog (reference TOML shape: version, file_md5, per scene tags, views and default
    views configs) goes next to the folder, at ``root.parent / "catalog.toml"`` unless
    ``catalog_path`` says otherwise: outside the folder, so the folder has exactly the release
    layout and the packed archive's md5 can be recorded in the catalog. Scene 0 and every
    third scene are tagged 'h3d-net'; all scenes are tagged 'sira++'.

    Writing is atomic (a temporary sibling folder renamed at the end). An existing synthetic
    release at ``root`` is replaced; anything else there raises :class:`OutputExistsError`.

    Args:
        root: the release folder to write.
        scenes: number of scenes.
        views: views per scene, one count for all scenes or one per scene; views configs
            "1" .. "32" are written for the sizes a scene's view count allows.
        image_size: (width, height) in pixels; portrait like the real photos (~1512x2016).
        seed: release seed; the same seed gives byte-identical files.
        subdivisions: mesh resolution (see :func:`synthetic_ground_truth`).
        catalog_path: where to write the catalog (default: next to ``root``).
        zip_path: also pack the release into this ZIP (members under ``top_folder`` if
            given), ZipCrypto-encrypted with ``password`` if given, deterministic bytes; the
            catalog's file_md5 is then the archive's md5 (else it is "").
        password: the archive password (only with ``zip_path``); never logged or written.
        top_folder: folder name inside the archive holding the release (default: root).
        turned_view: (scene index, view, degrees): that view's photo and mask are taken by
            the true camera but its ``world_mat`` is written turned by ``degrees`` about the
            camera's vertical axis (see :func:`turned_camera`), a bad calibration for
            ``h3ds-hf check`` to find.
        textured: write each ``full_head.obj`` with UVs (``vt``, ``f v/vt``) and a material,
            ``full_head.mtl``, whose ``map_Kd`` is ``full_head.png`` (see
            :func:`synthetic_texture`), as the textured v2 release ships its scans.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    counts = [views] * scenes if isinstance(views, int) else [int(v) for v in views]
    if len(counts) != scenes or min(counts, default=1) < 1:
        raise ValueError("views must be a positive count or one positive count per scene")
    if scenes < 1:
        raise ValueError("scenes must be at least 1")
    if root.exists() and not _is_synthetic_release(root):
        raise OutputExistsError(f"{root} exists and is not a synthetic H3DS release")
    catalog = Path(catalog_path) if catalog_path is not None else root.parent / CATALOG_NAME
    root.parent.mkdir(parents=True, exist_ok=True)
    catalog.parent.mkdir(parents=True, exist_ok=True)

    staging = staging_folder(root)
    try:
        (staging / "version.txt").write_text(SYNTHETIC_VERSION + "\n")
        entries = []
        for index, count in enumerate(counts):
            ground_truth = synthetic_ground_truth(seed, index=index, subdivisions=subdivisions)
            cameras = synthetic_cameras(
                ground_truth.vertices, count, image_size, seed=seed, index=index
            )
            world_mats = cameras.world_mats.copy()
            if turned_view is not None and turned_view[0] == index:
                _, view, degrees = turned_view
                world_mats[view] = turned_camera(
                    world_mats[view], cameras.intrinsics[view], degrees
                )
            scene_folder = staging / ground_truth.scene_id
            scene_folder.mkdir()
            _write_scene(scene_folder, ground_truth, cameras, image_size, world_mats, textured)
            tags = ("h3d-net", "sira++") if index % 3 == 0 else ("sira++",)
            entries.append((ground_truth.scene_id, tags, count, _views_configs(cameras)))
            logger.debug("wrote synthetic scene %s (%d views)", ground_truth.scene_id, count)
        replace_folder(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    md5 = ""
    if zip_path is not None:
        archive = pack_zip(root, zip_path, password, top_folder=top_folder, deterministic=True)
        digest = hashlib.md5()
        with archive.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        md5 = digest.hexdigest()
    atomic_write_text(catalog, _catalog_text(entries, md5))
    return root
