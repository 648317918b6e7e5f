"""Wavefront OBJ reading and writing that keeps vertex order and float64 values exactly.

Landmark and region indices of H3DS point into the vertex list of ``full_head.obj``, so the
reader must not merge, drop or reorder anything (unlike mesh libraries that process on load).
Files in the regular layout of H3DS meshes (one run of ``v x y z`` lines, one run of ``f a b c``
lines) are parsed by pyarrow's multi-threaded CSV reader; anything else goes through the general
path, where lines are sorted by their keyword and numpy parses each block at once. Both convert
decimals with correct rounding, exactly as Python's ``float``.
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
# The only bytes the fast path lets through in its runs: on these, pyarrow accepts a subset of the
# numbers numpy accepts, with the same values (tests/test_obj.py checks it); no 'nan', tabs, '#'.
_VERTEX_RUN_BYTES = b"v 0123456789.+-eE\n"
_FACE_RUN_BYTES = b"f 0123456789\n"
# Openings of the lines the general path would not ignore (statements, maybe indented).
_STATEMENT_LINE_STARTS = (b"v ", b"v\t", b"f ", b"f\t", b" ", b"\t")


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
    mesh = _read_regular_obj(data)
    if mesh is None:
        return _read_any_obj(data, name)
    vertices, faces = mesh
    _check_finite(vertices, name)
    _check_face_indices(faces, len(vertices), name)
    return vertices, faces


def _read_regular_obj(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Parse the regular layout at C speed, or return None when ``data`` is not in it.

    Regular: no CR; all ``v `` lines form one run, followed by one run of ``f `` lines (or
    none); each non-empty line of a run holds exactly 3 numbers (plain integers for faces) after
    single spaces, nothing else; the lines around the runs are ones the general path ignores,
    not indented. Then the result is the general path's, unchecked (see :func:`read_obj`).

    Returns:
        vertices: (N, 3) float64 with N >= 1; faces: (M, 3) int64, 0-based, maybe out of range.
    """
    if b"\r" in data:  # the line logic below knows only '\n'
        return None
    start = len(_BOM) if data.startswith(_BOM) else 0
    vertex_run = _line_run(data, b"v ", start)
    if vertex_run is None:
        return None
    face_run = _line_run(data, b"f ", vertex_run[1]) or (len(data), len(data))
    gaps = ((start, vertex_run[0]), (vertex_run[1], face_run[0]), (face_run[1], len(data)))
    if any(_has_statement_line(data, *gap) for gap in gaps):
        return None
    vertices = _parse_run(data, vertex_run, "v", _VERTEX_RUN_BYTES, integers=False)
    if face_run[0] == face_run[1]:
        faces = np.empty((0, 3), dtype=np.int64)
    else:
        faces = _parse_run(data, face_run, "f", _FACE_RUN_BYTES, integers=True)
    if vertices is None or faces is None:
        return None
    return vertices, faces - 1


def _line_run(data: bytes, opening: bytes, start: int) -> tuple[int, int] | None:
    """Byte span from the first line at or after ``start`` that begins with ``opening`` to the
    end (newline excluded) of the last such line; None if there is none."""
    if data.startswith(opening, start):
        first = start
    else:
        newline = data.find(b"\n" + opening, start)
        if newline < 0:
            return None
        first = newline + 1
    last = max(first, data.rfind(b"\n" + opening, first) + 1)
    end = data.find(b"\n", last)
    return first, len(data) if end < 0 else end


def _has_statement_line(data: bytes, start: int, end: int) -> bool:
    """Whether a line in ``data[start:end]`` (which begins a line) is one the general path would
    read or strip: a statement, or indented."""
    return data.startswith(_STATEMENT_LINE_STARTS, start, end) or any(
        data.find(b"\n" + opening, start, end) >= 0 for opening in _STATEMENT_LINE_STARTS
    )


def _parse_run(
    data: bytes, run: tuple[int, int], keyword: str, allowed: bytes, *, integers: bool
) -> np.ndarray | None:
    """(lines, 3) values of the ``keyword a b c`` lines spanning ``data[run[0]:run[1]]``:
    float64, or int64 if ``integers``; None if a line is anything else or holds a byte outside
    ``allowed``."""
    import pyarrow as pa  # ~0.15 s to import: only when an OBJ is read
    import pyarrow.compute as pa_compute
    import pyarrow.csv as pa_csv

    if data[run[0] : run[1]].translate(None, allowed):
        return None
    value_type = pa.int64() if integers else pa.float64()
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(pa.py_buffer(data)[run[0] : run[1]]),
            read_options=pa_csv.ReadOptions(column_names=["keyword", "a", "b", "c"]),
            # A row with another number of fields raises; empty lines are skipped, as by numpy.
            parse_options=pa_csv.ParseOptions(delimiter=" ", quote_char=False),
            # No null values: an empty field raises instead of becoming NaN.
            convert_options=pa_csv.ConvertOptions(
                column_types={
                    "keyword": pa.string(),
                    "a": value_type,
                    "b": value_type,
                    "c": value_type,
                },
                null_values=[],
            ),
        )
    except pa.ArrowException:
        return None
    if not pa_compute.all(pa_compute.equal(table["keyword"], keyword)).as_py():
        return None
    return np.column_stack([table[column].to_numpy() for column in "abc"])


def _read_any_obj(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The general path of :func:`read_obj`, for any layout; it validates as it goes."""
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
    _check_face_indices(faces, len(vertices), name)
    return vertices, faces


def _check_finite(vertices: np.ndarray, name: str) -> None:
    """Raise unless every coordinate of the (N, 3) ``vertices`` is finite."""
    if not np.isfinite(vertices).all():
        bad = int(np.flatnonzero(~np.isfinite(vertices).all(axis=1))[0])
        raise MalformedFileError(f"{name}: vertex {bad} is not finite")


def _check_face_indices(faces: np.ndarray, vertex_count: int, name: str) -> None:
    """Raise unless every 0-based index of the (M, 3) ``faces`` names one of the vertices."""
    if faces.size and (faces.min() < 0 or faces.max() >= vertex_count):
        raise MalformedFileError(
            f"{name}: face indices must lie in 1..{vertex_count} (relative indices unsupported)"
        )


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
    _check_finite(vertices, name)
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
    except (ValueError, OverflowError) as error:  # OverflowError: an index beyond int64
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
