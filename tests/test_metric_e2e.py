"""End to end: prepared dataset -> load_dataset -> reconstructions -> metric == h3ds-hf evaluate.

Also the distributed mode: two processes add their share, process 0 computes over both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import evaluate
import numpy as np
import pytest
from datasets import load_dataset

from h3ds_hf.cli import main
from h3ds_hf.hub.prepare import prepare_dataset
from h3ds_hf.metric import metric_path
from h3ds_hf.release.obj import write_obj

CONFIG = "3-views"
VIEWS = "3"


def _reconstruction(row: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The row's scan scaled, shifted and noisy (mm); same vertex order as the GT."""
    rng = np.random.default_rng(seed)
    vertices = np.asarray(row["vertices"], dtype=np.float64)
    vertices = 1.03 * vertices + [2.0, -1.5, 0.5] + rng.normal(0.0, 0.3, vertices.shape)
    return vertices, np.asarray(row["faces"], dtype=np.int64)


@pytest.fixture(scope="module")
def prepared(synthetic, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("prepared") / "h3ds"
    prepare_dataset(
        synthetic.folder,
        output,
        catalog_path=synthetic.catalog_path,
        configs=[CONFIG],
        progress=False,
    )
    return output


@pytest.fixture(scope="module")
def rows(prepared) -> list[dict]:
    return list(load_dataset(str(prepared), CONFIG, split="test"))


@pytest.fixture(scope="module")
def predictions(rows, tmp_path_factory) -> Path:
    """Reconstruction files named like the paper's, with predicted landmarks."""
    folder = tmp_path_factory.mktemp("predictions") / "my-method"
    folder.mkdir()
    for seed, row in enumerate(rows):
        vertices, faces = _reconstruction(row, seed)
        write_obj(folder / f"{row['scene_id']}_{VIEWS}.obj", vertices, faces)
        landmarks = folder / f"{row['scene_id']}_{VIEWS}.landmarks.json"
        landmarks.write_text(json.dumps(row["landmarks"]))
    return folder


def test_metric_on_dataset_rows_equals_h3ds_hf_evaluate(
    synthetic, rows, predictions, tmp_path, capsys
):
    metric = evaluate.load(metric_path(), cache_dir=str(tmp_path / "cache"))
    for seed, row in enumerate(rows):
        if seed % 2:  # the file and its .landmarks.json, as `h3ds-hf evaluate` reads them
            metric.add(prediction=predictions / f"{row['scene_id']}_{VIEWS}.obj", reference=row)
        else:  # the same reconstruction as arrays
            vertices, faces = _reconstruction(row, seed)
            prediction = {"vertices": vertices, "faces": faces, "landmarks": row["landmarks"]}
            metric.add(prediction=prediction, reference=row)
    result = metric.compute()

    output = tmp_path / "results.json"
    status = main(
        [
            "evaluate",
            "--source",
            str(synthetic.folder),
            "--catalog",
            str(synthetic.catalog_path),
            "--predictions",
            str(predictions),
            "--views",
            VIEWS,
            "--output",
            str(output),
            "--no-progress",
        ]
    )
    assert status == 0
    capsys.readouterr()
    reference = json.loads(output.read_text())
    by_scene = {item["scene_id"]: item for item in reference["results"]}
    assert len(result["per_scene"]) == len(by_scene) == len(rows)
    for item in result["per_scene"]:
        expected = by_scene[item["scene_id"]]["regions"]
        assert item["face_chamfer_mm"] == expected["face"]["gt_to_pred_mm"]
        assert item["head_chamfer_mm"] == expected["head"]["gt_to_pred_mm"]
    summary = reference["summary"][VIEWS]
    assert result["face_chamfer_mm"] == summary["face_chamfer_mm"]
    assert result["head_chamfer_mm"] == summary["head_chamfer_mm"]
    assert result["protocol"] == reference["protocol"] == "h3ds"


def test_scene_ids_with_a_dataset_as_source(prepared, rows, predictions, tmp_path):
    dataset = load_dataset(str(prepared), CONFIG, split="test")
    metric = evaluate.load(metric_path(), keep_in_memory=True, source=dataset)
    paths = [predictions / f"{row['scene_id']}_{VIEWS}.obj" for row in rows]
    by_id = metric.compute(predictions=paths, references=[row["scene_id"] for row in rows])
    by_row = metric.compute(predictions=paths, references=rows)
    assert by_id["per_scene"] == by_row["per_scene"]
    with pytest.raises(ValueError, match=r"item 0 \(scene nope\).*not in the source dataset"):
        metric.compute(predictions=paths[:1], references=["nope"])


def test_distributed_compute_merges_both_processes(prepared, rows, predictions, tmp_path):
    """num_process=2: each process adds half the rows; process 0 returns the whole result."""
    script = textwrap.dedent(
        """
        import json, sys
        import evaluate
        from datasets import load_dataset
        from h3ds_hf.metric import metric_path

        prepared, predictions, cache, process_id, output = sys.argv[1:]
        process_id = int(process_id)
        rows = list(load_dataset(prepared, "3-views", split="test"))
        metric = evaluate.load(
            metric_path(), num_process=2, process_id=process_id,
            experiment_id="h3ds-test", cache_dir=cache, timeout=60,
        )
        for row in rows[process_id::2]:
            path = f"{predictions}/{row['scene_id']}_3.obj"
            metric.add(prediction=path, reference=row)
        result = metric.compute()
        with open(output, "w") as handle:
            json.dump(result, handle)
        """
    )
    cache = tmp_path / "cache"
    outputs = [tmp_path / f"result-{i}.json" for i in range(2)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                str(prepared),
                str(predictions),
                str(cache),
                str(i),
                str(outputs[i]),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
    merged = json.loads(outputs[0].read_text())
    assert json.loads(outputs[1].read_text()) is None

    single = evaluate.load(metric_path(), keep_in_memory=True)
    for row in rows:
        single.add(prediction=predictions / f"{row['scene_id']}_{VIEWS}.obj", reference=row)
    expected = single.compute()
    assert sorted(merged["per_scene"], key=lambda item: item["scene_id"]) == sorted(
        expected["per_scene"], key=lambda item: item["scene_id"]
    )
    assert merged["scenes"] == len(rows) == 3
    assert merged["face_chamfer_mm"] == pytest.approx(expected["face_chamfer_mm"], rel=1e-12)
