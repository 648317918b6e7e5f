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
from dataclasses import dataclass
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
    if mesh is None:  # a textured export (vt, f v/vt) in runs is still read at C speed
        attributes = _regular_attributes(data)
        if attributes is None:
            return _read_any_obj(data, name)
        mesh = attributes[0], attributes[4][0]
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
    return np.column_stack([_numbers(table[column], integers=integers) for column in "abc"])


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


def textured_obj_bytes(
    vertices: np.ndarray,
    faces: np.ndarray,
    uvs: np.ndarray,
    face_uvs: np.ndarray,
    *,
    material_library: str,
    material: str,
) -> bytes:
    """OBJ text of a textured mesh: ``mtllib``, ``v`` lines, ``vt`` lines, ``usemtl``, then
    ``f v/vt`` lines (1-based), float values in shortest repr (bit-exact on reading).

    Args:
        vertices: (N, 3) float64; faces: (M, 3) 0-based; uvs: (T, 2) float64;
        face_uvs: (M, 3) 0-based indices into ``uvs``; material_library: the .mtl file name;
        material: the material of every face.
    """
    lines = [f"mtllib {material_library}"]
    lines += [f"v {x!r} {y!r} {z!r}" for x, y, z in np.asarray(vertices, np.float64).tolist()]
    lines += [f"vt {u!r} {v!r}" for u, v in np.asarray(uvs, np.float64).tolist()]
    lines.append(f"usemtl {material}")
    corners = np.stack([np.asarray(faces) + 1, np.asarray(face_uvs) + 1], axis=2).tolist()
    lines += ["f " + " ".join(f"{v}/{t}" for v, t in face) for face in corners]
    return ("\n".join(lines) + "\n").encode("utf-8")


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


# ------------------------------------------------------------------ every attribute of an OBJ

#: How :func:`read_obj_attributes` turns a polygon of n > 3 corners into triangles: "fan"
#: (n - 2 triangles, as :func:`read_obj`) or "first" (its first three corners only, as the
#: reference ``h3ds.mesh.Mesh`` reads it).
POLYGON_MODES = ("fan", "first")


@dataclass(frozen=True)
class ObjAttributes:
    """Everything a textured OBJ holds besides comments, 0-based.

    Attributes:
        vertices: (N, 3) float64 mm, in file order (as :func:`read_obj`).
        faces: (M, 3) int64 vertex indices.
        vertex_colors: (N, 3) float64 (the ``v x y z r g b`` values), or None when any vertex
            line has no colour.
        normals: (K, 3) float64 ``vn`` vectors, as written (K may be 0).
        uvs: (T, 2) float64 ``vt`` coordinates (u, v), as written (T may be 0).
        face_uvs: (M, 3) int64 indices into ``uvs`` (``f v/vt``), or None when a corner has none.
        face_normals: (M, 3) int64 indices into ``normals`` (``f v/vt/vn``, ``f v//vn``), or
            None when a corner has none.
        material_library: the ``mtllib`` file name, relative to the OBJ's folder, or None.
        material: the first ``usemtl`` name, or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    vertex_colors: np.ndarray | None
    normals: np.ndarray
    uvs: np.ndarray
    face_uvs: np.ndarray | None
    face_normals: np.ndarray | None
    material_library: str | None
    material: str | None


def read_obj_attributes(data: bytes, *, name: str = "OBJ", polygons: str = "fan") -> ObjAttributes:
    """Parse OBJ bytes with texture coordinates, normals, vertex colours and materials.

    Geometry is :func:`read_obj`'s, bit for bit (same vertices, same faces for triangles).
    Files whose statements of each kind form one run of regular lines (what exporters write:
    ``v``, ``vt``, ``vn`` lines, then triangles ``f a/b/c ...`` in one corner layout) are
    parsed by pyarrow's CSV reader; anything else line by line, numpy parsing each block.

    Args:
        data: the file's bytes.
        name: how to call the file in error messages.
        polygons: one of :data:`POLYGON_MODES`.

    Raises:
        MalformedFileError: as :func:`read_obj`, and for unreadable ``vt``/``vn`` lines or
            ``vt``/``vn`` indices out of range.
    """
    if polygons not in POLYGON_MODES:
        raise ValueError(f"polygons must be one of {POLYGON_MODES}, got {polygons!r}")
    parsed = _regular_attributes(data) or _any_attributes(data, name, polygons)
    vertices, colors, uvs, normals, corners, material_library, material = parsed
    _check_finite(vertices, name)
    for values, what in ((uvs, "texture coordinate"), (normals, "normal")):
        if not np.isfinite(values).all():
            raise MalformedFileError(f"{name}: a {what} is not finite")
    faces = corners[0]
    _check_face_indices(faces, len(vertices), name)
    for indices, count, what in ((corners[1], len(uvs), "vt"), (corners[2], len(normals), "vn")):
        if indices is not None and indices.size and (indices.min() < 0 or indices.max() >= count):
            raise MalformedFileError(f"{name}: {what} indices of faces must lie in 1..{count}")
    return ObjAttributes(
        vertices=vertices,
        faces=faces,
        vertex_colors=colors,
        normals=normals,
        uvs=uvs,
        face_uvs=corners[1],
        face_normals=corners[2],
        material_library=material_library,
        material=material,
    )


#: Vertex arrays, colours, UVs, normals, (faces, face UVs, face normals), mtllib, usemtl.
_Parsed = tuple[
    np.ndarray,
    np.ndarray | None,
    np.ndarray,
    np.ndarray,
    tuple[np.ndarray, np.ndarray | None, np.ndarray | None],
    str | None,
    str | None,
]
#: Bytes the regular runs may hold (besides their keyword): numbers, and '/' in faces.
_NUMBER_BYTES = b" 0123456789.+-eE\n"
#: Fields per face corner of each layout: (slashes in a corner, '//' in it) -> fields.
_CORNER_FIELDS = {(0, False): 1, (1, False): 2, (2, True): 2, (2, False): 3}


def _regular_attributes(data: bytes) -> _Parsed | None:
    """:func:`read_obj_attributes`'s parse at C speed, or None when ``data`` is not regular:
    no CR, tab or indented line; the ``v``, ``vt``, ``vn`` and ``f`` lines each one run, with
    the same number of values on each line (triangles only), nothing else in a run."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    if b"\r" in data or b"\t" in data or b"\n " in data or data.startswith(b" ", start):
        return None
    runs = {}
    for keyword in (b"v", b"vt", b"vn", b"f"):
        run = _line_run(data, keyword + b" ", start)
        if run is not None:
            span = data[run[0] : run[1]]
            if span.count(b"\n") != span.count(b"\n" + keyword + b" "):  # not one run
                return None
            runs[keyword] = span
    if b"v" not in runs:
        return None
    vertices = _parse_block(runs[b"v"], b"v", integers=False)
    if vertices is None or vertices.shape[1] not in (3, 6):
        return None
    uvs = _parse_block(runs.get(b"vt"), b"vt", integers=False, columns=2)
    normals = _parse_block(runs.get(b"vn"), b"vn", integers=False, columns=3)
    corners = _regular_corners(runs.get(b"f"))
    if uvs is None or normals is None or corners is None:
        return None
    colors = vertices[:, 3:].copy() if vertices.shape[1] == 6 else None
    return (
        np.ascontiguousarray(vertices[:, :3]),
        colors,
        uvs[:, :2].copy(),
        normals,
        corners,
        _first_statement(data, b"mtllib"),
        _first_statement(data, b"usemtl"),
    )


def _parse_block(
    block: bytes | None, keyword: bytes, *, integers: bool, columns: int | None = None
) -> np.ndarray | None:
    """(lines, k) values of a run of ``keyword`` lines with k values each (float64, or int64
    if ``integers``); None if a line differs. ``columns`` is the k to expect (a ``vt`` line
    may also have a third value, kept then); an absent run gives (0, columns)."""
    import pyarrow as pa  # ~0.15 s to import: only when an OBJ is read
    import pyarrow.csv as pa_csv

    if block is None:
        return np.empty((0, columns or 3), dtype=np.int64 if integers else np.float64)
    if block.translate(None, _NUMBER_BYTES + keyword):
        return None
    count = len(block[: block.find(b"\n") if b"\n" in block else len(block)].split()) - 1
    if count < (columns or 1) or (columns and keyword != b"vt" and count != columns):
        return None
    value_type = pa.int64() if integers else pa.float64()
    names = ["keyword", *(f"c{i}" for i in range(count))]
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(pa.py_buffer(block)),
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=pa_csv.ParseOptions(delimiter=" ", quote_char=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={"keyword": pa.string(), **dict.fromkeys(names[1:], value_type)},
                null_values=[],
            ),
        )
    except pa.ArrowException:
        return None
    if table["keyword"].null_count or set(table["keyword"].unique().to_pylist()) != {
        keyword.decode()
    }:
        return None
    return np.column_stack([_numbers(table[column], integers=integers) for column in names[1:]])


def _numbers(column, *, integers: bool) -> np.ndarray:
    """(N,) float64 (int64 if ``integers``) values of a pyarrow column of that type without
    nulls, read from its buffers: ``to_numpy`` would import pandas (~0.2 s)."""
    dtype = np.dtype(np.int64 if integers else np.float64)
    if not column.num_chunks:
        return np.empty(0, dtype=dtype)
    return np.concatenate(
        [
            np.frombuffer(
                chunk.buffers()[1],
                dtype=dtype,
                count=len(chunk),
                offset=chunk.offset * dtype.itemsize,
            )
            for chunk in column.chunks
        ]
    )


def _regular_corners(
    block: bytes | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    """Vertex, uv and normal indices (0-based) of a run of triangle lines in one corner
    layout; None when the run is not that."""
    if block is None:
        return np.empty((0, 3), dtype=np.int64), None, None
    first = block[2 : block.find(b" ", 2) if block.find(b" ", 2) > 0 else len(block)]
    layout = (first.count(b"/"), b"//" in first)
    fields = _CORNER_FIELDS.get(layout)
    lines = block.count(b"\n") + 1
    if fields is None or not _uniform_triangles(block, layout, lines, [b"f"]):
        return None
    flat = block.replace(b"//", b"/").replace(b"/", b" ") if layout[0] else block
    table = _parse_block(flat, b"f", integers=True, columns=3 * fields)
    if table is None:
        return None
    rows = table.reshape(-1, 3, fields) - 1
    uv = rows[:, :, 1] if layout in ((1, False), (2, False)) else None
    normal = rows[:, :, -1] if layout in ((2, True), (2, False)) else None
    return np.ascontiguousarray(rows[:, :, 0]), uv, normal


def _uniform_triangles(
    block: bytes, layout: tuple[int, bool], lines: int, prefix: list[bytes]
) -> bool:
    """Whether each of the ``lines`` lines of ``block`` is ``prefix`` then corners all of
    ``layout`` (three of them when it has slashes), judged on the block without its digits;
    a corner without a slash leaves no token there, so it counts as missing."""
    slashes = b"/" * layout[0]
    expected = [*prefix, *([slashes] * 3 if slashes else [])] * lines
    if block.translate(None, b"0123456789").split() != expected:
        return False
    return block.count(b"//") == (3 * lines if layout[1] else 0)  # 'v//vn' vs 'v/vt/vn'


def _first_statement(data: bytes, keyword: bytes) -> str | None:
    """The name after the first ``keyword`` line (mtllib, usemtl) of a regular file."""
    data = data.removeprefix(_BOM)
    opening = keyword + b" "
    if data.startswith(opening):
        at = 0
    else:
        found = data.find(b"\n" + opening)
        if found < 0:
            return None
        at = found + 1
    end = data.find(b"\n", at)
    return _statement_name(data[at + len(opening) : end if end >= 0 else len(data)])


def _any_attributes(data: bytes, name: str, polygons: str) -> _Parsed:
    """The general path of :func:`read_obj_attributes`, for any layout."""
    blocks: dict[bytes, list[bytes]] = {b"v": [], b"vt": [], b"vn": [], b"f": []}
    material_library = material = None
    for raw in data.removeprefix(_BOM).splitlines():
        keyword, rest = (raw.split(None, 1) + [b"", b""])[:2]
        if keyword in blocks:
            blocks[keyword].append(rest)
        elif keyword == b"mtllib" and material_library is None:
            material_library = _statement_name(rest)
        elif keyword == b"usemtl" and material is None:
            material = _statement_name(rest)
    if not blocks[b"v"]:
        raise MalformedFileError(f"{name}: no vertices ('v' lines)")
    vertex_lines = _without_comments(blocks[b"v"])
    return (
        _parse_vertices(vertex_lines, name),
        _vertex_colors(vertex_lines),
        _parse_columns(_without_comments(blocks[b"vt"]), 2, "texture coordinate", name),
        _parse_columns(_without_comments(blocks[b"vn"]), 3, "normal", name),
        _parse_corners(_without_comments(blocks[b"f"]), polygons, name),
        material_library,
        material,
    )


def _statement_name(rest: bytes) -> str | None:
    """The file or material name after ``mtllib`` / ``usemtl`` (may contain spaces)."""
    text = _COMMENT.sub(b"", rest).strip().decode("utf-8", "replace")
    return text or None


def _parse_columns(lines: list[bytes], columns: int, what: str, name: str) -> np.ndarray:
    """(len(lines), columns) float64 of the first ``columns`` numbers of each line."""
    if not lines:
        return np.empty((0, columns), dtype=np.float64)
    try:
        values = np.loadtxt(lines, dtype=np.float64, usecols=range(columns), ndmin=2, comments=None)
    except ValueError as error:
        raise MalformedFileError(f"{name}: unreadable {what} line ({error})") from None
    if not np.isfinite(values).all():
        raise MalformedFileError(f"{name}: a {what} is not finite")
    return values


def _vertex_colors(lines: list[bytes]) -> np.ndarray | None:
    """(N, 3) float64 colours of ``v x y z r g b`` lines; None unless every line has them."""
    try:
        colors = np.loadtxt(lines, dtype=np.float64, usecols=(3, 4, 5), ndmin=2, comments=None)
    except ValueError:  # some line has fewer values: no colours
        return None
    return colors


def _parse_corners(
    lines: list[bytes], polygons: str, name: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Triangles of vertex, uv and normal indices (0-based) of the ``f`` lines' corners.

    Returns:
        (M, 3) int64 vertex indices, and (M, 3) int64 uv and normal indices or None where
        a corner lacks them.
    """
    empty = np.empty((0, 3), dtype=np.int64)
    if not lines:
        return empty, None, None
    block = b"\n".join(lines)
    # One field layout for all corners (what exporters write): 'v', 'v/vt', 'v//vn', 'v/vt/vn'.
    first = lines[0].split(None, 1)[0] if lines[0].split() else b""
    layout = (first.count(b"/"), b"//" in first)
    fields = _CORNER_FIELDS.get(layout)
    rows = None
    if fields is not None and _uniform_triangles(block, layout, len(lines), []):
        try:
            table = np.loadtxt(
                block.replace(b"/", b" ").split(b"\n"), dtype=np.int64, ndmin=2, comments=None
            )
            if table.shape[1] == 3 * fields:
                rows = table.reshape(-1, 3, fields)
        except ValueError:
            rows = None
    if rows is None:
        return _polygon_corners(lines, polygons, name)
    indices = [rows[:, :, k] - 1 for k in range(fields)]
    vertex = indices[0]
    uv = indices[1] if layout in ((1, False), (2, False)) else None
    normal = indices[-1] if layout in ((2, True), (2, False)) else None
    return vertex, uv, normal


def _polygon_corners(
    lines: list[bytes], polygons: str, name: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """:func:`_parse_corners` for polygons or mixed corner layouts, line by line."""
    triangles: list[list[tuple[int, int, int]]] = []
    try:
        for line in lines:
            corners = [
                tuple(int(part) if part else 0 for part in (token.split(b"/") + [b"", b""])[:3])
                for token in line.split()
            ]
            if len(corners) < 3:
                raise ValueError(f"a face needs 3 corners, got {line!r}")
            if polygons == "first":
                triangles.append(corners[:3])
            else:
                triangles.extend([corners[0], b, c] for b, c in itertools.pairwise(corners[1:]))
    except ValueError as error:
        raise MalformedFileError(f"{name}: unreadable face line ({error})") from None
    table = np.asarray(triangles, dtype=np.int64).reshape(-1, 3, 3) - 1
    vertex, uv, normal = table[:, :, 0], table[:, :, 1], table[:, :, 2]
    # An absent field, read as 0, became -1: that attribute is dropped for the whole mesh.
    return vertex, (None if (uv == -1).any() else uv), (None if (normal == -1).any() else normal)


def read_mtl_textures(data: bytes) -> dict[str, str]:
    """Material name -> its ``map_Kd`` (diffuse texture) file name, from ``.mtl`` bytes.

    Options before the file name (``map_Kd -s 1 1 1 skin.png``) are skipped: the name is the
    statement's last token.
    """
    textures: dict[str, str] = {}
    material = None
    for raw in data.removeprefix(_BOM).splitlines():
        keyword, _, rest = _COMMENT.sub(b"", raw).strip().partition(b" ")
        if keyword == b"newmtl":
            material = rest.strip().decode("utf-8", "replace")
        elif keyword == b"map_Kd" and material is not None and rest.split():
            textures.setdefault(material, rest.split()[-1].decode("utf-8", "replace"))
    return textures
