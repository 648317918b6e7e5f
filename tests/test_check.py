"""``h3ds-hf check``: clean synthetic cameras pass, a camera turned by 2 degrees is flagged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from h3ds_hf.cli import main
from h3ds_hf.export.check import check_cameras, compare
from h3ds_hf.hub.prepare import prepare_dataset
from h3ds_hf.hub.views import open_scene_views
from h3ds_hf.release.catalog import load_catalog
from h3ds_hf.synthetic.release import write_synthetic_release

pytestmark = pytest.mark.usefixtures("private_datasets_cache")

TURNED = (1, 5, 2.0)  # scene index, view, degrees


@pytest.fixture(scope="module")
def turned(tmp_path_factory) -> tuple[Path, Path]:
    """2 scenes x 10 views; view 5 of scene 1 calibrated 2 degrees off."""
    root = tmp_path_factory.mktemp("turned")
    folder = write_synthetic_release(
        root / "release", scenes=2, views=10, subdivisions=4, turned_view=TURNED
    )
    return folder, root / "catalog.toml"


def test_every_clean_synthetic_view_scores_above_095(synthetic):
    source = open_scene_views(synthetic.folder, catalog=synthetic.catalog)
    report = check_cameras(source, progress=False)
    scores = [view for scene in report.scenes for view in scene.views]
    assert len(scores) == sum(s.views for s in synthetic.catalog.scenes.values())
    assert min(view.iou for view in scores) >= 0.95
    assert max(view.outline_px for view in scores) < 0.5
    assert not report.flagged_scenes


def test_a_camera_turned_by_two_degrees_is_flagged(turned, tmp_path, capsys):
    folder, catalog = turned
    argv = ["check", str(folder), "--catalog", str(catalog), "--no-progress"]
    report_path = tmp_path / "report.json"
    assert main([*argv, "--output", str(report_path)]) == 0
    out = capsys.readouterr().out
    scene_ids = load_catalog(path=catalog).scene_ids()
    assert f"{scene_ids[1]} view 5: IoU" in out and "flagged: 1 of 20 view(s)" in out
    report = json.loads(report_path.read_text())
    assert report["flagged_scenes"] == [scene_ids[1]]
    by_scene = {scene["scene_id"]: scene for scene in report["scenes"]}
    assert by_scene[scene_ids[1]]["flagged_views"] == [5]
    turned_view = by_scene[scene_ids[1]]["views"][5]
    assert turned_view["iou"] < 0.9 and turned_view["outline_px"] > 1.0
    assert all(v["iou"] >= 0.95 for v in by_scene[scene_ids[0]]["views"])
    assert main([*argv, "--strict"]) == 1
    assert main([*argv, "--strict", "--scene", scene_ids[0]]) == 0
    assert main([*argv, "--strict", "--views", "3", "--min-iou", "0.5"]) == 0


def test_check_reads_a_prepared_folder_like_the_raw_release_in_parallel(turned, tmp_path):
    folder, catalog = turned
    prepared = tmp_path / "hub"
    prepare_dataset(folder, prepared, catalog_path=catalog, configs=["8-views"], progress=False)
    raw = open_scene_views(folder, catalog=load_catalog(path=catalog))
    serial = check_cameras(raw, None, "8", progress=False)
    hub = check_cameras(open_scene_views(prepared), None, "8", jobs=2, progress=False)
    assert [s.views for s in serial.scenes] == [s.views for s in hub.scenes]


def test_compare_iou_and_outline_distance():
    a = np.zeros((20, 20), dtype=bool)
    a[5:15, 5:15] = True
    b = np.roll(a, 2, axis=1)
    iou, outline = compare(a, b)
    assert iou == pytest.approx(80 / 120)
    assert 0.5 < outline < 2.0
    assert compare(a, a) == (1.0, 0.0)
    assert compare(a, np.zeros_like(a)) == (0.0, None)
    assert compare(np.zeros_like(a), np.zeros_like(a)) == (1.0, None)


def test_bad_threshold_and_unknown_scene_are_one_line(turned, capsys):
    folder, catalog = turned
    argv = ["check", str(folder), "--catalog", str(catalog), "--no-progress"]
    assert main([*argv, "--min-iou", "2"]) == 1
    assert main([*argv, "--scene", "nope"]) == 1
    assert main([*argv, "--views", "32"]) == 1  # no scene of 10 views has it
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("h3ds-hf check: error:") for line in errors)
