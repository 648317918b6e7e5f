"""The shipped catalogs and custom TOML catalogs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from h3ds_hf.errors import CatalogError, UnknownSceneError, UnknownTagError, UnknownViewsConfigError
from h3ds_hf.release.catalog import load_catalog
from h3ds_hf.release.derive_catalog import derive, dumps

CUSTOM_TOML = """
version = 0.4
file_md5 = "0123456789abcdef0123456789abcdef"

[scenes]
    [scenes.aaaa000000000001]
    tags = ['h3d-net', 'sira++']
    views = 5
        [scenes.aaaa000000000001.default_views_configs]
        1 = [2]
        3 = [0, 2, 4]
    [scenes.aaaa000000000002]
    tags = ['sira++']
    views = 4
        [scenes.aaaa000000000002.default_views_configs]
        1 = [1]
        3 = [1, 3, 3]
"""


@pytest.mark.parametrize(
    ("release", "scenes", "configs", "version"),
    [
        ("v1", 23, ["3", "4", "8", "16", "32"], "0.2"),
        ("v2", 59, ["1", "3", "4", "6", "8", "16", "32"], "0.4"),
    ],
)
def test_shipped_releases(release, scenes, configs, version):
    catalog = load_catalog(release)
    assert catalog.name == release
    assert catalog.version == version
    assert len(catalog.scenes) == scenes
    assert catalog.views_config_ids() == configs
    assert len(catalog.md5) == 32
    for scene in catalog.scenes.values():
        assert (
            list(scene.views_configs) == configs or sorted(scene.views_configs, key=int) == configs
        )
        # Published as is: a few configs repeat a view or hold one more view than their name.
        for views in scene.views_configs.values():
            assert views and all(0 <= view < scene.views for view in views)


def test_h3d_net_scenes_are_the_ten_of_the_paper():
    v1, v2 = load_catalog("v1"), load_catalog("v2")
    assert len(v1.scene_ids(["h3d-net"])) == 10
    assert v1.scene_ids(["h3d-net"]) == v2.scene_ids(["h3d-net"])
    assert set(v1.scene_ids()) <= set(v2.scene_ids())


def test_reference_config_ids_are_accepted():
    assert load_catalog("config_v1").name == "v1"
    assert load_catalog("config_v2").scenes == load_catalog("v2").scenes


def test_custom_toml_catalog(tmp_path: Path):
    path = tmp_path / "mine.toml"
    path.write_text(CUSTOM_TOML)
    catalog = load_catalog(path=path)
    assert catalog.name == "mine"
    assert catalog.version == "0.4"  # a TOML float, kept as the string version.txt holds
    assert catalog.scene_ids(["h3d-net"]) == ["aaaa000000000001"]
    assert catalog.scene("aaaa000000000002").views_config("3") == (1, 3, 3)  # repeats kept
    assert catalog.views_config_ids() == ["1", "3"]


def test_unknown_names_raise_specific_errors(tmp_path: Path):
    catalog = load_catalog("v2")
    with pytest.raises(UnknownSceneError, match="nope"):
        catalog.scene("nope")
    with pytest.raises(UnknownTagError, match="cvpr"):
        catalog.scene_ids(["cvpr"])
    scene_id = catalog.scene_ids()[0]
    with pytest.raises(UnknownViewsConfigError, match="5"):
        catalog.scene(scene_id).views_config("5")
    with pytest.raises(CatalogError, match="v3"):
        load_catalog("v3")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("views = 5", "views = 0"), "positive"),
        (lambda t: t.replace("3 = [0, 2, 4]", "3 = [0, 2, 5]"), r"\[0, 5\)"),
        (lambda t: t.replace("version = 0.4", ""), "version"),
        (lambda t: t.replace("tags = ['sira++']", "tags = 'sira++'"), "tags"),
        (lambda t: t + "\n[[[", "not valid"),
    ],
)
def test_malformed_catalogs_are_refused(tmp_path: Path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(CUSTOM_TOML))
    with pytest.raises(CatalogError, match=message):
        load_catalog(path=path)


def test_missing_catalog_file(tmp_path: Path):
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(path=tmp_path / "absent.toml")


def test_json_round_trip(tmp_path: Path):
    path = tmp_path / "v2.json"
    path.write_text(dumps(load_catalog("v2").to_json_dict()))
    assert load_catalog(path=path) == load_catalog("v2")
    assert json.loads(path.read_text())["format"] == "h3ds-hf-catalog/1"


def test_derive_checks_release_shape(tmp_path: Path):
    path = tmp_path / "small.toml"
    path.write_text(CUSTOM_TOML)
    with pytest.raises(SystemExit, match="2 scenes, expected 59"):
        derive(path, "v2")


def test_views_config_ids_must_be_numbers(tmp_path: Path):
    path = tmp_path / "named.toml"
    path.write_text(CUSTOM_TOML.replace("3 = [0, 2, 4]", "front = [0, 2, 4]"))
    with pytest.raises(CatalogError, match="numbers of views"):
        load_catalog(path=path)
