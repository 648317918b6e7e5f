"""A textured synthetic scene keeps its UVs and texture through the reader, the drop-in,
``h3ds-hf prepare`` + ``load_dataset``, and the datasets builder (``load_local``)."""

from __future__ import annotations

import io

import datasets
import numpy as np
import pytest
from PIL import Image

from h3ds_hf import H3DS, Mesh, load_local
from h3ds_hf.hub.prepare import prepare_dataset
from h3ds_hf.synthetic.release import (
    synthetic_ground_truth,
    synthetic_texture,
    write_synthetic_release,
)


@pytest.fixture(scope="module")
def textured(tmp_path_factory):
    """(folder, catalog, scene ids, expected uvs and face uvs per scene, texture bytes)."""
    root = tmp_path_factory.mktemp("textured")
    folder = write_synthetic_release(
        root / "release", scenes=2, views=4, subdivisions=3, textured=True
    )
    expected = {}
    for index in range(2):
        gt = synthetic_ground_truth(0, index=index, subdivisions=3)
        uvs, face_uvs, _ = synthetic_texture(gt.vertices, gt.faces)
        expected[gt.scene_id] = (
            uvs,
            face_uvs,
            (folder / gt.scene_id / "full_head.png").read_bytes(),
        )
    return folder, root / "catalog.toml", expected


def check_row(row: dict, expected: dict) -> None:
    uvs, face_uvs, png = expected[row["scene_id"]]
    assert np.array_equal(np.asarray(row["texture_coordinates"], dtype=np.float64), uvs)
    assert np.array_equal(np.asarray(row["texture_indices"]), face_uvs)
    texture = row["texture"]
    image = (
        texture if isinstance(texture, Image.Image) else Image.open(io.BytesIO(texture["bytes"]))
    )
    assert np.array_equal(np.asarray(image), np.asarray(Image.open(io.BytesIO(png))))


def test_drop_in_mesh(textured, tmp_path):
    folder, catalog, expected = textured
    h3ds = H3DS(folder, config_path=catalog)
    for scene_id, (uvs, face_uvs, png) in expected.items():
        mesh = h3ds.load_mesh(scene_id)
        assert np.array_equal(mesh.texture_coordinates, uvs)
        assert np.array_equal(mesh.texture_indices, face_uvs)
        assert np.array_equal(np.asarray(mesh.texture), np.asarray(Image.open(io.BytesIO(png))))
        mesh.save(tmp_path / f"{scene_id}.obj")  # and back, texture included
        back = Mesh().load(tmp_path / f"{scene_id}.obj")
        assert np.array_equal(back.texture_coordinates[back.texture_indices], uvs[face_uvs])
        assert np.array_equal(np.asarray(back.texture), np.asarray(mesh.texture))


def test_prepared_and_loaded(textured, tmp_path):
    folder, catalog, expected = textured
    output = tmp_path / "hub"
    prepare_dataset(folder, output, catalog_path=catalog, configs=["3-views"], progress=False)
    assert "texture_coordinates" in (output / "README.md").read_text()
    dataset = datasets.load_dataset(str(output), "3-views", split="test", cache_dir=str(tmp_path))
    assert len(dataset) == len(expected)
    for row in dataset:
        check_row(row, expected)


def test_built_locally(textured, private_datasets_cache):
    folder, catalog, expected = textured
    dataset = load_local(folder, "3-views", catalog_path=catalog, split="test")
    for row in dataset:
        check_row(row, expected)


def test_untextured_rows_hold_nulls(synthetic, private_datasets_cache):
    row = load_local(synthetic.folder, "3-views", catalog_path=synthetic.catalog_path)["test"][0]
    assert row["texture"] is None and row["texture_coordinates"] is None
    assert row["texture_indices"] is None
