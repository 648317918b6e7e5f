"""``h3ds-hf prepare``: the Hub-ready folder, read back with ``load_dataset`` offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub import DatasetCard
from test_builder import assert_rows_match_raw, expected_scene_ids

from h3ds_hf.benchmark.names import REPORTED_REGIONS, parse_config_name, task_id
from h3ds_hf.benchmark.published import PUBLISHED_RESULTS, published_views_configs
from h3ds_hf.cli import main
from h3ds_hf.errors import MissingFileError, OutputExistsError, UnknownViewsConfigError
from h3ds_hf.hub.arrow_rows import row_table
from h3ds_hf.hub.dataset_card import TERMS_URL
from h3ds_hf.hub.eval_yaml import validate_eval_yaml
from h3ds_hf.hub.features import scene_features
from h3ds_hf.hub.prepare import MANIFEST_NAME, prepare_dataset
from h3ds_hf.hub.rows import dataset_configs, read_scene, scene_row
from h3ds_hf.release.reader import open_release

pytestmark = pytest.mark.usefixtures("private_datasets_cache")


@pytest.fixture(scope="module")
def prepared(synthetic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("prepared") / "h3ds"
    prepare_dataset(synthetic.folder, output, catalog_path=synthetic.catalog_path, progress=False)
    return output


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_every_config_loads_offline_normal_and_streaming(
    prepared: Path, synthetic, tmp_path: Path
) -> None:
    catalog = synthetic.catalog
    for config in dataset_configs(catalog):
        for split in ("test", "h3d_net"):
            dataset = datasets.load_dataset(
                str(prepared), config, split=split, cache_dir=str(tmp_path)
            )
            rows = dataset.with_format("arrow")[:].to_pylist()
            assert_rows_match_raw(rows, synthetic.folder, catalog, config, split)
            if split == "h3d_net" and config != "3-views":
                continue  # streaming every config's 'test' split is enough (and keeps it fast)
            stream = datasets.load_dataset(str(prepared), config, split=split, streaming=True)
            assert_rows_match_raw(
                list(stream.decode(False)), synthetic.folder, catalog, config, split
            )
    decoded = next(iter(datasets.load_dataset(str(prepared), split="test", streaming=True)))
    assert len(decoded["views"]) == 3  # the default config is 3-views
    assert decoded["views"][0]["image"].size == (96, 128)


def test_parquet_layout_embeds_media_one_scene_per_row_group(prepared: Path, synthetic) -> None:
    catalog = synthetic.catalog
    names = set()
    for config in dataset_configs(catalog):
        for split in ("test", "h3d_net"):
            path = prepared / config / f"{split}-00000-of-00001.parquet"
            names.add(path.relative_to(prepared).as_posix())
            metadata = pq.ParquetFile(path).metadata
            assert metadata.num_rows == len(expected_scene_ids(catalog, config, split))
            assert {metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)} == {1}
            data = path.read_bytes()
            assert str(synthetic.folder).encode() not in data
            assert str(synthetic.folder.parent).encode() not in data
    parquet = {p.relative_to(prepared).as_posix() for p in prepared.rglob("*.parquet")}
    assert parquet == names
    assert not list(prepared.parent.glob(".h3ds.*"))  # no staging folder left behind


def test_card_and_eval_yaml(prepared: Path, synthetic) -> None:
    catalog = synthetic.catalog
    card = DatasetCard.load(prepared / "README.md")
    data = card.data.to_dict()
    configs = dataset_configs(catalog)
    assert [entry["config_name"] for entry in data["configs"]] == list(configs)
    assert [e["config_name"] for e in data["configs"] if e.get("default")] == ["3-views"]
    for entry in data["configs"]:
        assert {f["split"] for f in entry["data_files"]} == {"test", "h3d_net"}
    assert data["license"] == "other" and data["license_link"] == TERMS_URL
    assert data["task_categories"] == ["image-to-3d"]
    assert "non-commercial research only" in data["extra_gated_prompt"]
    fields = {name.lower(): kind for name, kind in data["extra_gated_fields"].items()}
    assert fields["name"] == fields["affiliation"] == fields["academic email"] == "text"
    assert list(fields.values()).count("checkbox") == 1
    # Every published cell of the authors' README, in the papers' layout, per release.
    for release, results in PUBLISHED_RESULTS.items():
        views = published_views_configs(release)
        assert "| method | " + " | ".join(f"{v} views" for v in views) + " |" in card.text
        for method in {r.method for r in results}:
            cells = {
                r.views_config: f"{r.face_mm:.2f} / {r.head_mm:.2f}"
                for r in results
                if r.method == method
            }
            row = f"| {method} | " + " | ".join(cells[v] for v in views) + " |"
            assert row in card.text.splitlines(), row
    assert sum(len(results) for results in PUBLISHED_RESULTS.values()) == 22
    # Both papers, by arXiv id: tags the Hub reads and links in the text.
    for arxiv_id in ("2107.12512", "2310.08784"):
        assert f"arxiv:{arxiv_id}" in data["tags"]
        assert f"https://arxiv.org/abs/{arxiv_id}" in card.text
    assert "@inproceedings{ramon2021h3dnet" in card.text
    assert 'load_dataset("<org>/h3ds", "3-views", split="test"' in card.text
    assert "$" not in card.text.replace("$H3DS_ACCESS_TOKEN", "").replace("$HF_TOKEN", "")

    document = yaml.safe_load((prepared / "eval.yaml").read_text())
    validate_eval_yaml(document)
    assert set(document) == {"name", "description", "evaluation_framework", "tasks"}
    assert all(set(task) == {"id", "config", "split"} for task in document["tasks"])
    assert document["evaluation_framework"] == "h3ds-hf"
    assert document["name"] and document["description"]
    expected = [
        (task_id(region, catalog.name, views), config)
        for config, views in configs.items()
        if views is not None
        for region in REPORTED_REGIONS
    ]
    assert [(task["id"], task["config"]) for task in document["tasks"]] == expected
    assert {task["split"] for task in document["tasks"]} == {"test"}
    assert all(parse_config_name(task["config"]).views_config for task in document["tasks"])


def test_rerun_is_idempotent_and_source_change_rebuilds(synthetic, tmp_path: Path) -> None:
    source = tmp_path / "release"
    shutil.copytree(synthetic.folder, source)
    output = tmp_path / "out"
    kwargs = {"catalog_path": synthetic.catalog_path, "configs": ["3-views"], "progress": False}
    first = prepare_dataset(source, output, **kwargs)
    assert not first.up_to_date
    before = _files(output)
    stamp = (output / "3-views" / "test-00000-of-00001.parquet").stat().st_mtime_ns
    again = prepare_dataset(source, output, **kwargs)
    assert again.up_to_date and again.configs == first.configs
    assert (output / "3-views" / "test-00000-of-00001.parquet").stat().st_mtime_ns == stamp
    # A changed photo of a 3-views view makes a new preparation with the new bytes.
    scene_id = next(iter(synthetic.catalog.scenes))
    view = synthetic.catalog.scene(scene_id).views_configs["3"][0]
    photo = source / scene_id / "image" / f"img_{view:04d}.jpg"
    photo.write_bytes(photo.read_bytes() + b"\0")
    rebuilt = prepare_dataset(source, output, **kwargs)
    assert not rebuilt.up_to_date
    after = _files(output)
    assert after.keys() == before.keys()
    assert (
        after["3-views/test-00000-of-00001.parquet"]
        != before["3-views/test-00000-of-00001.parquet"]
    )
    assert after["eval.yaml"] == before["eval.yaml"]


def test_jobs_give_identical_output(synthetic, tmp_path: Path) -> None:
    kwargs = {
        "catalog_path": synthetic.catalog_path,
        "configs": ["1-views", "all-views"],
        "progress": False,
    }
    prepare_dataset(synthetic.folder, tmp_path / "serial", jobs=1, **kwargs)
    prepare_dataset(synthetic.folder, tmp_path / "parallel", jobs=2, **kwargs)
    assert _files(tmp_path / "serial") == _files(tmp_path / "parallel")


def test_custom_catalog_without_h3d_net_scenes_has_only_test(synthetic, tmp_path: Path) -> None:
    custom = tmp_path / "mine.toml"
    custom.write_text(synthetic.catalog_path.read_text().replace("'h3d-net',", ""))
    output = tmp_path / "out"
    prepare_dataset(
        synthetic.folder, output, catalog_path=custom, configs=["3-views"], progress=False
    )
    assert sorted(p.name for p in (output / "3-views").iterdir()) == ["test-00000-of-00001.parquet"]
    card = DatasetCard.load(output / "README.md").data.to_dict()
    assert card["configs"][0]["data_files"] == [{"split": "test", "path": "3-views/test-*.parquet"}]
    loaded = datasets.load_dataset(str(output), "3-views", cache_dir=str(tmp_path / "c"))
    assert list(loaded) == ["test"] and loaded["test"][0]["release"] == "mine"


def test_output_that_is_not_ours_is_refused(synthetic, tmp_path: Path) -> None:
    output = tmp_path / "someone"
    output.mkdir()
    (output / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="not written by h3ds-hf prepare"):
        prepare_dataset(
            synthetic.folder, output, catalog_path=synthetic.catalog_path, progress=False
        )
    assert [p.name for p in output.iterdir()] == ["notes.txt"]


def test_bad_source_or_config_writes_nothing(synthetic, tmp_path: Path) -> None:
    source = tmp_path / "release"
    shutil.copytree(synthetic.folder, source)
    scene_id = list(synthetic.catalog.scenes)[-1]
    (source / scene_id / "regions" / "nose.txt").unlink()
    output = tmp_path / "out"
    with pytest.raises(MissingFileError, match=f"{scene_id}/regions/nose.txt"):
        prepare_dataset(source, output, catalog_path=synthetic.catalog_path, progress=False)
    with pytest.raises(UnknownViewsConfigError, match="known: 1-views, 3-views"):
        prepare_dataset(
            synthetic.folder,
            output,
            catalog_path=synthetic.catalog_path,
            configs=["3-views", "7-views"],
            progress=False,
        )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "hf") == ["release"]


def test_cli_prepare(synthetic, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "out"
    argv = [
        "prepare",
        str(synthetic.folder),
        "--output",
        str(output),
        "--catalog",
        str(synthetic.catalog_path),
        "--configs",
        "3-views",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "3-views: test: 3 scenes" in capsys.readouterr().out
    assert (output / MANIFEST_NAME).is_file()
    assert main(argv) == 0
    assert "up to date" in capsys.readouterr().out
    assert main([*argv[:-2], "nine-views", "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "unknown config 'nine-views'" in error


def test_row_table_equals_datasets_own_encoding(synthetic) -> None:
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    scene_id = next(iter(release.catalog.scenes))
    views = release.catalog.scene(scene_id).views
    scene = read_scene(release, scene_id, range(views))
    features = scene_features()
    # All views in stored order (zero-copy path), then a reordered subset with a repeat.
    for chosen in (list(range(views)), [5, 1, 5]):
        ours = row_table(scene, chosen, features)
        theirs = datasets.Dataset.from_list([scene_row(scene, chosen)], features=features)
        assert ours.schema.equals(theirs.data.table.schema, check_metadata=False)
        assert ours.to_pylist() == theirs.data.table.to_pylist()
