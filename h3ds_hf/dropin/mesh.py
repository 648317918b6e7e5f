"""``Mesh``: the reference ``h3ds.mesh.Mesh`` API (h3ds 0.4.0) on a ``trimesh.Trimesh``.

Same attribute names, shapes and dtypes as the reference: ``vertices`` (N, 3) float64,
``faces`` (M, 3) int64, ``vertex_normals`` (K, 3) float64 as read or computed (empty, (0, 3),
until then: unlike trimesh, nothing is computed behind your back), ``vertices_color`` (N, 3)
float64 in [0, 1] or (0, 3), ``texture_coordinates`` (T, 2) float64 and ``texture_indices``
(M, 3) int64 (0-based, into ``texture_coordinates``) or empty. Plus ``texture``: the PIL image
an OBJ's ``mtllib`` / ``map_Kd`` names, or None. OBJ polygons keep their first three corners,
as the reference reads them. Being a ``trimesh.Trimesh`` (built without processing), a
``Mesh`` goes wherever trimesh meshes go; :meth:`Mesh.to_trimesh` gives a plain one with the
colours, normals and texture as trimesh visuals.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from PIL import Image

from h3ds_hf.atomic import atomic_write_bytes
from h3ds_hf.release.obj import read_mtl_textures, read_obj_attributes

logger = logging.getLogger(__name__)

#: What :meth:`Mesh.load` reads by default, named as the reference names it.
ELEMENTS = ("vertices", "vertex_normals", "faces", "uvs")


def _rows(values: Any, columns: int, dtype: type) -> np.ndarray:
    """``values`` as a C-contiguous (K, columns) array of ``dtype``; (0, columns) for None or
    an empty one."""
    array = np.ascontiguousarray([] if values is None else values, dtype=dtype)
    if array.size == 0:
        return np.empty((0, columns), dtype=dtype)
    if array.ndim != 2 or array.shape[1] != columns:
        raise ValueError(f"expected an array of shape (K, {columns}), got {array.shape}")
    return array


class Mesh(trimesh.Trimesh):
    """A triangle mesh (or point cloud: no faces) with the reference's attributes.

    Args:
        vertices: (N, 3) coordinates (mm for H3DS meshes).
        faces: (M, 3) 0-based vertex indices.
        vertex_normals: (K, 3) normals (K = N when complete).
        vertices_color: (N, 3) RGB in [0, 1].
        texture_coordinates: (T, 2) UVs.
        texture_indices: (M, 3) indices into ``texture_coordinates``, per face corner.
        texture: the texture image.

    Unlike the reference, the constructor takes the arrays, not ``(dimension, dtype)``;
    ``Mesh()`` is the reference's empty mesh.
    """

    #: The reference's constructor arguments, fixed: 3-D float64.
    dimension = 3
    dtype = float

    def __init__(
        self,
        vertices: Any = None,
        faces: Any = None,
        *,
        vertex_normals: Any = None,
        vertices_color: Any = None,
        texture_coordinates: Any = None,
        texture_indices: Any = None,
        texture: Image.Image | None = None,
    ) -> None:
        super().__init__(vertices=vertices, faces=faces, process=False, validate=False)
        self.vertex_normals = vertex_normals
        self.vertices_color = vertices_color
        self.texture_coordinates = texture_coordinates
        self.texture_indices = texture_indices
        self.texture = texture

    # trimesh computes normals when asked; the reference keeps what was read or computed.
    @property
    def vertex_normals(self) -> np.ndarray:
        """(K, 3) float64 normals as read or set, (0, 3) until then (see compute_normals)."""
        return self._reference_normals

    @vertex_normals.setter
    def vertex_normals(self, values: Any) -> None:
        self._reference_normals = _rows(values, 3, np.float64)

    @property
    def vertices_color(self) -> np.ndarray:
        """(N, 3) float64 RGB in [0, 1], (0, 3) when the mesh has no colours."""
        return self._vertices_color

    @vertices_color.setter
    def vertices_color(self, values: Any) -> None:
        self._vertices_color = _rows(values, 3, np.float64)

    @property
    def texture_coordinates(self) -> np.ndarray:
        """(T, 2) float64 UVs, (0, 2) when the mesh has none."""
        return self._texture_coordinates

    @texture_coordinates.setter
    def texture_coordinates(self, values: Any) -> None:
        self._texture_coordinates = _rows(values, 2, np.float64)

    @property
    def texture_indices(self) -> np.ndarray:
        """(M, 3) int64 indices into ``texture_coordinates`` per face corner, or (0, 3)."""
        return self._texture_indices

    @texture_indices.setter
    def texture_indices(self, values: Any) -> None:
        self._texture_indices = _rows(values, 3, np.int64)

    # ------------------------------------------------------------------ the reference's API

    def load(self, filename: str | os.PathLike[str], elements: Sequence[str] = ELEMENTS) -> Mesh:
        """Read ``filename`` into this mesh (cleared first) and return it.

        OBJ: vertices (with ``v x y z r g b`` colours), ``vn`` normals, ``vt`` UVs, faces
        (first three corners of polygons) with their UV indices, and the texture image of
        its material when the folder has it; ``elements`` restricts what is read as in the
        reference ('vertices', 'vertex_normals', 'faces', 'uvs'). Other formats (PLY, STL,
        GLB, ...) through trimesh without processing: vertices, faces, vertex colours.
        """
        path = Path(filename)
        self._clear()
        if path.suffix.lower() != ".obj":
            other = Mesh.from_trimesh(trimesh.load(path, process=False, maintain_order=True))
            self.vertices, self.faces = other.vertices, other.faces
            self.vertices_color = other.vertices_color
            return self
        obj = read_obj_attributes(path.read_bytes(), name=str(path), polygons="first")
        if "vertices" in elements:
            self.vertices = obj.vertices
            if obj.vertex_colors is not None:
                self.vertices_color = obj.vertex_colors
        if "vertex_normals" in elements:
            self.vertex_normals = obj.normals
        if "faces" in elements:
            self.faces = obj.faces
        if "uvs" in elements:
            self.texture_coordinates = obj.uvs
            if obj.face_uvs is not None:
                self.texture_indices = obj.face_uvs
            self.texture = _texture_of(path, obj.material_library, obj.material)
        return self

    def save(self, filename: str | os.PathLike[str]) -> None:
        """Write the mesh, creating missing parent folders; atomic.

        '.obj': ``v`` (with colours), ``vn``, ``vt`` and ``f v`` or ``f v/vt`` lines as the
        reference writes them, float64 values bit-exact; with a ``texture``, also
        ``<stem>.mtl`` and ``<stem>.png`` beside it, named by ``mtllib``. Other suffixes
        through trimesh (colours kept; the reference's export merged duplicate vertices);
        trimesh writes PLY coordinates as float32.
        """
        path = Path(filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() != ".obj":
            atomic_write_bytes(path, self.to_trimesh().export(file_type=path.suffix[1:].lower()))
            return
        header = []
        if self.texture is not None:
            header = [f"mtllib {path.stem}.mtl", "usemtl material_0"]
            png = io.BytesIO()
            self.texture.save(png, format="PNG")
            atomic_write_bytes(path.with_suffix(".png"), png.getvalue())
            mtl = f"newmtl material_0\nKd 1 1 1\nmap_Kd {path.stem}.png\n"
            atomic_write_bytes(path.with_suffix(".mtl"), mtl.encode("utf-8"))
        atomic_write_bytes(path, "\n".join([*header, *self._obj_lines()]).encode("utf-8") + b"\n")

    def _clear(self) -> None:
        self.vertices = np.empty((0, 3), dtype=np.float64)
        self.faces = np.empty((0, 3), dtype=np.int64)
        self.vertex_normals = self.vertices_color = None
        self.texture_coordinates = self.texture_indices = self.texture = None

    def _obj_lines(self) -> list[str]:
        vertices = np.asarray(self.vertices, dtype=np.float64)
        if len(self.vertices_color):
            vertices = np.hstack([vertices, self.vertices_color])
        lines = ["v " + " ".join(map(repr, row)) for row in vertices.tolist()]
        lines += ["vn " + " ".join(map(repr, row)) for row in self.vertex_normals.tolist()]
        lines += ["vt " + " ".join(map(repr, row)) for row in self.texture_coordinates.tolist()]
        faces = np.asarray(self.faces) + 1
        if len(self.texture_indices):
            corners = np.stack([faces, self.texture_indices + 1], axis=2).tolist()
            lines += ["f " + " ".join(f"{v}/{t}" for v, t in face) for face in corners]
        else:
            lines += [f"f {a} {b} {c}" for a, b, c in faces.tolist()]
        return lines

    def copy(self, include_cache: bool = False, include_visual: bool = True) -> Mesh:
        """A deep copy (trimesh's arguments accepted and ignored: everything is copied)."""
        return Mesh(
            np.array(self.vertices),
            np.array(self.faces),
            vertex_normals=self.vertex_normals.copy(),
            vertices_color=self.vertices_color.copy(),
            texture_coordinates=self.texture_coordinates.copy(),
            texture_indices=self.texture_indices.copy(),
            texture=None if self.texture is None else self.texture.copy(),
        )

    def compute_normals(self) -> None:
        """Set ``vertex_normals`` (N, 3) as the reference computes them: the unit sum of the
        (area-weighted) normals of the faces around each vertex; NaN where no face is."""
        vertices = np.asarray(self.vertices)
        faces = np.asarray(self.faces)
        a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
        face_normals = np.cross(b - a, c - a)
        sums = np.zeros_like(vertices)
        for corner in range(3):
            np.add.at(sums, faces[:, corner], face_normals)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.vertex_normals = sums / np.linalg.norm(sums, axis=1)[:, np.newaxis]

    def cut(self, indices: Any) -> Mesh:
        """The sub-mesh of the vertices ``indices`` (in that order), as the reference cuts.

        Args:
            indices: (K,) vertex indices, or what ``np.where`` returns, or an (N,) mask.

        Returns:
            a Mesh with those vertices (and their normals and colours), the faces whose three
            vertices are all kept, renumbered, with their texture indices, and all texture
            coordinates and the texture.
        """
        selected = np.asarray(indices)
        if selected.dtype == bool:
            selected = np.flatnonzero(selected)
        selected = selected.reshape(-1).astype(np.int64)
        faces = np.asarray(self.faces)
        renumber = np.full(len(self.vertices), -1, dtype=np.int64)
        renumber[selected] = np.arange(len(selected))
        kept = (renumber[faces] >= 0).all(axis=1) if len(faces) else np.zeros(0, dtype=bool)
        return Mesh(
            np.array(self.vertices)[selected],
            renumber[faces[kept]],
            vertex_normals=self.vertex_normals[selected] if self.vertex_normals.any() else None,
            vertices_color=self.vertices_color[selected] if self.vertices_color.any() else None,
            texture_coordinates=self.texture_coordinates.copy(),
            texture_indices=self.texture_indices[kept] if self.texture_indices.any() else None,
            texture=self.texture,
        )

    # ------------------------------------------------------------------ trimesh

    def to_trimesh(self) -> trimesh.Trimesh:
        """A plain ``trimesh.Trimesh`` (unprocessed) with the colours, normals and texture.

        Vertex order is kept, except with a texture whose UVs differ per face corner (seams):
        trimesh holds one UV per vertex, so vertices are split into one per (vertex, UV)
        pair, in order of first use.
        """
        vertices, faces = np.asarray(self.vertices), np.asarray(self.faces)
        normals = self.vertex_normals if len(self.vertex_normals) == len(vertices) else None
        colors = self.vertices_color if len(self.vertices_color) == len(vertices) else None
        visual = None
        if len(self.texture_indices) and len(self.texture_indices) == len(faces):
            pairs = np.stack([faces, self.texture_indices], axis=2).reshape(-1, 2)
            per_vertex = np.full(len(vertices), -1, dtype=np.int64)
            per_vertex[pairs[:, 0]] = pairs[:, 1]
            if np.array_equal(per_vertex[faces], self.texture_indices):
                uv = self.texture_coordinates[np.maximum(per_vertex, 0)]
            else:
                unique, first, inverse = np.unique(
                    pairs, axis=0, return_index=True, return_inverse=True
                )
                order = np.argsort(first)
                rank = np.empty_like(order)
                rank[order] = np.arange(len(order))
                unique = unique[order]
                faces = rank[inverse.reshape(-1)].reshape(-1, 3)
                vertices = vertices[unique[:, 0]]
                normals = None if normals is None else normals[unique[:, 0]]
                colors = None if colors is None else colors[unique[:, 0]]
                uv = self.texture_coordinates[unique[:, 1]]
            visual = trimesh.visual.TextureVisuals(uv=uv, image=self.texture)
        elif colors is not None:
            visual = trimesh.visual.ColorVisuals(
                vertex_colors=np.round(np.clip(colors, 0, 1) * 255).astype(np.uint8)
            )
        return trimesh.Trimesh(
            vertices, faces, vertex_normals=normals, visual=visual, process=False
        )

    @classmethod
    def from_trimesh(cls, mesh: trimesh.Trimesh | trimesh.PointCloud | trimesh.Scene) -> Mesh:
        """A Mesh of a trimesh mesh, point cloud or scene (its geometry concatenated, node
        transforms applied): vertices, faces, vertex colours, and UVs with the texture image
        when it has a texture (one UV per vertex)."""
        if isinstance(mesh, cls):
            return mesh.copy()
        if isinstance(mesh, trimesh.Scene):
            mesh = mesh.to_mesh()
        faces = getattr(mesh, "faces", None)
        result = cls(np.array(mesh.vertices, dtype=np.float64), faces)
        visual = getattr(mesh, "visual", None)
        if isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is not None:
            result.texture_coordinates = visual.uv
            result.texture_indices = result.faces
            image = getattr(visual.material, "image", None) or getattr(
                visual.material, "baseColorTexture", None
            )
            result.texture = image
            return result
        if isinstance(mesh, trimesh.PointCloud):
            colors = np.asarray(mesh.colors)
        else:
            kind = getattr(visual, "kind", None)
            colors = np.asarray(visual.vertex_colors) if kind == "vertex" else np.empty(0)
        if colors.ndim == 2 and len(colors) == len(result.vertices):  # RGBA uint8
            result.vertices_color = colors[:, :3] / 255.0
        return result


def _texture_of(path: Path, library: str | None, material: str | None) -> Image.Image | None:
    """The image ``map_Kd`` names in the OBJ's material library, if both files are there."""
    if library is None:
        return None
    folder = path.parent
    mtl = folder / library
    if not mtl.is_file():
        logger.warning("%s names %s, which is absent", path, mtl)
        return None
    textures = read_mtl_textures(mtl.read_bytes())
    name = textures.get(material or "") or next(iter(textures.values()), None)
    if name is None or not (mtl.parent / name).is_file():
        return None
    with Image.open(mtl.parent / name) as image:
        image.load()
        return image.copy()
