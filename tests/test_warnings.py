"""Scores that must not be silent: a mesh in metres, a misnamed landmarks file, implausible fits
are warned about in the results JSON, the table, the metric and the logs (never rescored)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh

from h3ds_hf.benchmark.batch import EvaluationOptions, evaluate_folder
from h3ds_hf.cli import main
from h3ds_hf.errors import EvaluationError
from h3ds_hf.evaluation.plausibility import fit_warnings, unit_warning
from h3ds_hf.evaluation.results import AlignmentDiagnostics
from h3ds_hf.metric import score
from h3ds_hf.synthetic.predictions import synthetic_prediction, write_synthetic_predictions


@pytest.fixture(scope="module")
def millimetres(release, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("warnings") / "mm"
    return write_synthetic_predictions(release, folder, views_configs=["3"])


@pytest.fixture(scope="module")
def metres(millimetres, tmp_path_factory) -> Path:
    """The same reconstructions written in metres."""
    folder = tmp_path_factory.mktemp("warnings") / "metres"
    shutil.copytree(millimetres, folder)
    for path in folder.glob("*.ply"):
        mesh = trimesh.load(path, process=False, maintain_order=True)
        mesh.vertices = mesh.vertices / 1000
        path.write_bytes(mesh.export(file_type="ply"))
    return folder


def _without_landmarks(folder: Path, tmp_path: Path) -> Path:
    copy = Path(shutil.copytree(folder, tmp_path / folder.name))
    for path in copy.glob("*.landmarks.json"):
        path.unlink()
    return copy


@pytest.mark.parametrize(
    ("landmarks", "protocol", "alignment"),
    [(True, "h3ds", "similarity"), (False, "h3ds", "similarity"), (False, "surface", "rigid")],
)
def test_metres_warn_in_json_and_table(
    release, metres, millimetres, tmp_path, landmarks, protocol, alignment
):
    folder = metres if landmarks else _without_landmarks(metres, tmp_path)
    options = EvaluationOptions(protocol, ("face", "head"), alignment)
    run = evaluate_folder(release, folder, options=options, progress=False)
    assert all(r.status == "ok" for r in run.results)
    for result in run.results:
        assert any("is the prediction in metres?" in w for w in result.warnings)
    data = run.to_dict()
    assert sum("metres?" in w for w in data["warnings"]) == len(run.results)
    assert all(r["warnings"] for r in data["results"])
    table = run.table()
    assert "(!)" in table.splitlines()[2] and "warning(s): the numbers may be wrong" in table
    # The mm reconstructions of the same shapes: no warning, no marker.
    clean = evaluate_folder(
        release,
        millimetres if landmarks else _without_landmarks(millimetres, tmp_path / "mm"),
        options=options,
        progress=False,
    )
    assert clean.all_warnings() == [] and "(!)" not in clean.table()
    if landmarks:  # the landmark Procrustes rescales metres: the score itself looks fine
        assert run.summary["3"].means_mm == pytest.approx(clean.summary["3"].means_mm, rel=1e-6)


def test_metres_warn_in_the_metric_and_logs(release, caplog):
    gt = release.ground_truth(release.catalog.scene_ids()[0])
    vertices, faces = synthetic_prediction(gt, 3)
    item = {"vertices": vertices / 1000, "faces": faces, "landmarks": None}
    reference = {"scene_id": gt.scene_id, "vertices": None}
    with caplog.at_level("WARNING"):
        out = score([item], [reference], load_ground_truth=lambda _sid: gt)
    assert any("metres" in w for w in out["warnings"]) and out["warnings"][0].startswith("item 0")
    assert out["per_scene"][0]["warnings"] and "warnings" not in [k for k in out if "mm" in k]
    assert "is the prediction in metres?" in caplog.text
    clean = score([dict(item, vertices=vertices)], [reference], load_ground_truth=lambda _s: gt)
    assert clean["warnings"] == [] and clean["per_scene"][0]["warnings"] == []


def test_metres_warn_on_the_command_line(synthetic, metres, tmp_path, capsys, caplog):
    output = tmp_path / "r.json"
    argv = ["evaluate", "--source", str(synthetic.folder), "--catalog", str(synthetic.catalog_path)]
    argv += ["--predictions", str(metres), "--output", str(output), "--no-progress"]
    with caplog.at_level("WARNING"):
        assert main(argv) == 0
    assert "metres?" in caplog.text and "(!)" in capsys.readouterr().out
    assert json.loads(output.read_text())["warnings"]


def test_misnamed_files_are_listed_with_the_expected_name(
    synthetic, release, millimetres, tmp_path, capsys
):
    folder = Path(shutil.copytree(millimetres, tmp_path / "method"))
    first, second, third = release.catalog.scene_ids()
    (folder / f"{first}_3.landmarks.json").rename(folder / f"{first}_3_landmarks.json")
    (folder / f"{second}_3.ply").rename(folder / f"{second}_3views.ply")
    (folder / f"{third}_3.ply").rename(folder / f"{third}_3.PLY")  # accepted: any case
    (folder / "notes.txt").write_text("")
    run = evaluate_folder(release, folder, progress=False)
    assert [r.status for r in run.results] == ["ok", "missing", "ok"]
    assert run.results[0].landmarks_used is False and run.results[2].landmarks_used
    assert set(run.warnings) == {
        f"{first}_3_landmarks.json matches no expected name: rename it "
        f"{first}_3.landmarks.json; ignored",
        f"{second}_3.landmarks.json belongs to no prediction (no {second}_3.ply|obj|glb): ignored",
        f"{second}_3views.ply matches no expected name: rename it {second}_3.ply; ignored",
        "notes.txt matches no expected name ({scene_id}_{views}.ply|obj|glb or "
        ".landmarks.json); ignored",
    }
    assert "rename it" in run.table()
    with pytest.raises(EvaluationError, match=r"3_landmarks\.json"):
        evaluate_folder(release, folder, progress=False, strict=True)
    argv = ["evaluate", "--source", str(synthetic.folder), "--catalog", str(synthetic.catalog_path)]
    argv += ["--predictions", str(folder), "--output", str(tmp_path / "r.json"), "--no-progress"]
    assert main([*argv, "--strict"]) == 1
    err = capsys.readouterr().err
    assert err.count(": error: ") == 1 and "rename it" in err


def test_misnamed_landmarks_change_the_score_and_say_so(release, millimetres, tmp_path):
    """The issue's case: an underscore instead of a dot changes the 3-views cell."""
    folder = Path(shutil.copytree(millimetres, tmp_path / "method"))
    for path in folder.glob("*.landmarks.json"):
        path.rename(path.with_name(path.name.replace(".landmarks.json", "_landmarks.json")))
    good = evaluate_folder(release, millimetres, progress=False)
    bad = evaluate_folder(release, folder, progress=False)
    assert bad.summary["3"].means_mm != good.summary["3"].means_mm
    assert len(bad.warnings) == 3 and all("rename it" in w for w in bad.warnings)
    assert good.warnings == ()


def test_results_record_every_input(release, millimetres):
    run = evaluate_folder(release, millimetres, progress=False)
    data = run.to_dict()
    assert len(data["inputs"]["catalog"]) == 64
    for result in data["results"]:
        stem = f"{result['scene_id']}_{result['views_config']}"
        scene = result["scene_id"]
        assert set(result["inputs"]) == {f"{stem}.ply", f"{stem}.landmarks.json"} | {
            f"{scene}/{name}"
            for name in ["full_head.obj", "landmarks.txt", "regions/face.txt",
                         "regions/face_sphere.txt", "regions/nose.txt"]
        }  # fmt: skip
        assert result["inputs"][f"{stem}.ply"] == result["sha256"]


def test_fit_warnings_bounds():
    def fit(scale: float, rms: float = 1.0, reflection: bool = False) -> AlignmentDiagnostics:
        return AlignmentDiagnostics(3, rms, scale, reflection, ((1.0,),))

    assert fit_warnings("face", fit(1.0)) == []
    assert "rescaled the prediction by 2.5" in fit_warnings("face", fit(0.4))[0]
    assert "RMS is 30 mm" in fit_warnings("head", fit(1.0, 30.0))[0]
    assert "reflection" in fit_warnings("head", fit(1.0, 1.0, True))[0]
    head = np.random.default_rng(0).normal(scale=80, size=(100, 3))
    assert unit_warning(head * 0.6, head) is None  # a face-only reconstruction is smaller
    assert "centimetres" in unit_warning(head / 10, head)
