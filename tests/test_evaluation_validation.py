"""Bad inputs get a clear EvaluationError or a flagged result, never a NaN; loading keeps order."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from h3ds_hf.errors import EvaluationError, UnknownRegionError
from h3ds_hf.evaluation import SceneEvaluator, evaluate_pair, load_prediction
from h3ds_hf.release.obj import write_obj
from h3ds_hf.synthetic.release import synthetic_ground_truth


@pytest.fixture(scope="module")
def gt():
    return synthetic_ground_truth(seed=4, subdivisions=3)


def _with(gt, vertices=None, faces=None):
    return (gt.vertices if vertices is None else vertices, gt.faces if faces is None else faces)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda gt: (np.empty((0, 3)), np.empty((0, 3), dtype=int)), "empty"),
        (
            lambda gt: _with(
                gt,
                vertices=np.where(np.arange(len(gt.vertices))[:, None] == 7, np.nan, gt.vertices),
            ),
            "non-finite",
        ),
        (lambda gt: _with(gt, vertices=gt.vertices[:, :2]), "shape"),
        (lambda gt: _with(gt, faces=gt.faces + 1), "face indices"),
        (lambda gt: _with(gt, faces=gt.faces - 1), "face indices"),
        (lambda gt: _with(gt, faces=gt.faces + 0.5), "not integers"),
        (lambda gt: "not a mesh", "expected a mesh"),
    ],
    ids=["empty", "nan", "2d", "index-too-large", "negative-index", "fractional", "type"],
)
@pytest.mark.parametrize("protocol", ["h3ds", "surface"])
def test_invalid_meshes_are_refused(gt, make, message, protocol):
    with pytest.raises(EvaluationError, match=message):
        evaluate_pair(gt, make(gt), protocol=protocol)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lm: {k: v for k, v in lm.items() if k != "left_eye"}, "missing"),
        (lambda lm: {**lm, "chin": 3}, "unknown"),
        (lambda lm: {**lm, "nose_tip": 10**6}, "outside"),
        (lambda lm: {**lm, "nose_tip": -1}, "outside"),
        (lambda lm: {**lm, "nose_tip": 1.5}, "not an integer"),
        (lambda lm: {**lm, "nose_tip": True}, "not an integer"),
        (lambda lm: list(lm.values()), "mapping"),
    ],
    ids=["missing", "unknown", "too-large", "negative", "float", "bool", "list"],
)
def test_bad_landmarks_are_refused(gt, change, message):
    with pytest.raises(EvaluationError, match=message):
        evaluate_pair(gt, _with(gt), change(dict(gt.landmarks)))


def test_collinear_landmarks_are_refused(gt):
    vertices = gt.vertices.copy()
    line = list(gt.landmarks.values())
    vertices[line] = np.outer(np.arange(len(line)), [1.0, 2.0, 3.0])
    with pytest.raises(EvaluationError, match="collinear"):
        evaluate_pair(gt, (vertices, gt.faces), dict(gt.landmarks))


def test_collapsed_prediction_makes_icp_degenerate(gt):
    """Every predicted vertex at one point: ICP's scale collapses to zero."""
    vertices = np.zeros_like(gt.vertices)
    with pytest.raises(EvaluationError, match=r"degenerate|diverged"):
        evaluate_pair(gt, (vertices, gt.faces))


def test_flag_mode_returns_a_failed_result_without_nan(gt):
    result = evaluate_pair(gt, (np.zeros_like(gt.vertices), gt.faces), on_error="flag")
    assert result.failed and result.reason and result.regions == {}
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert json.loads(text)["failed"] is True


@pytest.mark.parametrize("protocol", ["h3ds", "surface"])
def test_results_serialize_to_strict_json(gt, protocol):
    rng = np.random.default_rng(0)
    pred = (gt.vertices + rng.normal(0.0, 0.5, gt.vertices.shape), gt.faces)
    result = evaluate_pair(gt, pred, dict(gt.landmarks), protocol=protocol, keep_arrays=True)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert set(data["regions"]) == {"face", "head"}
    head = data["regions"]["head"]
    assert head["gt_to_pred_mm"] == pytest.approx(result.regions["head"].gt_to_pred.mean())
    assert [f["threshold_mm"] for f in head["fscores"]] == [1.0, 2.5, 5.0]
    assert head["alignment"]["iterations"] >= 1 and len(head["alignment"]["matrix"]) == 4


def test_invalid_options_are_refused(gt):
    with pytest.raises(EvaluationError, match="protocol"):
        evaluate_pair(gt, _with(gt), protocol="chamfer")
    with pytest.raises(EvaluationError, match="alignment"):
        evaluate_pair(gt, _with(gt), protocol="surface", alignment="affine")
    with pytest.raises(EvaluationError, match="similarity"):
        evaluate_pair(gt, _with(gt), alignment="rigid")
    with pytest.raises(UnknownRegionError):
        evaluate_pair(gt, _with(gt), regions=("ears",))
    with pytest.raises(UnknownRegionError):
        SceneEvaluator(gt).reference(gt.vertices, gt.faces, region_id="ears")


def test_point_cloud_scores_under_h3ds_but_not_surface(gt):
    cloud = (gt.vertices, np.empty((0, 3), dtype=np.int64))
    assert evaluate_pair(gt, cloud).regions["head"].gt_to_pred_mm < 1e-9
    with pytest.raises(EvaluationError, match="faces"):
        evaluate_pair(gt, cloud, protocol="surface")


def test_trimesh_and_duck_typed_predictions_are_accepted(gt):
    mesh = trimesh.Trimesh(gt.vertices, gt.faces, process=False)
    expected = evaluate_pair(gt, (gt.vertices, gt.faces)).to_dict()
    assert evaluate_pair(gt, mesh).to_dict() == expected


@pytest.mark.parametrize("suffix", [".ply", ".glb", ".obj"])
def test_load_prediction_keeps_vertex_order(gt, tmp_path, suffix):
    rng = np.random.default_rng(1)
    order = rng.permutation(len(gt.vertices))
    vertices = gt.vertices[order]
    faces = np.argsort(order)[gt.faces]
    path = tmp_path / f"pred{suffix}"
    if suffix == ".obj":
        write_obj(path, vertices, faces)
    else:
        trimesh.Trimesh(vertices, faces, process=False).export(path)
    loaded_vertices, loaded_faces = load_prediction(path)
    assert loaded_vertices.dtype == np.float64 and loaded_faces.dtype == np.int64
    # PLY and GLB store float32.
    np.testing.assert_allclose(loaded_vertices, vertices, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(loaded_faces, faces)


def test_load_prediction_refuses_unknown_and_broken_files(tmp_path):
    with pytest.raises(EvaluationError, match="unsupported"):
        load_prediction(tmp_path / "pred.stl")
    broken = tmp_path / "pred.ply"
    broken.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 10\n")
    with pytest.raises(EvaluationError, match=r"pred\.ply"):
        load_prediction(broken)
    with pytest.raises(EvaluationError):
        load_prediction(tmp_path / "missing.obj")
