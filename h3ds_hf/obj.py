"""Wavefront OBJ reading and writing that keeps vertex order and float64 values exactly.

Landmark and region indices of H3DS point into the vertex list of ``full_head.obj``, so the
reader must not merge, drop or reorder anything (unlike mesh libraries that process on load).
Parsing is vectorized: lines are sorted by their keyword, then numpy parses each block at once,
with the same correctly rounded decimal conversion as Python's ``float``.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np

from h3ds_hf.atomic import atomic_write_bytes
from h3ds_hf.errors import MalformedFileError

_SLASH_SUFFIX = re.compile(rb"/[^\s]*")
_COMMENT = re.compile(rb"#[^\n]*")
_BOM = b"\xef\xbb\xbf"


def _without_comments(lines: list[bytes]) -> list[bytes]:
    """The statements' lines with any trailing '# comment' removed."""
    block = b"\n".join(lines)
    return _COMMENT.sub(b"", block).split(b"\n") if b"#" in block else lines


def read_obj(data: bytes, *, name: str = "OBJ") -> tuple[np.ndarray, np.ndarray]:
    """Parse OBJ bytes into vertices and triangles.

    Args:
        data: the file's bytes.
        name: how to call the file in error messages.

    Returns:
        vertices: (N, 3) float64, in file order (extra per-vertex values such as colours are
            ignored); faces: (M, 3) int64, 0-based; polygons are split into triangle fans.

    Raises:
        MalformedFileError: no vertices, unparsable numbers, non-finite coordinates, relative
            (negative) or out-of-range face indices.
    """
    vertex_lines: list[bytes] = []
    face_lines: list[bytes] = []
    for raw in data.removeprefix(_BOM).splitlines():
        # Indented statements are rare: strip only those lines.
        line = raw.lstrip() if raw[:1] in (b" ", b"\t") else raw
        head = line[:2]
        if head in (b"v ", b"v\t"):
            vertex_lines.append(line[2:])
        elif head in (b"f ", b"f\t"):
            face_lines.append(line[2:])
    if not vertex_lines:
        raise MalformedFileError(f"{name}: no vertices ('v' lines)")
    vertices = _parse_vertices(_without_comments(vertex_lines), name)
    faces = _parse_faces(_without_comments(face_lines), name)
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise MalformedFileError(
            f"{name}: face indices must lie in 1..{len(vertices)} (relative indices unsupported)"
        )
    return vertices, faces


def load_obj(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an OBJ file; see :func:`read_obj`."""
    path = Path(path)
    return read_obj(path.read_bytes(), name=str(path))


def obj_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """OBJ text of a mesh: ``v x y z`` lines (shortest repr, so float64 values read back
    bit-exactly) then ``f a b c`` lines (1-based).

    Args:
        vertices: (N, 3) float64 coordinates.
        faces: (M, 3) 0-based integer triangles.
    """
    lines = [f"v {x!r} {y!r} {z!r}" for x, y, z in np.asarray(vertices, np.float64).tolist()]
    lines += [f"f {a} {b} {c}" for a, b, c in (np.asarray(faces) + 1).tolist()]
    return ("\n".join(lines) + "\n").encode("ascii")


def write_obj(path: str | Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Write :func:`obj_bytes` to ``path`` atomically (temporary sibling, then rename)."""
    atomic_write_bytes(path, obj_bytes(vertices, faces))


def _parse_vertices(lines: list[bytes], name: str) -> np.ndarray:
    try:
        vertices = np.loadtxt(lines, dtype=np.float64, usecols=(0, 1, 2), ndmin=2, comments=None)
    except ValueError as error:
        raise MalformedFileError(f"{name}: unreadable vertex line ({error})") from None
    if not np.isfinite(vertices).all():
        bad = int(np.flatnonzero(~np.isfinite(vertices).all(axis=1))[0])
        raise MalformedFileError(f"{name}: vertex {bad} is not finite")
    return vertices


def _parse_faces(lines: list[bytes], name: str) -> np.ndarray:
    if not lines:
        return np.empty((0, 3), dtype=np.int64)
    block = b"\n".join(lines)
    if b"/" in block:  # keep only the vertex index of 'v/vt/vn' corners
        block = _SLASH_SUFFIX.sub(b"", block)
    rows = block.split(b"\n")
    try:
        try:
            faces = np.loadtxt(rows, dtype=np.int64, ndmin=2, comments=None)
        except ValueError:  # polygons, or rows of mixed lengths: the slow, general path
            faces = _triangle_fans(rows)
        if faces.shape[1] != 3:
            faces = _triangle_fans(rows)
    except ValueError as error:
        raise MalformedFileError(f"{name}: unreadable face line ({error})") from None
    return faces - 1


def _triangle_fans(rows: list[bytes]) -> np.ndarray:
    triangles: list[tuple[int, int, int]] = []
    for row in rows:
        corners = [int(token) for token in row.split()]
        if len(corners) < 3:
            raise ValueError(f"a face needs 3 corners, got {row!r}")
        triangles.extend((corners[0], b, c) for b, c in itertools.pairwise(corners[1:]))
    return np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
