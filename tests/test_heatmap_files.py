"""``--heatmaps DIR``: PLY with a scalar ``error_mm`` and vertex-coloured GLB, read back by
trimesh, carrying the protocol's own distances and the report's clip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from h3ds_hf.benchmark.batch import EvaluationOptions, evaluate_folder
from h3ds_hf.benchmark.heatmaps import region_clips
from h3ds_hf.evaluation import evaluate_pair, load_prediction
from h3ds_hf.render.colours import error_colours
from h3ds_hf.synthetic.predictions import write_synthetic_predictions


@pytest.fixture(scope="module")
def predictions(release, tmp_path_factory):
    folder = tmp_path_factory.mktemp("heatmap-files") / "method"
    return write_synthetic_predictions(release, folder, views_configs=["3"])


@pytest.mark.parametrize("protocol", ["h3ds", "surface"])
def test_heatmap_files(release, predictions, tmp_path, protocol):
    folder = tmp_path / "heat"
    options = EvaluationOptions(protocol=protocol, heatmaps=folder)
    run = evaluate_folder(release, predictions, options=options, progress=False)
    assert len(list(folder.glob("*.ply"))) == len(list(folder.glob("*.glb"))) == 3 * 2 * 2
    row = run.results[0]
    stem = f"{row.scene_id}_3"
    gt = release.ground_truth(row.scene_id)
    pair = evaluate_pair(
        gt,
        load_prediction(predictions / f"{stem}.ply"),
        json.loads((predictions / f"{stem}.landmarks.json").read_text()),
        protocol=protocol,
    )
    clips = region_clips(run)
    for region in ("face", "head"):
        ply = trimesh.load(folder / f"{stem}.{region}.gt_heatmap.ply", process=False)
        raw = ply.metadata["_ply_raw"]["vertex"]["data"]
        errors = np.asarray(raw["error_mm"], dtype=np.float64)
        assert len(errors) == len(gt.vertices)  # the whole head, NaN outside the region
        scored = errors[~np.isnan(errors)]
        assert scored.mean() == pytest.approx(pair.regions[region].gt_to_pred_mm, rel=1e-5)
        assert np.array_equal(ply.visual.vertex_colors[:, :3], error_colours(errors, clips[region]))
        pred = trimesh.load(folder / f"{stem}.{region}.pred_heatmap.ply", process=False)
        pred_errors = np.asarray(pred.metadata["_ply_raw"]["vertex"]["data"]["error_mm"])
        assert np.nanmean(pred_errors) == pytest.approx(
            pair.regions[region].pred_to_gt_mm, rel=1e-5
        )
        scene = trimesh.load(folder / f"{stem}.{region}.gt_heatmap.glb", process=False)
        (mesh,) = scene.geometry.values()
        assert len(mesh.vertices) == len(gt.vertices)
        assert np.array_equal(mesh.visual.vertex_colors, ply.visual.vertex_colors)
    face = trimesh.load(folder / f"{stem}.face.gt_heatmap.ply", process=False)
    raw = face.metadata["_ply_raw"]["vertex"]["data"]["error_mm"]
    assert np.isnan(raw).sum() == len(gt.vertices) - len(gt.regions["face_sphere"])
    assert (face.visual.vertex_colors[np.isnan(raw), :3] == 170).all()  # grey, not red
