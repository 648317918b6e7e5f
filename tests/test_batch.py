"""Scoring folders of reconstructions: parallel = serial, missing and failed predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from h3ds_hf.benchmark import batch
from h3ds_hf.benchmark.batch import (
    EvaluationOptions,
    Prediction,
    evaluate_folder,
    find_predictions,
)
from h3ds_hf.benchmark.report import format_table, load_results
from h3ds_hf.errors import EvaluationError
from h3ds_hf.evaluation import evaluate_pair, load_prediction
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions


@pytest.fixture(scope="module")
def predictions(release, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch") / "method"
    return write_synthetic_predictions(release, folder, views_configs=["3", "16"])


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / folder.name))


def test_batch_equals_pairwise_evaluation(release, predictions):
    run = evaluate_folder(release, predictions, views_configs=["3", "16"], progress=False)
    assert [r.status for r in run.results] == ["ok"] * 6
    for row in run.results:
        stem = predictions / f"{row.scene_id}_{row.views_config}"
        landmarks = json.loads(stem.with_suffix(".landmarks.json").read_text())
        pair = evaluate_pair(
            release.ground_truth(row.scene_id), load_prediction(stem.with_suffix(".ply")), landmarks
        )
        for region in ("face", "head"):
            assert row.regions[region]["gt_to_pred_mm"] == pair.regions[region].gt_to_pred_mm
    for config in ("3", "16"):
        expected = [
            r.regions["face"]["gt_to_pred_mm"] for r in run.results if r.views_config == config
        ]
        assert run.summary[config].means_mm["face"] == pytest.approx(sum(expected) / 3, abs=1e-12)


def test_parallel_equals_serial(release, synthetic, predictions):
    serial = evaluate_folder(release, predictions, views_configs=["3"], progress=False)
    # The workers receive the opened encrypted zip, its token held in memory only.
    archive = open_release(synthetic.zip_path, catalog=release.catalog, token=synthetic.token)
    parallel = evaluate_folder(archive, predictions, views_configs=["3"], jobs=2, progress=False)
    assert serial.to_dict() == parallel.to_dict()


def test_default_jobs_use_every_core_only_for_large_benchmarks(tmp_path, monkeypatch):
    # Starting workers costs ~1 s: only predictions adding up to AUTO_JOBS_MIN_BYTES get them.
    monkeypatch.setattr(batch, "available_cores", lambda: 4)
    small, large = tmp_path / "a_1.ply", tmp_path / "b_1.ply"
    small.write_bytes(b"ply")
    with large.open("wb") as handle:  # sparse: the size without the disk space
        handle.truncate(batch.AUTO_JOBS_MIN_BYTES)

    def job(scene_id: str, *paths: Path) -> batch._SceneJob:
        return batch._SceneJob(None, scene_id, [Prediction(scene_id, "1", p) for p in paths])

    assert batch.default_jobs([job("a", small), job("b", small)]) == 1
    assert batch.default_jobs([job("a", small), job("b", large)]) == 4
    assert batch.default_jobs([job("b", large)]) == 1  # one scene: nothing to share out
    assert batch.default_jobs([job("a", tmp_path / "gone.ply"), job("b", small)]) == 1
    monkeypatch.setattr(batch, "available_cores", lambda: 64)
    assert batch.default_jobs([job("a", small), job("b", large)]) == batch.AUTO_JOBS_MAX


def test_missing_and_failed_predictions(release, predictions, tmp_path):
    folder = _copy(predictions, tmp_path)
    first, second, third = release.catalog.scene_ids()
    (folder / f"{first}_3.ply").unlink()
    (folder / f"{second}_3.ply").write_bytes(b"ply\nformat ascii 1.0\nend_header\n")
    (folder / f"{third}_3.landmarks.json").write_text('{"nose_tip": -5}')
    run = evaluate_folder(release, folder, views_configs=["3"], progress=False)
    statuses = {r.scene_id: r.status for r in run.results}
    assert statuses == {first: "missing", second: "failed", third: "failed"}
    assert run.summary["3"].means_mm == {"face": None, "head": None}
    assert "— (0/3 scenes)" in run.table()
    reasons = " ".join(r.reason for r in run.failed)
    assert "nose_tip" in reasons or "landmark" in reasons


def test_allow_missing_averages_what_was_scored(release, predictions, tmp_path):
    folder = _copy(predictions, tmp_path)
    first = release.catalog.scene_ids()[0]
    (folder / f"{first}_16.ply").unlink()
    run = evaluate_folder(release, folder, views_configs=["16"], progress=False)
    assert run.summary["16"].means_mm["head"] is None
    allowed = run.with_missing_allowed()
    scored = [r.regions["head"]["gt_to_pred_mm"] for r in run.results if r.status == "ok"]
    assert allowed.summary["16"].means_mm["head"] == pytest.approx(sum(scored) / 2, abs=1e-12)
    assert "(2/3 scenes)" in format_table([allowed])


def test_ambiguous_predictions(release, predictions, tmp_path):
    folder = _copy(predictions, tmp_path)
    scene_id = release.catalog.scene_ids()[0]
    shutil.copy(folder / f"{scene_id}_3.ply", folder / f"{scene_id}_3.obj")
    with pytest.raises(EvaluationError, match="several reconstructions"):
        find_predictions(folder, [scene_id], ["3"])


def test_results_round_trip(release, predictions, tmp_path):
    run = evaluate_folder(
        release,
        predictions,
        views_configs=["3"],
        progress=False,
        options=EvaluationOptions(protocol="surface"),
    )
    json_path, csv_path = run.write(tmp_path / "out" / "results.json")
    data = load_results(json_path)
    assert data["protocol"] == "surface" and data["release"] == release.catalog.name
    assert all(len(r["sha256"]) == 64 for r in data["results"])
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("method,protocol,scene_id,views_config,region")
    assert all(line.startswith("method,surface,") for line in lines[1:])


def test_prepared_folder_source_equals_raw_release(synthetic, release, predictions, tmp_path):
    from h3ds_hf.hub.ground_truth import open_ground_truth
    from h3ds_hf.hub.prepare import prepare_dataset
    from h3ds_hf.hub.prepared import PreparedRelease

    prepared = tmp_path / "hub"
    prepare_dataset(
        synthetic.folder, prepared, catalog=release.catalog, configs=["3-views"], progress=False
    )
    seen = PreparedRelease(prepared)
    assert seen.catalog.scene_ids() == release.catalog.scene_ids()
    assert seen.catalog.scene_ids(["h3d-net"]) == release.catalog.scene_ids(["h3d-net"])
    scene_id = release.catalog.scene_ids()[1]
    assert seen.catalog.scene(scene_id).views_config("3") == release.catalog.scene(
        scene_id
    ).views_config("3")
    gt, raw = seen.ground_truth(scene_id), release.ground_truth(scene_id)
    assert gt.vertices.dtype == np.float64 and np.array_equal(gt.vertices, raw.vertices)
    assert np.array_equal(gt.faces, raw.faces) and dict(gt.landmarks) == dict(raw.landmarks)
    for name, indices in raw.regions.items():
        assert np.array_equal(gt.regions[name], indices)
    from_prepared = evaluate_folder(
        open_ground_truth(prepared), predictions, views_configs=["3"], progress=False
    )
    from_raw = evaluate_folder(release, predictions, views_configs=["3"], progress=False)

    # Same scores; only the recorded ground-truth inputs differ (files vs a Parquet row group).
    def scores(run):
        return [{k: v for k, v in r.items() if k != "inputs"} for r in run.to_dict()["results"]]

    assert scores(from_prepared) == scores(from_raw)
    assert all("3-views/test-00000-of-00001.parquet" in r.inputs for r in from_prepared.results)
    # A download of the published repository has no prepare manifest (it stays local).
    downloaded = Path(shutil.copytree(prepared, tmp_path / "download"))
    (downloaded / ".h3ds-hf-prepare.json").unlink()
    from_download = evaluate_folder(
        open_ground_truth(downloaded), predictions, views_configs=["3"], progress=False
    )
    assert scores(from_download) == scores(from_raw)
    assert from_download.release == release.catalog.name


def test_default_views_are_those_with_reconstructions(release, predictions, tmp_path):
    run = evaluate_folder(release, predictions, progress=False)
    assert run.views_configs == ["3", "16"]
    assert not run.missing
    with pytest.raises(EvaluationError, match="no reconstruction"):
        evaluate_folder(release, tmp_path, progress=False)


def test_dask_cluster_equals_serial(release, predictions):
    distributed = pytest.importorskip(
        "distributed", reason="the 'dask' extra is not installed (pip install -e '.[dask]')"
    )
    serial = evaluate_folder(release, predictions, views_configs=["3"], progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_cluster = evaluate_folder(
            release, predictions, views_configs=["3"], progress=False, client=client
        )
        # Each scene was a task of one of the two worker processes.
        assert len(client.scheduler_info()["workers"]) == 2
    assert serial.to_dict() == on_cluster.to_dict()
