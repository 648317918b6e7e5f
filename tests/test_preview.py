"""The ``mesh_preview`` column (the scan for the Hub viewer) and whole rows as numpy arrays."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import trimesh
from huggingface_hub import DatasetCard
from test_builder import _raw_mesh

from h3ds_hf.hub.local import load_local
from h3ds_hf.hub.preview import PREVIEW_MAX_FACES, PREVIEW_NAME, preview_glb
from h3ds_hf.hub.rows import ground_truth_from_row, numpy_row, numpy_rows

pytestmark = pytest.mark.usefixtures("private_datasets_cache")


@pytest.fixture(scope="module")
def prepared(prepared_synthetic) -> Path:
    return prepared_synthetic("3-views")


@pytest.fixture(scope="module")
def big_scan() -> tuple[np.ndarray, np.ndarray]:
    """A head-sized (mm) noisy sphere of 81,920 faces: more than a preview keeps."""
    sphere = trimesh.creation.icosphere(subdivisions=6)
    rng = np.random.default_rng(7)
    vertices = sphere.vertices * [90.0, 110.0, 120.0] + rng.normal(0, 0.2, sphere.vertices.shape)
    return vertices, sphere.faces


def _decode(glb: bytes) -> trimesh.Trimesh:
    """The GLB as datasets' Mesh feature decodes it, as one mesh."""
    decoded = datasets.Mesh().decode_example({"bytes": glb, "path": PREVIEW_NAME})
    return decoded.to_geometry() if isinstance(decoded, trimesh.Scene) else decoded


def test_load_dataset_decodes_the_preview_as_the_scan(prepared: Path, synthetic) -> None:
    test = datasets.load_dataset(str(prepared), "3-views", split="test")
    assert isinstance(test.features["mesh_preview"], datasets.Mesh)
    for row in test:
        preview = row["mesh_preview"]
        assert isinstance(preview, trimesh.Scene | trimesh.Trimesh)
        vertices, faces = _raw_mesh(synthetic.folder / row["scene_id"] / "full_head.obj")
        # The synthetic scans are small: kept whole, float32 positions in mm.
        assert np.allclose(preview.bounds, [vertices.min(0), vertices.max(0)], atol=1e-4)
        assert len(_decode_row(row).faces) == len(faces)
        # The exact arrays are untouched beside it.
        truth = ground_truth_from_row(row)
        assert np.array_equal(truth.vertices.view(np.uint64), vertices.view(np.uint64))
        assert np.array_equal(truth.faces, faces)


def _decode_row(row: dict) -> trimesh.Trimesh:
    preview = row["mesh_preview"]
    return preview.to_geometry() if isinstance(preview, trimesh.Scene) else preview


def test_builder_writes_the_same_preview_as_prepare(prepared: Path, synthetic, tmp_path) -> None:
    built = load_local(
        synthetic.folder,
        "3-views",
        catalog_path=synthetic.catalog_path,
        cache_dir=tmp_path,
        split="test",
    )
    stored = pq.read_table(prepared / "3-views" / "test-00000-of-00001.parquet")
    assert built.with_format("arrow")[:]["mesh_preview"].to_pylist() == (
        stored.column("mesh_preview").to_pylist()
    )
    paths = [item["path"] for item in stored.column("mesh_preview").to_pylist()]
    assert paths == [f"{scene_id}/{PREVIEW_NAME}" for scene_id in synthetic.catalog.scenes]


def test_big_scan_is_decimated_within_its_bounds(big_scan) -> None:
    vertices, faces = big_scan
    preview = _decode(preview_glb(vertices, faces))
    assert 0.9 * PREVIEW_MAX_FACES <= len(preview.faces) <= PREVIEW_MAX_FACES
    extent = vertices.max(0) - vertices.min(0)
    assert np.all(np.abs(preview.bounds - [vertices.min(0), vertices.max(0)]) < 0.01 * extent)
    # Close to the surface everywhere, not just in its bounds.
    distance = np.abs(np.linalg.norm(preview.vertices / [90.0, 110.0, 120.0], axis=1) - 1)
    assert distance.max() < 0.01


def test_preview_bytes_are_deterministic_across_processes(big_scan) -> None:
    vertices, faces = big_scan
    here = preview_glb(vertices, faces)
    assert preview_glb(vertices, faces) == here
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(preview_glb, vertices, faces).result() == here


def test_numpy_rows_give_whole_rows_with_stored_dtypes(prepared: Path, synthetic) -> None:
    test = datasets.load_dataset(str(prepared), "3-views", split="test")
    # What the helper is for: datasets 5.2's numpy format cannot decode these rows.
    with pytest.raises(ValueError, match="truth value of an array"):
        test.with_format("numpy")[0]
    rows = [numpy_rows(test)[0], numpy_row(test[0]), next(iter(numpy_rows(test)))]
    scene_id = test[0]["scene_id"]
    vertices, faces = _raw_mesh(synthetic.folder / scene_id / "full_head.obj")
    for row in rows:
        assert row["scene_id"] == scene_id
        assert row["vertices"].dtype == np.float64 and row["vertices"].shape == vertices.shape
        assert np.array_equal(row["vertices"].view(np.uint64), vertices.view(np.uint64))
        assert row["faces"].dtype == np.int32 and np.array_equal(row["faces"], faces)
        assert row["normalization_matrix"].shape == (4, 4)
        assert row["regions"]["nose"].dtype == np.int32
        view = row["views"][0]
        assert view["K"].shape == (3, 3) and view["K"].dtype == np.float64
        assert view["pose"].shape == (4, 4) and view["pose"].dtype == np.float32
        assert view["image"].shape == (128, 96, 3) and view["image"].dtype == np.uint8
        assert view["mask"].shape == (128, 96)
        assert isinstance(row["mesh_preview"], trimesh.Scene | trimesh.Trimesh)
        assert np.array_equal(ground_truth_from_row(row).vertices, vertices)
    batch = numpy_rows(test)[:2]
    assert [v.shape for v in batch["vertices"]] == [vertices.shape] * 2


def test_card_says_what_the_viewer_shows(prepared: Path) -> None:
    card = DatasetCard.load(prepared / "README.md")
    text = " ".join(card.text.split())
    assert f"at most {PREVIEW_MAX_FACES:,} faces" in text
    assert "interactive 3D preview in each row" in text and "3D gallery" in text
    assert "scores are computed on the exact `vertices` and `faces`" in text
    info = card.data.to_dict()["dataset_info"]  # one config: a mapping, not a list
    features = {f["name"]: f for f in info["features"]}
    assert features["mesh_preview"]["dtype"] == "mesh"
