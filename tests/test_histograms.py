"""Distance histograms in the results: curves and percentiles from results files alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from h3ds_hf.benchmark.batch import EvaluationOptions, evaluate_folder
from h3ds_hf.benchmark.histograms import (
    BIN_MM,
    CAP_MM,
    cumulative_curve,
    histogram_counts,
    percentile_mm,
    region_histograms,
)
from h3ds_hf.benchmark.report import load_results
from h3ds_hf.errors import H3DSError
from h3ds_hf.evaluation import evaluate_pair, load_prediction
from h3ds_hf.synthetic.predictions import write_synthetic_predictions


@pytest.fixture(scope="module")
def predictions(release, tmp_path_factory):
    folder = tmp_path_factory.mktemp("histograms") / "method"
    return write_synthetic_predictions(release, folder, views_configs=["3"])


def test_counts_curve_and_percentile():
    distances = np.array([0.0, 0.004, 0.015, 1.0, 2.5, 7.99, CAP_MM, 250.0])
    record = region_histograms(distances, distances[:3])
    counts = histogram_counts(record)
    assert counts.sum() == len(distances) and counts[-1] == 2  # two at or above the cap
    assert counts[0] == 2 and counts[1] == 1
    d, fraction = cumulative_curve([record, record], 8.0)
    assert d[-1] == pytest.approx(8.0) and d[1] == pytest.approx(BIN_MM)
    # Exactly "below d" at multiples of the bin: 0.0 and 0.004 are below 0.01 mm.
    assert fraction[1] == pytest.approx(2 / 8) and fraction[-1] == pytest.approx(6 / 8)
    assert percentile_mm([record], 50) == pytest.approx(1.01)
    assert histogram_counts(record, "pred_to_gt").sum() == 3


def test_hostile_histogram_is_refused():
    record = region_histograms(np.ones(3), np.ones(3))
    with pytest.raises(H3DSError, match="invalid distance histogram"):
        histogram_counts({**record, "gt_to_pred": {"counts": "!!", "above_cap": 0}})
    with pytest.raises(H3DSError, match="invalid distance histogram"):
        histogram_counts({**record, "bin_mm": 0.1})


@pytest.mark.parametrize("protocol", ["h3ds", "surface"])
def test_results_keep_histograms_of_the_protocols_distances(release, predictions, protocol):
    run = evaluate_folder(
        release,
        predictions,
        views_configs=["3"],
        progress=False,
        options=EvaluationOptions(protocol=protocol),
    )
    row = run.results[0]
    stem = predictions / f"{row.scene_id}_3"
    pair = evaluate_pair(
        release.ground_truth(row.scene_id),
        load_prediction(stem.with_suffix(".ply")),
        json.loads(stem.with_suffix(".landmarks.json").read_text()),
        protocol=protocol,
        keep_arrays=True,
    )
    for region in ("face", "head"):
        record = row.regions[region]["histograms"]
        expected = pair.regions[region]
        for direction in ("gt_to_pred", "pred_to_gt"):
            distances = getattr(expected, direction)
            counts = histogram_counts(record, direction)
            assert counts.sum() == len(distances)
            assert percentile_mm([record], 50, direction) == pytest.approx(
                np.percentile(distances, 50), abs=2 * BIN_MM
            )


def test_older_results_without_histograms_still_load(release, predictions, tmp_path):
    run = evaluate_folder(release, predictions, views_configs=["3"], progress=False)
    data = run.to_dict()
    for row in data["results"]:
        for scores in row["regions"].values():
            del scores["histograms"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    assert load_results(path)["results"][0]["regions"]["face"]["gt_to_pred_mm"] > 0
