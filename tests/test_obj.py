"""Exact, vectorized OBJ reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from h3ds_hf.errors import MalformedFileError
from h3ds_hf.obj import load_obj, read_obj, write_obj

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
