"""The H3DS datasets builder and ``load_local``: rows checked against the raw files."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
from h3ds_hf.loading_script.h3ds import H3DS
from PIL import Image

from h3ds_hf.benchmark.names import parse_config_name
from h3ds_hf.errors import MissingFileError, SourceError, UnknownViewsConfigError
from h3ds_hf.hub.features import FIELD_DOCS, scene_features
from h3ds_hf.hub.local import load_local
from h3ds_hf.hub.rows import dataset_configs, ground_truth_from_row
from h3ds_hf.release.cameras import decompose_projection
from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES

pytestmark = pytest.mark.usefixtures("private_datasets_cache")


# -- the raw truth, parsed independently of h3ds_hf's reader -------------------------------------
def _raw_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces = [], []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "v":
            vertices.append([float(x) for x in fields[1:4]])
        elif fields and fields[0] == "f":
            faces.append([int(x.split("/")[0]) - 1 for x in fields[1:4]])
    return np.array(vertices, dtype=np.float64), np.array(faces, dtype=np.int64)


def _raw_views(catalog, scene_id: str, config: str) -> list[int]:
    views_config = parse_config_name(config).views_config
    scene = catalog.scene(scene_id)
    return (
        list(range(scene.views))
        if views_config is None
        else list(scene.views_configs[views_config])
    )


def expected_scene_ids(catalog, config: str, split: str) -> list[str]:
    """Scenes of a config and split, from the catalog's own fields."""
    views_config = parse_config_name(config).views_config
    return [
        sid
        for sid, scene in catalog.scenes.items()
        if (split == "test" or "h3d-net" in scene.tags)
        and (views_config is None or views_config in scene.views_configs)
    ]


def assert_rows_match_raw(rows: list[dict], folder: Path, catalog, config: str, split: str) -> None:
    """``rows``: undecoded rows (media as {'bytes', 'path'}) of one config and split."""
    assert [row["scene_id"] for row in rows] == expected_scene_ids(catalog, config, split)
    for row in rows:
        scene_id = row["scene_id"]
        root = folder / scene_id
        assert row["release"] == catalog.name
        assert row["tags"] == list(catalog.scene(scene_id).tags)
        vertices, faces = _raw_mesh(root / "full_head.obj")
        got = np.asarray(row["vertices"], dtype=np.float64)
        assert got.shape == vertices.shape
        assert np.array_equal(got.view(np.uint64), vertices.view(np.uint64))  # bit-equal
        assert np.array_equal(np.asarray(row["faces"]), faces)
        landmarks = dict(line.split() for line in (root / "landmarks.txt").read_text().splitlines())
        assert row["landmarks"] == {name: int(landmarks[name]) for name in LANDMARK_NAMES}
        for region in REGION_NAMES:
            expected = [int(x) for x in (root / "regions" / f"{region}.txt").read_text().split()]
            assert row["regions"][region] == expected
        with np.load(root / "cameras.npz") as cameras:
            world = {k: cameras[k] for k in cameras.files}
        scale0 = world["scale_mat_0"]
        assert np.array_equal(
            np.asarray(row["normalization_matrix"], dtype=np.float32),
            np.linalg.inv(scale0.astype(np.float32)),
        )
        indices = _raw_views(catalog, scene_id, config)
        assert [view["view_index"] for view in row["views"]] == indices
        for view, index in zip(row["views"], indices, strict=True):
            world_mat = world[f"world_mat_{index}"]
            assert np.array_equal(np.asarray(view["world_mat"]), world_mat)
            assert np.array_equal(np.asarray(view["scale_mat"]), world[f"scale_mat_{index}"])
            K, pose = decompose_projection(world_mat)
            assert np.array_equal(np.asarray(view["K"], dtype=np.float64), K)
            assert np.array_equal(np.asarray(view["pose"], dtype=np.float32), pose)
            image = (root / "image" / f"img_{index:04d}.jpg").read_bytes()
            mask = (root / "mask" / f"mask_{index:04d}.png").read_bytes()
            assert view["image"]["bytes"] == image
            assert view["mask"]["bytes"] == mask
            for media in (view["image"], view["mask"]):
                assert not Path(media["path"]).is_absolute()
                assert str(folder) not in media["path"]


def undecoded_rows(dataset: datasets.Dataset) -> list[dict]:
    """Rows with media as stored ({'bytes', 'path'}), without decoding images."""
    return dataset.with_format("arrow")[:].to_pylist()


# -- tests --------------------------------------------------------------------------------------
def test_features_are_all_documented() -> None:
    features = scene_features()
    documented = {name for name in FIELD_DOCS if "." not in name}
    assert documented == set(features)
    view_fields = {name.split(".", 1)[1] for name in FIELD_DOCS if name.startswith("views.")}
    assert view_fields == set(features["views"].feature)


def test_load_local_every_config_matches_raw_files(synthetic, tmp_path: Path) -> None:
    catalog = synthetic.catalog
    configs = dataset_configs(catalog)
    assert "3-views" in configs and "all-views" in configs
    for config in configs:
        dataset_dict = load_local(
            synthetic.folder, config, catalog_path=synthetic.catalog_path, cache_dir=tmp_path
        )
        assert set(dataset_dict) == {"test", "h3d_net"}
        for split, dataset in dataset_dict.items():
            assert_rows_match_raw(undecoded_rows(dataset), synthetic.folder, catalog, config, split)


def test_decoded_row_gives_images_and_ground_truth(synthetic, tmp_path: Path) -> None:
    test = load_local(
        synthetic.folder,
        "3-views",
        catalog_path=synthetic.catalog_path,
        cache_dir=tmp_path,
        split="test",
    )
    row = test[0]
    scene_id = row["scene_id"]
    view = row["views"][0]
    raw = Image.open(synthetic.folder / scene_id / "image" / f"img_{view['view_index']:04d}.jpg")
    assert isinstance(view["image"], Image.Image)
    assert np.array_equal(np.asarray(view["image"]), np.asarray(raw))
    assert view["mask"].mode == "L"
    truth = ground_truth_from_row(row)
    raw_vertices, raw_faces = _raw_mesh(synthetic.folder / scene_id / "full_head.obj")
    assert truth.vertices.dtype == np.float64 and np.array_equal(truth.vertices, raw_vertices)
    assert truth.faces.dtype == np.int64 and np.array_equal(truth.faces, raw_faces)
    assert truth.landmarks["nose_tip"] == row["landmarks"]["nose_tip"]


def test_repeated_view_indices_are_kept_in_published_order(synthetic, tmp_path: Path) -> None:
    # The official catalogs repeat an index in some configs: rows keep exactly what is published.
    catalog = synthetic.catalog
    scene_id = next(iter(catalog.scenes))
    original = list(catalog.scene(scene_id).views_configs["3"])
    repeated = [original[2], original[0], original[2]]
    text = synthetic.catalog_path.read_text()
    block = text.index(f"[scenes.{scene_id}.default_views_configs]")
    line = text.index("3 = ", block)
    end = text.index("\n", line)
    custom = tmp_path / "repeats.toml"
    custom.write_text(text[:line] + f"3 = {repeated}" + text[end:])
    test = load_local(
        synthetic.folder, "3-views", catalog_path=custom, cache_dir=tmp_path / "c", split="test"
    )
    row = undecoded_rows(test)[0]
    assert row["scene_id"] == scene_id
    assert [view["view_index"] for view in row["views"]] == repeated
    assert row["views"][0]["image"]["bytes"] == row["views"][2]["image"]["bytes"]


def test_builder_used_directly(synthetic, tmp_path: Path) -> None:
    builder = H3DS(
        config_name="1-views",
        source=str(synthetic.folder),
        catalog_path=str(synthetic.catalog_path),
        cache_dir=str(tmp_path),
    )
    builder.download_and_prepare()
    h3d_net = builder.as_dataset(split="h3d_net")
    assert_rows_match_raw(
        undecoded_rows(h3d_net), synthetic.folder, synthetic.catalog, "1-views", "h3d_net"
    )
    assert builder.info.features == scene_features()
    # One scene per record batch / row group.
    assert builder._writer_batch_size == 1


def test_zip_source_token_stays_out_of_config_and_cache(synthetic, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    test = load_local(
        synthetic.zip_path,
        "3-views",
        catalog_path=synthetic.catalog_path,
        token=synthetic.token,
        cache_dir=cache,
        split="test",
    )
    assert_rows_match_raw(
        undecoded_rows(test), synthetic.folder, synthetic.catalog, "3-views", "test"
    )
    for path in cache.rglob("*"):
        assert synthetic.token not in str(path)
        if path.is_file() and path.suffix in {".json", ".lock", ""}:
            assert synthetic.token.encode() not in path.read_bytes()
    builder = H3DS(
        config_name="3-views",
        source=str(synthetic.zip_path),
        catalog_path=str(synthetic.catalog_path),
        cache_dir=str(tmp_path / "other"),
        access_token=synthetic.token,
    )
    assert synthetic.token not in repr(builder.config)
    assert synthetic.token not in builder.config_id


def test_unknown_config_lists_known(synthetic, tmp_path: Path) -> None:
    with pytest.raises(UnknownViewsConfigError, match=r"5-views.*known: 1-views, 3-views"):
        load_local(
            synthetic.folder, "5-views", catalog_path=synthetic.catalog_path, cache_dir=tmp_path
        )
    with pytest.raises(UnknownViewsConfigError, match="v1-3-views"):
        load_local(
            synthetic.folder, "v1-3-views", catalog_path=synthetic.catalog_path, cache_dir=tmp_path
        )


def _copy(synthetic, tmp_path: Path) -> Path:
    target = tmp_path / "release"
    shutil.copytree(synthetic.folder, target)
    return target


def test_missing_file_is_named(synthetic, tmp_path: Path) -> None:
    folder = _copy(synthetic, tmp_path)
    scene_id = next(iter(synthetic.catalog.scenes))
    (folder / scene_id / "mask" / "mask_0002.png").unlink()
    cache = tmp_path / "cache"
    with pytest.raises(MissingFileError, match=f"{scene_id}/mask/mask_0002.png"):
        load_local(folder, "all-views", catalog_path=synthetic.catalog_path, cache_dir=cache)
    assert not any(cache.rglob("*.arrow"))


def test_extra_image_is_refused(synthetic, tmp_path: Path) -> None:
    folder = _copy(synthetic, tmp_path)
    scene_id = next(iter(synthetic.catalog.scenes))
    views = synthetic.catalog.scene(scene_id).views
    image = io.BytesIO()
    Image.new("RGB", (4, 4)).save(image, "JPEG")
    (folder / scene_id / "image" / f"img_{views:04d}.jpg").write_bytes(image.getvalue())
    with pytest.raises(SourceError, match=rf"{scene_id} holds {views + 1} images.*expects {views}"):
        load_local(folder, "3-views", catalog_path=synthetic.catalog_path, cache_dir=tmp_path)


def test_exif_rotated_photos_are_reported(synthetic, tmp_path, caplog):
    """datasets rotates photos by their EXIF orientation on decoding; the cameras do not."""
    import io
    import logging
    import shutil

    from PIL import Image

    from h3ds_hf.hub.rows import read_scene
    from h3ds_hf.release.reader import open_release

    copy = Path(shutil.copytree(synthetic.folder, tmp_path / "release"))
    scene_id = synthetic.catalog.scene_ids()[0]
    photo = copy / scene_id / "image" / "img_0002.jpg"
    with Image.open(photo) as image:
        exif = image.getexif()
        exif[0x0112] = 6  # rotate 90 degrees on display
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", exif=exif)
    photo.write_bytes(buffer.getvalue())
    release = open_release(copy, catalog_path=synthetic.catalog_path)
    with caplog.at_level(logging.WARNING, logger="h3ds_hf.hub.rows"):
        read_scene(release, scene_id, [1, 2, 3])
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "view 2: EXIF orientation 6" in warnings[0]
