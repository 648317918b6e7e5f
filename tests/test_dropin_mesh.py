"""`h3ds_hf.Mesh` behaves like the reference `h3ds.mesh.Mesh` (h3ds 0.4.0)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import trimesh

from h3ds_hf import Mesh
from h3ds_hf.synthetic.release import synthetic_ground_truth, synthetic_texture

ATTRIBUTES = (
    "vertices",
    "faces",
    "vertex_normals",
    "vertices_color",
    "texture_coordinates",
    "texture_indices",
)

#: Colours, normals, UVs, a quad and a triangle; the reference keeps a quad's first 3 corners.
TEXTURED = (
    b"mtllib head.mtl\n"
    b"v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 1 1 0.5 0 0 1\nv 0 1 0 0.5 0.5 0.5\nv 0.1 0.2 0.3 0 0 0\n"
    b"vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvt 0.25 0.75\n"
    b"vn 0 0 1\nvn 0 0 1\nvn 0 0.6 0.8\nvn 0 0 1\nvn 1 0 0\n"
    b"usemtl skin\nf 1/5/1 2/4/2 3/3/3 4/2/4\nf 1/1/1 3/3/3 5/5/5\n"
)
PLAIN = b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3\nf 1 3 4\n"
NORMALS_ONLY = b"v 0 0 0\nv 1 0 0\nv 1 1 0\nvn 0 0 1\nvn 0 0 1\nvn 0 0 1\nf 1//1 2//2 3//3\n"


@pytest.fixture(scope="module")
def reference_mesh():
    np.int = int  # h3ds 0.4.0 still uses the alias numpy 1.24 removed
    return pytest.importorskip("h3ds.mesh", reason="the test-only oracle h3ds==0.4.0").Mesh


def assert_like_reference(mine: Mesh, ref) -> None:
    for name in ATTRIBUTES:
        ours, theirs = getattr(mine, name), getattr(ref, name)
        assert ours.shape == theirs.shape, name
        assert ours.dtype == theirs.dtype, name
        assert np.array_equal(ours, theirs), name


@pytest.mark.parametrize("text", [TEXTURED, PLAIN, NORMALS_ONLY], ids=["textured", "plain", "vn"])
def test_load_save_like_the_reference(reference_mesh, tmp_path, text):
    path = tmp_path / "mesh.obj"
    path.write_bytes(text)
    mine, ref = Mesh().load(path), reference_mesh().load(str(path))
    assert isinstance(mine, trimesh.Trimesh)
    assert_like_reference(mine, ref)
    mine.save(tmp_path / "ours" / "mesh.obj")  # parents created, as the reference does
    ref.save(str(tmp_path / "ref.obj"))
    assert (tmp_path / "ours" / "mesh.obj").read_bytes() == (tmp_path / "ref.obj").read_bytes()
    assert_like_reference(Mesh().load(tmp_path / "ref.obj"), ref)


def test_an_empty_mesh_and_elements(reference_mesh, tmp_path):
    assert_like_reference(Mesh(), reference_mesh())
    path = tmp_path / "mesh.obj"
    path.write_bytes(TEXTURED)
    elements = ["vertices", "faces"]
    assert_like_reference(Mesh().load(path, elements), reference_mesh().load(str(path), elements))


@pytest.mark.parametrize(
    "indices",
    [np.array([4, 0, 2, 1]), (np.array([0, 1, 2]),), np.array([3])],
    ids=["array", "np.where", "no-face"],
)
def test_cut_like_the_reference(reference_mesh, tmp_path, indices):
    path = tmp_path / "mesh.obj"
    path.write_bytes(TEXTURED)
    mine, ref = Mesh().load(path), reference_mesh().load(str(path))
    if len(np.ravel(indices)) == 1:  # the reference's np.vectorize fails on no face
        cut = mine.cut(indices)
        assert cut.faces.shape == (0, 3) and cut.texture_indices.shape == (0, 3)
        return
    assert_like_reference(mine.cut(indices), ref.cut(indices))


def test_cut_of_a_real_size_region(reference_mesh):
    gt = synthetic_ground_truth(0, subdivisions=4)
    uvs, face_uvs, _ = synthetic_texture(gt.vertices, gt.faces)
    mine = Mesh(gt.vertices, gt.faces, texture_coordinates=uvs, texture_indices=face_uvs)
    ref = reference_mesh()
    for name in ("vertices", "faces", "texture_coordinates", "texture_indices"):
        setattr(ref, name, getattr(mine, name).copy())
    region = gt.regions["face_sphere"]
    assert_like_reference(mine.cut(region), ref.cut(region))


def test_compute_normals_and_copy(reference_mesh):
    gt = synthetic_ground_truth(1, subdivisions=3)
    mine, ref = Mesh(gt.vertices, gt.faces), reference_mesh()
    ref.vertices, ref.faces = gt.vertices.copy(), gt.faces.copy()
    mine.compute_normals()
    ref.compute_normals()
    np.testing.assert_allclose(mine.vertex_normals, ref.vertex_normals, rtol=0, atol=1e-12)
    for duplicate in (mine.copy(), copy.deepcopy(mine)):
        assert type(duplicate) is Mesh
        assert_like_reference(duplicate, mine)
        duplicate.vertices[0] += 1.0
        duplicate.vertex_normals[0] = 0.0
        assert not np.array_equal(duplicate.vertices, mine.vertices)
        assert not np.array_equal(duplicate.vertex_normals, mine.vertex_normals)


def test_ply_and_point_clouds(reference_mesh, tmp_path):
    gt = synthetic_ground_truth(0, subdivisions=3)
    colours = np.random.default_rng(0).random((len(gt.vertices), 3))
    mesh = Mesh(gt.vertices, gt.faces, vertices_color=colours)
    mesh.save(tmp_path / "mesh.ply")
    back = Mesh().load(tmp_path / "mesh.ply")
    ref = reference_mesh().load(str(tmp_path / "mesh.ply"))
    # trimesh's PLY writer stores float32, for us as for the reference
    assert np.array_equal(back.vertices, gt.vertices.astype(np.float32))
    assert np.array_equal(back.faces, gt.faces)
    assert np.array_equal(back.vertices, ref.vertices) and np.array_equal(back.faces, ref.faces)
    np.testing.assert_allclose(back.vertices_color, colours, atol=0.5 / 255)
    trimesh.PointCloud(gt.vertices).export(tmp_path / "cloud.ply")
    cloud = Mesh().load(tmp_path / "cloud.ply")
    assert np.array_equal(cloud.vertices, gt.vertices.astype(np.float32))
    assert cloud.faces.shape == (0, 3)
    mesh.save(tmp_path / "mesh.glb")  # a GLB loads as a scene: its geometry comes back
    scene = Mesh().load(tmp_path / "mesh.glb")
    assert np.array_equal(scene.faces, gt.faces) and len(scene.vertices) == len(gt.vertices)


def test_texture_follows_the_material_and_round_trips(tmp_path):
    gt = synthetic_ground_truth(0, subdivisions=3)
    uvs, face_uvs, texture = synthetic_texture(gt.vertices, gt.faces)
    mesh = Mesh(gt.vertices, gt.faces, texture_coordinates=uvs, texture_indices=face_uvs)
    mesh.texture = texture
    mesh.save(tmp_path / "head.obj")
    assert {p.name for p in tmp_path.iterdir()} == {"head.obj", "head.mtl", "head.png"}
    back = Mesh().load(tmp_path / "head.obj")
    assert_like_reference(back, mesh)
    assert np.array_equal(np.asarray(back.texture), np.asarray(texture))
    (tmp_path / "head.png").unlink()  # a missing texture image: the mesh still loads
    assert Mesh().load(tmp_path / "head.obj").texture is None


def test_to_and_from_trimesh_keep_each_corner_uv():
    gt = synthetic_ground_truth(0, subdivisions=3)
    uvs, face_uvs, texture = synthetic_texture(gt.vertices, gt.faces)
    seams = face_uvs.copy()
    seams[0] = [0, 1, 2]  # corners whose UV is not their vertex's everywhere else
    for indices in (face_uvs, seams):
        mesh = Mesh(gt.vertices, gt.faces, texture_coordinates=uvs, texture_indices=indices)
        mesh.texture = texture
        plain = mesh.to_trimesh()
        assert type(plain) is trimesh.Trimesh
        assert np.array_equal(plain.visual.uv[plain.faces], uvs[indices])
        assert np.array_equal(plain.vertices[plain.faces], gt.vertices[gt.faces])
        if indices is face_uvs:  # one UV per vertex: nothing split, order kept
            assert np.array_equal(plain.vertices, gt.vertices)
        back = Mesh.from_trimesh(plain)
        assert np.array_equal(back.texture_coordinates[back.texture_indices], uvs[indices])
        assert np.array_equal(np.asarray(back.texture), np.asarray(texture))
    coloured = Mesh(gt.vertices, gt.faces, vertices_color=np.full((len(gt.vertices), 3), 0.5))
    assert (coloured.to_trimesh().visual.vertex_colors[:, :3] == 128).all()
    assert isinstance(Mesh.from_trimesh(trimesh.PointCloud(gt.vertices)), Mesh)


def test_vertex_normals_are_never_computed_behind_your_back():
    gt = synthetic_ground_truth(0, subdivisions=3)
    mesh = Mesh(gt.vertices, gt.faces)
    assert mesh.vertex_normals.shape == (0, 3)  # as the reference: empty until computed
    assert mesh.to_trimesh().vertex_normals.shape == gt.vertices.shape  # trimesh computes
    with pytest.raises(ValueError, match="shape"):
        mesh.vertices_color = np.ones((len(gt.vertices), 4))
