"""Exact, vectorized OBJ reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from h3ds_hf.errors import MalformedFileError
from h3ds_hf.release.obj import (
    _read_any_obj,
    _read_regular_obj,
    load_obj,
    obj_bytes,
    read_obj,
    write_obj,
)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 40), st.just(3)), elements=finite))
def test_write_read_is_bit_exact(tmp_path_factory, vertices):
    faces = np.arange(len(vertices) - len(vertices) % 3).reshape(-1, 3)
    path = tmp_path_factory.mktemp("obj") / "mesh.obj"
    write_obj(path, vertices, faces)
    read_vertices, read_faces = load_obj(path)
    assert read_vertices.dtype == np.float64
    assert np.array_equal(read_vertices.view(np.uint64), vertices.view(np.uint64))
    assert np.array_equal(read_faces, faces)


def test_matches_python_float_parsing_and_keeps_order():
    text = b"# comment\nv 0.1 0.2 0.30000000000000004\nvn 0 0 1\nv 1e-3 -2.5E2 7\n"
    text += b"v 3 2 1 0.5 0.5 0.5\nvt 0 0\nf 3/1/1 1/1/1 2/1/1\nf 1//1 2//1 3//1\n"
    vertices, faces = read_obj(text)
    assert vertices.tolist() == [[0.1, 0.2, 0.30000000000000004], [1e-3, -250.0, 7.0], [3, 2, 1]]
    assert faces.tolist() == [[2, 0, 1], [0, 1, 2]]


def test_polygons_become_triangle_fans():
    text = b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 2 2 2\nf 1 2 3 4\nf 1 2 5\n"
    _, faces = read_obj(text)
    assert faces.tolist() == [[0, 1, 2], [0, 2, 3], [0, 1, 4]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"f 1 2 3\n", "no vertices"),
        (b"v 0 0 0\nv 1 0 nan\nv 0 1 0\nf 1 2 3\n", "vertex 1 is not finite"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "out of range|1..3"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -3\n", "relative"),
        (b"v 0 0\n", "unreadable vertex"),
        (b"v 0 0 zero\n", "unreadable vertex"),
        (b"v 0 0 0\nv 1 0 0\nf 1 2\n", "3 corners|unreadable face"),
    ],
)
def test_malformed_obj(text, message):
    with pytest.raises(MalformedFileError, match=message):
        read_obj(text, name="full_head.obj")


def test_write_is_atomic(tmp_path: Path):
    path = tmp_path / "mesh.obj"
    write_obj(path, np.zeros((3, 3)), np.array([[0, 1, 2]]))
    assert [p.name for p in tmp_path.iterdir()] == ["mesh.obj"]


def test_bom_indentation_and_trailing_comments():
    text = b"\xef\xbb\xbfv 0 0 0\n  v 1 0 0 # corner\n\tv 0 1 0\r\nf 1 2 3 # the only face\r\n"
    vertices, faces = read_obj(text)
    assert vertices.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]
    assert faces.tolist() == [[0, 1, 2]]


# The fast path (pyarrow, regular layout) against the general path (numpy, any layout).

BASE = b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3\nf 1 3 4\n"
BASE_VERTICES = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
BASE_FACES = [[0, 1, 2], [0, 2, 3]]


def _outcome(read, data: bytes) -> tuple:
    """What a reader makes of ``data``: the exact bits of its result, or its error."""
    try:
        vertices, faces = read(data)
    except Exception as error:  # OverflowError too: both paths must fail alike
        return type(error), str(error)
    assert vertices.dtype == np.float64 and faces.dtype == np.int64
    assert vertices.shape[1:] == faces.shape[1:] == (3,)
    return vertices.view(np.uint64).tolist(), faces.tolist()


def _same_as_general_path(data: bytes) -> bool:
    """Whether read_obj (fast path when it applies) gives exactly the general path's outcome."""
    fast = _outcome(lambda d: read_obj(d, name="full_head.obj"), data)
    return fast == _outcome(lambda d: _read_any_obj(d, "full_head.obj"), data)


def _decimal_forms(x: float) -> st.SearchStrategy[str]:
    """Ways an exporter may write ``x``: shortest repr, fewer digits, exponents, integers."""
    return st.sampled_from(
        [repr(x), f"{x:.6f}", f"{x:.9g}", f"{x:.3e}", f"{x:.17e}", f"{x:.0f}", f"{x:g}"]
    )


decimal = finite.flatmap(_decimal_forms) | st.sampled_from(
    ["-0.0", "-0", "3", "1e-05", "1E+05", "2.4703282292062328e-324", ".5"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(decimal, decimal, decimal), min_size=1, max_size=10))
def test_fast_path_numbers_are_python_floats(rows):
    lines = [" ".join(["v", *row]) for row in rows]
    mesh = _read_regular_obj(("\n".join(lines) + "\nf 1 1 1\n").encode())
    assert mesh is not None
    expected = np.array([[float(token) for token in row] for row in rows])
    assert np.array_equal(mesh[0].view(np.uint64), expected.view(np.uint64))


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789.+-eE", min_size=1, max_size=30))
def test_fast_path_reads_a_vertex_token_as_numpy_does(token):
    assert _same_as_general_path(b"v 0 0 0\nv 1 1 " + token.encode() + b"\nf 1 2 1\n")


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=1, max_size=25))
def test_fast_path_reads_a_face_token_as_numpy_does(token):
    assert _same_as_general_path(b"v 0 0 0\nv 1 1 1\nf 1 2 " + token.encode() + b"\n")


@settings(max_examples=60, deadline=None)
@given(
    vertices=arrays(np.float64, st.tuples(st.integers(1, 60), st.just(3)), elements=finite),
    face_seed=st.integers(0, 2**32 - 1),
    face_count=st.integers(0, 80),
    header=st.sampled_from([b"", b"# exported\n", b"\xef\xbb\xbf", b"mtllib a.mtl\no head\n\n"]),
    between=st.sampled_from([b"", b"vn 0 0 1\nvt 0.5 0.5\n", b"\n# faces\ng head\ns off\n"]),
    trailer=st.sampled_from([b"", b"# end\n", b"\n\n"]),
    final_newline=st.booleans(),
)
def test_fast_path_equals_general_path_on_regular_meshes(
    vertices, face_seed, face_count, header, between, trailer, final_newline
):
    faces = np.random.default_rng(face_seed).integers(0, len(vertices), (face_count, 3))
    body = obj_bytes(vertices, faces)
    vertex_text, _, face_text = body.partition(b"\nf ")
    data = header + vertex_text + b"\n" + between
    data += (b"f " + face_text if face_count else b"") + trailer
    if not final_newline:
        data = data.removesuffix(b"\n")
    fast = _read_regular_obj(data)
    assert fast is not None, "regular input must take the fast path"
    general = _read_any_obj(data, "mesh.obj")
    assert np.array_equal(fast[0].view(np.uint64), general[0].view(np.uint64))
    assert np.array_equal(fast[1], general[1])
    assert np.array_equal(fast[1], faces.reshape(-1, 3))


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        (BASE, True),
        (b"\xef\xbb\xbf" + BASE, True),
        (b"# head\nvt 0 0\n" + BASE.replace(b"f 1 2 3", b"vn 0 0 1\nf 1 2 3") + b"# end", True),
        (BASE.replace(b"\n", b"\r\n"), False),
        (BASE.replace(b"v 1 1 0", b"v\t1 1 0"), False),
        (BASE.replace(b"f 1 3 4", b"f\t1 3 4"), False),
        (BASE.replace(b"v 1 0 0", b"v 1  0 0"), False),
        (BASE.replace(b"v 1 0 0", b"  v 1 0 0"), False),
        (BASE.replace(b"v 1 0 0", b"v 1 0 0 # corner"), False),
        (BASE.replace(b"f 1 2 3", b"f 1 2 3 # first"), False),
        (BASE.replace(b"f 1 2 3", b"f 1/1/1 2/2/2 3//3"), False),
        (BASE.replace(b"v 1 0 0", b"v 1 0 0 0.5 0.5 0.5"), False),
        (BASE.replace(b"v 1 0 0", b"v 1 0 0 "), False),
        (BASE.replace(b"v 1 0 0", b"v 1 0 0\nvn 0 0 1"), False),
        (BASE.replace(b"f 1 2 3\nf 1 3 4", b"f 1 2 3 4"), False),
        (BASE.replace(b"v 0 1 0\nf 1 2 3", b"f 1 2 3\nv 0 1 0"), False),  # interleaved
        (b"f 1 2 3\nf 1 3 4\n" + BASE.replace(b"f 1 2 3\nf 1 3 4\n", b""), False),  # f before v
        (BASE.replace(b"v 1 1 0", b"v +1 1.0e0 0e-3"), True),
        (BASE.replace(b"f 1 3 4", b"f 1 3 +4"), False),
        (BASE.replace(b"f 1 3 4", b"f 1 3 04"), True),
        (BASE.replace(b"v 1 0 0", b"v 1 0 0\n\n"), True),
        (BASE.replace(b"v 1 0 0", b"v 1 0 0\n "), False),
        (BASE.replace(b"v 1 0 0", b"v 1 0 0\nvv 9 9 9\n1 2 3 4"), False),  # not statements
        (BASE.replace(b"f 1 3 4", b"ff 9 9 9\nf 1 3 4"), False),
    ],
)
def test_each_fast_path_precondition(text, fast):
    assert (_read_regular_obj(text) is not None) == fast
    vertices, faces = read_obj(text)
    assert vertices.tolist() == BASE_VERTICES
    assert faces.tolist() == BASE_FACES


def test_read_obj_takes_the_fast_path_on_regular_input(monkeypatch):
    monkeypatch.setattr("h3ds_hf.release.obj._read_any_obj", pytest.fail)
    vertices, faces = read_obj(BASE)
    assert vertices.tolist() == BASE_VERTICES
    assert faces.tolist() == BASE_FACES


def test_a_lone_carriage_return_ends_a_line():
    """The fast path looks for statements after '\\n' only, so CR must send it away."""
    text = BASE + b"# last face\rf 1 2 4\n"
    assert _read_regular_obj(text) is None
    assert read_obj(text)[1].tolist() == BASE_FACES + [[0, 1, 3]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"v 0 0 0\nv 1 0 0\nv 0 1 1e400\nf 1 2 3\n", "vertex 2 is not finite"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "1..3"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "1..3"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 -3\n", "relative"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 \nf 1 2 3\n", "unreadable vertex"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 e\nf 1 2 3\n", "unreadable vertex"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3.0\n", "unreadable face"),
        # pyarrow reads these two, numpy does not: the fast path's byte check must refuse them.
        (b"v 0 0 0\nv 1 0 0\nv 0 1 nan(1)\nf 1 2 3\n", "unreadable vertex"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 0x3\n", "unreadable face"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n", "3 corners|unreadable face"),
        (b"vt 0 0\nf 1 2 3\n", "no vertices"),
    ],
)
def test_malformed_regular_obj(text, message):
    with pytest.raises(MalformedFileError, match=message) as raised:
        read_obj(text, name="heads/full_head.obj")
    assert str(raised.value).startswith("heads/full_head.obj: ")
    assert _same_as_general_path(text)
