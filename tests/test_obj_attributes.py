"""Texture coordinates, normals, vertex colours and materials of OBJ files, and textures."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from h3ds_hf.errors import MalformedFileError
from h3ds_hf.release.obj import (
    _any_attributes,
    _read_any_obj,
    _regular_attributes,
    read_mtl_textures,
    read_obj,
    read_obj_attributes,
    textured_obj_bytes,
)
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.release import synthetic_texture, write_synthetic_release

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
SQUARE = b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"


@settings(max_examples=40, deadline=None)
@given(
    vertices=arrays(np.float64, st.tuples(st.integers(3, 40), st.just(3)), elements=finite),
    uvs=arrays(np.float64, st.tuples(st.integers(1, 40), st.just(2)), elements=finite),
    seed=st.integers(0, 2**32 - 1),
)
def test_textured_round_trip_is_exact_and_geometry_is_read_objs(vertices, uvs, seed):
    rng = np.random.default_rng(seed)
    faces = rng.integers(0, len(vertices), (rng.integers(0, 30), 3))
    face_uvs = rng.integers(0, len(uvs), faces.shape)
    data = textured_obj_bytes(
        vertices, faces, uvs, face_uvs, material_library="my head.mtl", material="skin"
    )
    obj = read_obj_attributes(data)
    assert np.array_equal(obj.vertices.view(np.uint64), vertices.view(np.uint64))
    assert np.array_equal(obj.uvs.view(np.uint64), uvs.view(np.uint64))
    assert np.array_equal(obj.faces, faces) and obj.faces.dtype == np.int64
    if len(faces):  # (no corner, no UV indices: None)
        assert obj.face_uvs is not None and np.array_equal(obj.face_uvs, face_uvs)
    assert obj.face_normals is None and obj.normals.shape == (0, 3)
    assert (obj.material_library, obj.material) == ("my head.mtl", "skin")
    geometry = read_obj(data)
    assert np.array_equal(geometry[0].view(np.uint64), obj.vertices.view(np.uint64))
    assert np.array_equal(geometry[1], obj.faces)


@pytest.mark.parametrize(
    ("faces", "uv", "normal"),
    [
        (b"f 1 2 3\n", None, None),
        (b"f 1/2 2/3 3/1\n", [[1, 2, 0]], None),
        (b"f 1//2 2//1 3//1\n", None, [[1, 0, 0]]),
        (b"f 1/2/1 2/3/2 3/1/1\n", [[1, 2, 0]], [[0, 1, 0]]),
        (b"f 1/2 2/3 3/1\nf\t1 3 4\n", None, None),  # a face without UVs: none for the mesh
        (b"f 1/2/1 2/3/2 3/1/1\nf 1/1 3/3 4/3\n", [[1, 2, 0], [0, 2, 2]], None),
    ],
)
def test_corner_layouts(faces, uv, normal):
    data = SQUARE + b"vt 0 0\nvt 1 0\nvt 1 1\nvn 0 0 1\nvn 0 0 -1\n" + faces
    obj = read_obj_attributes(data)
    assert obj.faces[0].tolist() == [0, 1, 2]
    assert (None if obj.face_uvs is None else obj.face_uvs.tolist()) == uv
    assert (None if obj.face_normals is None else obj.face_normals.tolist()) == normal
    assert obj.uvs.tolist() == [[0, 0], [1, 0], [1, 1]]
    assert obj.normals.tolist() == [[0, 0, 1], [0, 0, -1]]


def test_polygons_fan_or_keep_their_first_corners():
    data = SQUARE + b"vt 0 0\nvt 1 1\nf 1/1 2/2 3/1 4/2\nf 4/1 3/1 2/2\n"
    fan = read_obj_attributes(data)
    assert fan.faces.tolist() == read_obj(data)[1].tolist() == [[0, 1, 2], [0, 2, 3], [3, 2, 1]]
    assert fan.face_uvs.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 1]]
    first = read_obj_attributes(data, polygons="first")
    assert first.faces.tolist() == [[0, 1, 2], [3, 2, 1]]
    assert first.face_uvs.tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="polygons"):
        read_obj_attributes(data, polygons="ear-clip")


def test_vertex_colours_only_when_every_vertex_has_one():
    coloured = b"v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 0 1 0 0 0 0.5\nf 1 2 3\n"
    obj = read_obj_attributes(coloured)
    assert obj.vertex_colors.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0.5]]
    assert obj.vertices.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]
    partly = coloured.replace(b"v 1 0 0 0 1 0", b"v 1 0 0")
    assert read_obj_attributes(partly).vertex_colors is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SQUARE + b"vt 0 0\nf 1/2 2/1 3/1\n", "vt indices"),
        (SQUARE + b"vn 0 0 1\nf 1//1 2//1 3//2\n", "vn indices"),
        (SQUARE + b"vt 0 0\nf 1/-1 2/1 3/1\n", "vt indices"),
        (SQUARE + b"vt 0\nf 1/1 2/1 3/1\n", "unreadable texture coordinate"),
        (SQUARE + b"vt 0 nan\nf 1/1 2/1 3/1\n", "texture coordinate is not finite"),
        (SQUARE + b"f 1/x 2/1 3/1\n", "unreadable face"),
        (SQUARE + b"f 1 2 5\n", "1..4"),
        (b"vt 0 0\n", "no vertices"),
    ],
)
def test_malformed_attributes(text, message):
    with pytest.raises(MalformedFileError, match=message):
        read_obj_attributes(text, name="full_head.obj")


def test_mtl_textures():
    data = b"# materials\nnewmtl skin\nKd 1 1 1\nmap_Kd -s 1 1 1 skin.png # diffuse\n"
    data += b"newmtl eyes\nmap_Kd eyes.jpg\nmap_Kd ignored.jpg\nnewmtl bare\n"
    assert read_mtl_textures(data) == {"skin": "skin.png", "eyes": "eyes.jpg"}


@pytest.fixture(scope="module")
def textured(tmp_path_factory):
    root = tmp_path_factory.mktemp("textured")
    folder = write_synthetic_release(
        root / "release", scenes=1, views=4, subdivisions=3, textured=True
    )
    return folder, root / "catalog.toml"


def test_a_textured_scene_through_the_reader(textured):
    folder, catalog = textured
    release = open_release(folder, catalog_path=catalog)
    scene_id = release.catalog.scene_ids()[0]
    obj = release.mesh_attributes(scene_id)
    gt = release.ground_truth(scene_id)
    assert np.array_equal(obj.vertices, gt.vertices) and np.array_equal(obj.faces, gt.faces)
    uvs, face_uvs, _ = synthetic_texture(gt.vertices, gt.faces)
    assert np.array_equal(obj.uvs, uvs) and np.array_equal(obj.face_uvs, face_uvs)
    assert not np.array_equal(obj.face_uvs, obj.faces)  # UVs are not indexed by vertex
    texture = release.texture(scene_id, obj)
    assert texture.name == f"{scene_id}/full_head.png"
    assert texture.data == (folder / scene_id / "full_head.png").read_bytes()
    assert not release.missing()


def test_texture_names_stay_in_the_scene_folder(textured, tmp_path):
    folder = tmp_path / "release"
    shutil.copytree(textured[0], folder)
    release = open_release(folder, catalog_path=textured[1])
    scene_id = release.catalog.scene_ids()[0]
    obj_path = folder / scene_id / "full_head.obj"
    text = obj_path.read_bytes()
    for name in (b"../full_head.mtl", b"/etc/passwd"):
        obj_path.write_bytes(text.replace(b"mtllib full_head.mtl", b"mtllib " + name))
        with pytest.raises(MalformedFileError, match="outside the scene folder"):
            release.texture(scene_id, release.mesh_attributes(scene_id))
    obj_path.write_bytes(text)
    (folder / scene_id / "full_head.png").unlink()
    assert release.texture(scene_id, release.mesh_attributes(scene_id)) is None
    (folder / scene_id / "full_head.mtl").unlink()
    assert release.texture(scene_id, release.mesh_attributes(scene_id)) is None


@settings(max_examples=60, deadline=None)
@given(
    vertices=arrays(np.float64, st.tuples(st.integers(3, 30), st.just(3)), elements=finite),
    seed=st.integers(0, 2**32 - 1),
    layout=st.sampled_from(["v", "v/vt", "v//vn", "v/vt/vn"]),
    colours=st.booleans(),
    header=st.sampled_from([b"", b"\xef\xbb\xbfmtllib a b.mtl\n", b"# x\no head\n"]),
    between=st.sampled_from([b"", b"usemtl skin\ns off\n", b"g head\n\n# faces\n"]),
)
def test_regular_path_equals_general_path(vertices, seed, layout, colours, header, between):
    rng = np.random.default_rng(seed)
    n = len(vertices)
    faces = rng.integers(1, n + 1, (int(rng.integers(1, 20)), 3))
    uvs, normals = rng.random((n, 2)), rng.random((n, 3))
    rows = np.hstack([vertices, rng.random((n, 3))]) if colours else vertices
    text = header + b"".join(b"v " + b" ".join(b"%r" % x for x in r) + b"\n" for r in rows.tolist())
    text += b"".join(b"vt %r %r\n" % tuple(uv) for uv in uvs.tolist())
    text += b"".join(b"vn %r %r %r\n" % tuple(vn) for vn in normals.tolist()) + between
    corner = {"v": b"%d", "v/vt": b"%d/%d", "v//vn": b"%d//%d", "v/vt/vn": b"%d/%d/%d"}[layout]
    for face in faces.tolist():
        fields = corner.count(b"%d")
        text += b"f " + b" ".join(corner % ((c,) * fields) for c in face) + b"\n"
    fast = _regular_attributes(text)
    assert fast is not None, "regular input must take the fast path"
    general = _any_attributes(text, "mesh.obj", "fan")
    for ours, theirs in zip(fast, general, strict=True):
        if isinstance(ours, tuple):
            for a, b in zip(ours, theirs, strict=True):
                assert (a is None and b is None) or np.array_equal(a, b)
        elif isinstance(ours, np.ndarray):  # bit for bit
            assert ours.dtype == theirs.dtype and ours.tobytes() == theirs.tobytes()
        else:
            assert ours == theirs


@pytest.mark.parametrize(
    "text",
    [
        SQUARE + b"vt 0 0\nvt 1 1\nf 1/1 2/2 3/1\nf 1 2/2 3/1/1\n",  # mixed corners, same slashes
        SQUARE + b"vn 0 0 1\nvt 0 0\nf 1//1 2//1 3//1\nf 1/1/1 2/1/1 3//1\n",
        SQUARE + b"f 1 2 3 4\n",  # a polygon
        SQUARE + b"f 1 2 3\nvt 0 0\nf 1 3 4\n",  # two runs of faces
        SQUARE.replace(b"v 1 0 0", b"v 1 0 0 # corner") + b"f 1 2 3\n",
        SQUARE.replace(b"v 1 0 0", b" v 1 0 0") + b"f 1 2 3\n",
    ],
)
def test_irregular_files_take_the_general_path_with_the_same_meaning(text):
    assert _regular_attributes(text) is None
    obj = read_obj_attributes(text)
    assert np.array_equal(obj.faces, read_obj(text)[1])


def test_read_obj_reads_a_regular_textured_file_at_c_speed(monkeypatch):
    data = SQUARE + b"vt 0 0\nvt 1 1\nvn 0 0 1\nf 1/1/1 2/2/1 3/1/1\nf 1/1/1 3/1/1 4/2/1\n"
    general = _read_any_obj(data, "mesh.obj")
    monkeypatch.setattr("h3ds_hf.release.obj._read_any_obj", pytest.fail)
    vertices, faces = read_obj(data)
    assert vertices.tobytes() == general[0].tobytes() and np.array_equal(faces, general[1])
    with pytest.raises(MalformedFileError, match=r"1\.\.4"):  # still checked
        read_obj(data.replace(b"f 1/1/1 3/1/1 4/2/1", b"f 1/1/1 3/1/1 5/2/1"))
