"""The h3ds_chamfer evaluate metric: inputs it accepts, what it returns, how it refuses.

Every number is compared with h3ds_hf's own evaluation on the same inputs, so the metric is
checked to be the thin adapter it claims to be.
"""

from __future__ import annotations

from pathlib import Path

import evaluate
import numpy as np
import pytest
import trimesh

import h3ds_hf
from h3ds_hf.evaluation import SceneEvaluator, evaluate_pair
from h3ds_hf.metric import METRIC_NAME, metric_path
from h3ds_hf.release.obj import write_obj
from h3ds_hf.release.reader import open_release
from h3ds_hf.scene import GroundTruth
from h3ds_hf.synthetic.release import synthetic_ground_truth

REPOSITORY = Path(__file__).resolve().parents[1]


def _row(gt: GroundTruth) -> dict:
    """A dataset row as load_dataset returns it (python lists), with an extra column."""
    return {
        "scene_id": gt.scene_id,
        "release": "synthetic",
        "vertices": gt.vertices.tolist(),
        "faces": gt.faces.astype(np.int32).tolist(),
        "landmarks": dict(gt.landmarks),
        "regions": {name: indices.tolist() for name, indices in gt.regions.items()},
        "views": [],
    }


def _reconstruction(gt: GroundTruth, seed: int) -> dict:
    """GT moved by a similarity, plus noise (mm); same vertex order, so GT landmarks apply."""
    rng = np.random.default_rng(seed)
    angle = 0.2
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    vertices = 1.05 * gt.vertices @ rotation.T + [3.0, -1.0, 2.0]
    vertices += rng.normal(0.0, 0.4, vertices.shape)
    return {"vertices": vertices, "faces": gt.faces, "landmarks": dict(gt.landmarks)}


@pytest.fixture(scope="module")
def scenes() -> list[GroundTruth]:
    return [synthetic_ground_truth(seed=3, index=i, subdivisions=4) for i in range(2)]


@pytest.fixture
def metric(tmp_path: Path) -> evaluate.EvaluationModule:
    return evaluate.load(metric_path(), cache_dir=str(tmp_path / "cache"), keep_in_memory=True)


def _expected(gt: GroundTruth, prediction: dict, **options) -> dict:
    result = evaluate_pair(
        gt, (prediction["vertices"], prediction["faces"]), prediction.get("landmarks"), **options
    )
    return {name: region.gt_to_pred_mm for name, region in result.regions.items()}


def test_metric_path_is_the_installed_folder():
    folder = Path(metric_path())
    assert folder.name == METRIC_NAME
    assert (folder / f"{METRIC_NAME}.py").is_file()
    assert (folder / "README.md").is_file()


def test_rows_give_the_library_numbers(metric, scenes):
    predictions = [_reconstruction(gt, seed) for seed, gt in enumerate(scenes)]
    for prediction, gt in zip(predictions, scenes, strict=True):
        metric.add(prediction=prediction, reference=_row(gt))
    result = metric.compute()

    expected = [_expected(gt, p) for gt, p in zip(scenes, predictions, strict=True)]
    assert [item["scene_id"] for item in result["per_scene"]] == [gt.scene_id for gt in scenes]
    for item, numbers in zip(result["per_scene"], expected, strict=True):
        assert item["face_chamfer_mm"] == numbers["face"]
        assert item["head_chamfer_mm"] == numbers["head"]
    assert result["face_chamfer_mm"] == pytest.approx(np.mean([e["face"] for e in expected]))
    assert result["head_chamfer_mm"] == pytest.approx(np.mean([e["head"] for e in expected]))
    assert result["scenes"] == 2
    assert result["protocol"] == "h3ds"
    assert result["package_version"] == h3ds_hf.__version__
    assert 0.0 < result["face_chamfer_mm"] < 2.0  # noise of 0.4 mm, well aligned


def test_mesh_objects_files_and_ground_truths_are_accepted(metric, scenes, tmp_path):
    gt = scenes[0]
    prediction = _reconstruction(gt, seed=7)
    mesh = trimesh.Trimesh(prediction["vertices"], prediction["faces"], process=False)
    obj_path = tmp_path / "pred.obj"
    write_obj(obj_path, prediction["vertices"], prediction["faces"])
    ply_path = tmp_path / "pred.ply"
    mesh.export(ply_path)
    inputs = [mesh, str(obj_path), ply_path, (prediction["vertices"], prediction["faces"])]
    metric.add_batch(predictions=inputs, references=[gt] * len(inputs))
    result = metric.compute(regions=["face"])

    expected = _expected(gt, {**prediction, "landmarks": None}, regions=["face"])
    values = [item["face_chamfer_mm"] for item in result["per_scene"]]
    assert values[1] == expected["face"]  # OBJ keeps the float64 values
    assert values[0] == values[3] == expected["face"]
    assert values[2] == pytest.approx(expected["face"], abs=1e-4)  # PLY stores float32
    assert "head_chamfer_mm" not in result


def test_compute_with_inputs_and_the_surface_protocol(metric, scenes):
    gt = scenes[1]
    prediction = _reconstruction(gt, seed=2)
    result = metric.compute(predictions=[prediction], references=[gt], protocol="surface")
    pair = evaluate_pair(
        gt, (prediction["vertices"], prediction["faces"]), gt.landmarks, protocol="surface"
    )
    face = pair.regions["face"]
    assert result["protocol"] == "surface"
    assert result["face_chamfer_mm"] == face.gt_to_pred_mm
    assert result["face_pred_to_gt_mm"] == face.pred_to_gt_mm
    assert result["face_gt_to_pred_p90_mm"] == face.gt_to_pred_p90_mm
    for score in face.fscores:
        assert result[f"face_fscore_{score.threshold_mm:g}mm"] == score.fscore
    assert result["head_pred_to_gt_median_mm"] == pair.regions["head"].pred_to_gt_median_mm
    assert set(result["per_scene"][0]) - {"scene_id"} <= set(result)


def test_scene_ids_with_a_source(synthetic, tmp_path):
    metric = evaluate.load(
        metric_path(),
        cache_dir=str(tmp_path / "cache"),
        keep_in_memory=True,
        source=synthetic.folder,
        catalog=synthetic.catalog_path,
    )
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    scene_ids = release.catalog.scene_ids()[:2]
    gts = [release.ground_truth(scene_id) for scene_id in scene_ids]
    predictions = [_reconstruction(gt, seed) for seed, gt in enumerate(gts)]
    metric.add_batch(predictions=predictions, references=scene_ids)
    result = metric.compute()
    for item, gt, prediction in zip(result["per_scene"], gts, predictions, strict=True):
        expected = SceneEvaluator(gt).evaluate(
            (prediction["vertices"], prediction["faces"]), prediction["landmarks"]
        )
        assert item["scene_id"] == gt.scene_id
        assert item["face_chamfer_mm"] == expected.regions["face"].gt_to_pred_mm


@pytest.mark.parametrize(
    ("prediction", "reference", "message"),
    [
        (
            {"vertices": np.full((4, 3), np.nan), "faces": [[0, 1, 2]]},
            "row",
            r"item 0 \(scene \w+\).*non-finite",
        ),
        ({"vertices": np.zeros((3, 3)), "faces": [[0, 1, 5]]}, "row", r"item 0 .*face indices"),
        ("missing.ply", "row", r"item 0 .*missing\.ply"),
        ("mesh.stl", "row", r"item 0 .*unsupported mesh type"),
        ({"faces": [[0, 1, 2]]}, "row", r"item 0 .*needs 'vertices'"),
        (
            {"vertices": np.zeros((3, 3)), "landmarks": {"nose_tip": 0}},
            "row",
            r"item 0 .*landmark names",
        ),
        ({"vertices": np.zeros((3, 3))}, "abc", r"item 0 \(scene abc\).*without ground truth"),
        ({"vertices": np.zeros((3, 3))}, {"vertices": [[0, 0, 0]]}, r"item 0.*'scene_id'"),
        (
            {"vertices": np.zeros((3, 3))},
            "float32 row",
            r"item 0 \(scene \w+\).*float32.*with_format",
        ),
        (
            {"vertices": np.zeros((3, 3))},
            {"scene_id": "abc", "vertices": [[0.0, 0.0, 0.0]], "faces": [[0, 0, 0]]},
            r"item 0 \(scene abc\).*lacks \['landmarks', 'regions'\]",
        ),
    ],
)
def test_bad_items_name_the_item_and_the_reason(
    metric, scenes, tmp_path, prediction, reference, message
):
    if reference == "row":
        reference = _row(scenes[0])
    elif reference == "float32 row":  # what .with_format("numpy") gives
        reference = {**_row(scenes[0]), "vertices": scenes[0].vertices.astype(np.float32)}
    if prediction == "mesh.stl":
        (tmp_path / prediction).write_bytes(b"solid empty")
        prediction = tmp_path / prediction
    with pytest.raises(ValueError, match=message):
        metric.add(prediction=prediction, reference=reference)


def test_the_item_index_counts_what_was_added_before(metric, scenes):
    good = _reconstruction(scenes[0], seed=0)
    metric.add(prediction=good, reference=_row(scenes[0]))
    bad = {"vertices": np.zeros((0, 3))}
    with pytest.raises(ValueError, match=r"item 2 \(scene \w+\).*empty"):
        metric.add_batch(predictions=[good, bad], references=[scenes[0], scenes[1]])


def test_lengths_protocols_and_regions_are_checked(metric, scenes):
    prediction = _reconstruction(scenes[0], seed=0)
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        metric.add_batch(predictions=[prediction, prediction], references=[scenes[0]])
    metric.add(prediction=prediction, reference=scenes[0])
    with pytest.raises(ValueError, match="unknown protocol 'icp'"):
        metric.compute(protocol="icp")
    with pytest.raises(ValueError, match="unknown region"):
        metric.compute(regions=("nose",))
    # The refused options did not consume what was added.
    assert metric.compute()["scenes"] == 1


def test_a_prediction_the_evaluation_refuses_names_the_scene(metric, scenes):
    # Three landmarks on one vertex: the landmark Procrustes is degenerate.
    gt = scenes[0]
    prediction = {
        "vertices": gt.vertices,
        "faces": gt.faces,
        "landmarks": dict.fromkeys(gt.landmarks, 0),
    }
    metric.add(prediction=prediction, reference=gt)
    with pytest.raises(ValueError, match=rf"item 0 \(scene {gt.scene_id}\)"):
        metric.compute()


def test_loads_by_name_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(REPOSITORY)
    assert (REPOSITORY / METRIC_NAME).resolve() == Path(metric_path()).resolve()
    metric = evaluate.load(METRIC_NAME, keep_in_memory=True)
    assert type(metric).__name__ == "H3dsChamfer"


def test_loads_by_path_from_anywhere_offline(monkeypatch, tmp_path, scenes):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    metric = evaluate.load(metric_path(), keep_in_memory=True)
    gt = scenes[0]
    result = metric.compute(predictions=[gt], references=[gt])
    assert result["face_chamfer_mm"] == pytest.approx(0.0, abs=1e-9)
    assert list(tmp_path.iterdir()) == []  # nothing written into the working directory
