"""Validated reading of a raw H3DS release (folder or zip) into arrays.

Layout, per scene: ``full_head.obj`` (mm), ``image/img_%04d.jpg``, ``mask/mask_%04d.png``,
``cameras.npz`` (``world_mat_i``, ``scale_mat_i``), ``landmarks.txt`` ("name vertex_index"
lines) and ``regions/{face,face_sphere,nose}.txt`` (one vertex index per line); plus
``version.txt`` at the root. Every file is checked before use: a malformed one raises
:class:`MalformedFileError` naming it, a missing one :class:`MissingFileError`.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

import numpy as np

from h3ds_hf.errors import (
    CatalogError,
    ChecksumError,
    MalformedFileError,
    MissingFileError,
    UnknownRegionError,
    get_logger,
)
from h3ds_hf.release.catalog import Catalog, catalog_for_version, load_catalog
from h3ds_hf.release.obj import ObjAttributes, read_mtl_textures, read_obj, read_obj_attributes
from h3ds_hf.release.sources import FolderSource, Source, ZipSource, file_md5, open_source
from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES, GroundTruth

logger = get_logger(__name__)

#: Readers of the .npy headers numpy writes, by format version.
_NPY_HEADERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
#: A vertex index as landmarks.txt writes it.
_INDEX = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Cameras:
    """All cameras of a scene, as stored in ``cameras.npz``.

    Attributes:
        world_mats: (V, 4, 4) float64 projections P = K [R | t] (top 3x4), mm -> pixels.
        scale_mats: (V, 4, 4) float64 unit-sphere -> mm similarities (IDR convention).
    """

    world_mats: np.ndarray
    scale_mats: np.ndarray


@dataclass(frozen=True)
class SceneView:
    """One view of a scene as published: its files' bytes and its camera.

    Attributes:
        index: the view's index in the scene (``img_%04d.jpg``).
        image: the JPEG bytes as stored (never re-encoded), or None when not asked for.
        mask: the PNG bytes of the foreground mask (255 = head).
        world_mat: (4, 4) float64 projection P = K [R | t] (top 3x4), mm -> pixels.
        scale_mat: (4, 4) float64 unit-sphere -> mm similarity.
    """

    index: int
    image: bytes | None
    mask: bytes
    world_mat: np.ndarray
    scale_mat: np.ndarray


@dataclass(frozen=True)
class Texture:
    """A texture image of a GT mesh.

    Attributes:
        name: its path in the release (e.g. '<scene>/full_head.png').
        data: the file's bytes (PNG or JPEG), undecoded.
    """

    name: str
    data: bytes


class Release:
    """A raw H3DS release checked against its catalog.

    Args:
        source: where the files are (see :func:`open_release` to open one from a path).
        catalog: the scenes the release must hold.
    """

    def __init__(self, source: Source, catalog: Catalog) -> None:
        self.source = source
        self.catalog = catalog
        self._digests: dict[str, str] = {}  # file name -> sha256 of the bytes last read

    @property
    def description(self) -> str:
        """Where the release is read from (folder or archive path)."""
        return self.source.description

    @property
    def version(self) -> str:
        """The content of ``version.txt`` (e.g. '0.4')."""
        return self.source.read_bytes("version.txt").decode("utf-8", "replace").strip()

    # -- file names ------------------------------------------------------------------------
    @staticmethod
    def mesh_name(scene_id: str) -> str:
        return f"{scene_id}/full_head.obj"

    @staticmethod
    def image_name(scene_id: str, view: int) -> str:
        return f"{scene_id}/image/img_{view:04d}.jpg"

    @staticmethod
    def mask_name(scene_id: str, view: int) -> str:
        return f"{scene_id}/mask/mask_{view:04d}.png"

    @staticmethod
    def cameras_name(scene_id: str) -> str:
        return f"{scene_id}/cameras.npz"

    @staticmethod
    def landmarks_name(scene_id: str) -> str:
        return f"{scene_id}/landmarks.txt"

    @staticmethod
    def region_name(scene_id: str, region_id: str) -> str:
        return f"{scene_id}/regions/{region_id}.txt"

    def scene_files(self, scene_id: str) -> list[str]:
        """Every file the layout requires for one scene."""
        views = range(self.catalog.scene(scene_id).views)
        return [
            self.mesh_name(scene_id),
            self.cameras_name(scene_id),
            self.landmarks_name(scene_id),
            *(self.region_name(scene_id, region) for region in REGION_NAMES),
            *(self.image_name(scene_id, view) for view in views),
            *(self.mask_name(scene_id, view) for view in views),
        ]

    def missing(self, scene_ids: list[str] | None = None) -> list[str]:
        """Paths (relative to the root) the catalog expects and the source lacks."""
        present = self.source.names()
        expected = ["version.txt"]
        for scene_id in scene_ids if scene_ids is not None else self.catalog.scene_ids():
            expected.extend(self.scene_files(scene_id))
        return [name for name in expected if name not in present]

    # -- contents --------------------------------------------------------------------------
    def mesh(self, scene_id: str) -> tuple[np.ndarray, np.ndarray]:
        """GT mesh: (N, 3) float64 vertices in mm (file order) and (M, 3) int64 faces."""
        self.catalog.scene(scene_id)
        name = self.mesh_name(scene_id)
        return read_obj(self._read(name), name=name)

    def mesh_attributes(self, scene_id: str, polygons: str = "fan") -> ObjAttributes:
        """GT mesh with its texture coordinates, normals, vertex colours and material names
        (see :func:`~h3ds_hf.release.obj.read_obj_attributes`)."""
        self.catalog.scene(scene_id)
        name = self.mesh_name(scene_id)
        return read_obj_attributes(self.source.read_bytes(name), name=name, polygons=polygons)

    def texture(self, scene_id: str, attributes: ObjAttributes) -> Texture | None:
        """The texture image the GT mesh's ``mtllib`` / ``map_Kd`` name, if the scene folder
        has it (the material ``usemtl`` selects, else the library's first); None otherwise.

        The names come from the files: one that would leave the scene folder is refused.
        """
        if attributes.material_library is None:
            return None
        library = self._scene_file(scene_id, attributes.material_library)
        try:
            textures = read_mtl_textures(self.source.read_bytes(library))
        except MissingFileError:
            logger.warning("%s names %s, which is absent", self.mesh_name(scene_id), library)
            return None
        image = textures.get(attributes.material or "") or next(iter(textures.values()), None)
        if image is None:
            return None
        # map_Kd names are relative to the .mtl file's folder.
        name = self._scene_file(
            scene_id, str(PurePosixPath(library).parent.relative_to(scene_id) / image)
        )
        try:
            return Texture(name=name, data=self.source.read_bytes(name))
        except MissingFileError:
            logger.warning("%s names texture %s, which is absent", library, name)
            return None

    def _scene_file(self, scene_id: str, relative: str) -> str:
        """``scene_id/relative`` as a release path; MalformedFileError if it would leave the
        scene folder (absolute, '..', a drive)."""
        pure = PurePosixPath(relative.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or ":" in relative or not pure.parts:
            raise MalformedFileError(
                f"{self.mesh_name(scene_id)}: {relative!r} is outside the scene folder"
            )
        return f"{scene_id}/{pure.as_posix()}"

    def landmarks(self, scene_id: str, n_vertices: int | None = None) -> dict[str, int]:
        """Landmark name -> GT vertex index, for the six H3DS landmarks."""
        self.catalog.scene(scene_id)
        name = self.landmarks_name(scene_id)
        text = self._read(name).decode("utf-8-sig", "replace")
        landmarks: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            # ASCII digits only ('²'.isdigit() is True), one optional sign, int64 range.
            if len(fields) != 2 or not _INDEX.fullmatch(fields[1]) or len(fields[1]) > 18:
                raise MalformedFileError(f"{name}:{number}: expected 'name vertex_index'")
            if fields[0] in landmarks:
                raise MalformedFileError(f"{name}:{number}: landmark {fields[0]} given twice")
            landmarks[fields[0]] = int(fields[1])
        missing = [landmark for landmark in LANDMARK_NAMES if landmark not in landmarks]
        if missing:
            raise MalformedFileError(f"{name}: missing landmark(s) {', '.join(missing)}")
        _check_indices(np.fromiter(landmarks.values(), dtype=np.int64), n_vertices, name)
        return landmarks

    def region(self, scene_id: str, region_id: str, n_vertices: int | None = None) -> np.ndarray:
        """(K,) int64 GT vertex indices of a region ('face', 'face_sphere' or 'nose')."""
        if region_id not in REGION_NAMES:
            raise UnknownRegionError(
                f"unknown region {region_id!r} (known: {', '.join(REGION_NAMES)})"
            )
        self.catalog.scene(scene_id)
        name = self.region_name(scene_id, region_id)
        data = self._read(name).removeprefix(b"\xef\xbb\xbf")
        if not data.strip():
            raise MalformedFileError(f"{name}: expected one vertex index per line, at least one")
        try:
            indices = np.loadtxt(data.splitlines(), dtype=np.int64, ndmin=1, comments=None)
        except ValueError:
            raise MalformedFileError(
                f"{name}: expected one integer vertex index per line"
            ) from None
        if indices.ndim != 1:
            raise MalformedFileError(f"{name}: expected one vertex index per line")
        _check_indices(indices, n_vertices, name)
        return indices

    def ground_truth(self, scene_id: str) -> GroundTruth:
        """Mesh, landmarks and regions of a scene, validated together, with the sha256 of
        each file they were read from."""
        vertices, faces = self.mesh(scene_id)
        n_vertices = len(vertices)
        landmarks = self.landmarks(scene_id, n_vertices)
        regions = {r: self.region(scene_id, r, n_vertices) for r in REGION_NAMES}
        names = [self.mesh_name(scene_id), self.landmarks_name(scene_id)]
        names += [self.region_name(scene_id, r) for r in REGION_NAMES]
        return GroundTruth(
            scene_id=scene_id,
            vertices=vertices,
            faces=faces,
            landmarks=landmarks,
            regions=regions,
            inputs={name: self._digests[name] for name in names},
        )

    def _read(self, name: str) -> bytes:
        """A file's bytes, its sha256 remembered (results record what they were scored on)."""
        data = self.source.read_bytes(name)
        self._digests[name] = hashlib.sha256(data).hexdigest()
        return data

    def cameras(self, scene_id: str) -> Cameras:
        """Projection and scale matrices of every view of a scene, validated."""
        views = self.catalog.scene(scene_id).views
        name = self.cameras_name(scene_id)
        data = self.source.read_bytes(name)
        _check_npz_sizes(data, name)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                world = [_matrix(npz, f"world_mat_{view}", name) for view in range(views)]
                scale = [_matrix(npz, f"scale_mat_{view}", name) for view in range(views)]
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise MalformedFileError(f"{name}: not a readable npz archive ({error})") from None
        return Cameras(world_mats=np.stack(world), scale_mats=np.stack(scale))

    def image_bytes(self, scene_id: str, view: int) -> bytes:
        """The JPEG bytes of one photo (``view`` in [0, views))."""
        self._check_view(scene_id, view)
        return self.source.read_bytes(self.image_name(scene_id, view))

    def mask_bytes(self, scene_id: str, view: int) -> bytes:
        """The PNG bytes of one foreground mask (``view`` in [0, views))."""
        self._check_view(scene_id, view)
        return self.source.read_bytes(self.mask_name(scene_id, view))

    def views(
        self, scene_id: str, indices: Iterable[int], *, images: bool = True
    ) -> Iterator[SceneView]:
        """The views ``indices`` of a scene, read one at a time (photos only if ``images``)."""
        cameras = self.cameras(scene_id)
        for view in indices:
            yield SceneView(
                index=view,
                image=self.image_bytes(scene_id, view) if images else None,
                mask=self.mask_bytes(scene_id, view),
                world_mat=cameras.world_mats[view],
                scale_mat=cameras.scale_mats[view],
            )

    def _check_view(self, scene_id: str, view: int) -> None:
        views = self.catalog.scene(scene_id).views
        if not 0 <= view < views:
            raise MalformedFileError(f"scene {scene_id} has views 0..{views - 1}, not {view}")


def open_release(
    source: str | Path | Source,
    *,
    catalog: Catalog | None = None,
    release: str | None = None,
    catalog_path: str | Path | None = None,
    token: str | None = None,
    verify_md5: bool = True,
) -> Release:
    """Open a raw release from a folder or zip path.

    Args:
        source: extracted folder, official zip, or an already opened source.
        catalog: the scenes to expect; else ``catalog_path`` (a custom TOML), else
            ``release`` ('v1' / 'v2'), else the shipped release whose version matches
            ``version.txt``.
        token: access token for an encrypted zip; defaults to ``$H3DS_ACCESS_TOKEN``.
        verify_md5: for a zip, compare its md5 with the catalog's when the catalog has one.
    """
    opened = source if isinstance(source, FolderSource | ZipSource) else open_source(source, token)
    if catalog is None and catalog_path is not None:
        catalog = load_catalog(path=catalog_path)
    elif catalog is None and release is not None:
        catalog = load_catalog(release)
    found = Release(opened, catalog or load_catalog("v2"))
    if catalog is None:
        version = found.version
        catalog = catalog_for_version(version)
        if catalog is None:
            raise CatalogError(
                f"{opened.description} holds version {version!r}, which matches no shipped "
                "release: pass the catalog file (--catalog) that describes it"
            )
        found = Release(opened, catalog)
    if verify_md5 and isinstance(opened, ZipSource) and found.catalog.md5:
        _verify_md5(opened, found.catalog)
    return found


@lru_cache(maxsize=8)
def _archive_md5(path: Path, size: int, mtime_ns: int) -> str:
    """md5 of an archive, remembered per (path, size, mtime) within a process."""
    return file_md5(path)


def _verify_md5(source: ZipSource, catalog: Catalog) -> None:
    stat = source.path.stat()
    digest = _archive_md5(source.path.resolve(), stat.st_size, stat.st_mtime_ns)
    if digest != catalog.md5:
        raise ChecksumError(
            f"{source.path} has md5 {digest}, release {catalog.name} expects {catalog.md5}"
        )


def _check_npz_sizes(data: bytes, name: str) -> None:
    """Refuse an npz whose arrays declare more bytes than they hold, before numpy allocates
    what a header claims (a shape of 10**11 with 8 bytes of data), and object arrays."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    header = _NPY_HEADERS.get(np.lib.format.read_magic(member))
                    if header is None:
                        raise MalformedFileError(f"{name}: {info.filename} has an unknown format")
                    shape, _order, dtype = header(member)
                    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                    if dtype.hasobject or declared > info.file_size:
                        raise MalformedFileError(
                            f"{name}: array {info.filename} declares {shape} {dtype} in "
                            f"{info.file_size} bytes"
                        )
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        if isinstance(error, MalformedFileError):
            raise
        raise MalformedFileError(f"{name}: not a readable npz archive ({error})") from None


def _matrix(npz: np.lib.npyio.NpzFile, key: str, name: str) -> np.ndarray:
    if key not in npz.files:
        raise MalformedFileError(f"{name}: missing array {key}")
    matrix = np.asarray(npz[key], dtype=np.float64)
    if matrix.shape != (4, 4):
        raise MalformedFileError(f"{name}: {key} has shape {matrix.shape}, expected (4, 4)")
    if not np.isfinite(matrix).all():
        raise MalformedFileError(f"{name}: {key} is not finite")
    if abs(np.linalg.det(matrix[:3, :3])) == 0:
        raise MalformedFileError(f"{name}: {key} is singular")
    return matrix


def _check_indices(indices: np.ndarray, n_vertices: int | None, name: str) -> None:
    if indices.size and indices.min() < 0:
        raise MalformedFileError(f"{name}: negative vertex index {int(indices.min())}")
    if n_vertices is not None and indices.size and indices.max() >= n_vertices:
        raise MalformedFileError(
            f"{name}: vertex index {int(indices.max())} out of range (mesh has {n_vertices})"
        )
