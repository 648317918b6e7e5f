"""``evaluate --report``: the page, its rendered heatmaps and curves, decoded as images."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from h3ds_hf.benchmark.batch import EvaluationOptions, evaluate_folder
from h3ds_hf.benchmark.histograms import percentile_mm
from h3ds_hf.benchmark.html_report import drawn_pairs, region_clips, write_report
from h3ds_hf.cli import main
from h3ds_hf.render.colours import default_clip_mm, error_colours
from h3ds_hf.synthetic.predictions import write_synthetic_predictions


@pytest.fixture(scope="module")
def predictions(release, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report") / "method"
    return write_synthetic_predictions(release, folder, views_configs=["3", "16"])


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def _colour_bar(image: np.ndarray) -> bool:
    """A vertical scale at the right: red above green in one pixel column."""
    strip = image[:, int(0.85 * image.shape[1]) :]
    red = np.all(np.abs(strip - [255, 0, 0]) < 60, axis=2)
    green = np.all(np.abs(strip - [0, 255, 0]) < 60, axis=2)
    columns = np.flatnonzero(red.sum(axis=0) > 5)
    return any(
        green[:, c].sum() > 5
        and np.flatnonzero(red[:, c]).max() < np.flatnonzero(green[:, c]).min()
        for c in columns
    )


def test_clip_rule():
    assert [default_clip_mm(p) for p in (0.4, 1.0, 1.3, 2.2, 4.9, 11.0, 0.0)] == [
        0.5, 1.0, 2.0, 2.5, 5.0, 20.0, 1.0,
    ]  # fmt: skip
    colours = error_colours(np.array([0.0, 2.5, 5.0, 50.0, np.nan]), 5.0)
    assert colours.tolist() == [[0, 255, 0], [255, 255, 0], [255, 0, 0], [255, 0, 0], [170] * 3]


@pytest.mark.parametrize("protocol", ["h3ds", "surface"])
def test_report_page_and_pictures(release, predictions, tmp_path, protocol):
    options = EvaluationOptions(protocol=protocol)
    configs = ["3", "16"] if protocol == "h3ds" else ["3"]
    run = evaluate_folder(
        release, predictions, views_configs=configs, options=options, progress=False
    )
    clips = region_clips(run)
    for region, clip in clips.items():  # per region, from the run's distances
        records = [r.regions[region]["histograms"] for r in run.results]
        assert clip == default_clip_mm(percentile_mm(records, 95))
    if protocol == "h3ds":
        assert clips["face"] < clips["head"]
    page = write_report(run, release, predictions, tmp_path / "report", options, size=96)
    text = page.read_text()
    assert "face / head" in text and f"protocol <b>{protocol}</b>" in text
    links = re.findall(r'src="([^"]+)"', text)
    assert links and all(not link.startswith(("/", "http")) for link in links)
    assert "<script" not in text
    pairs = drawn_pairs(run)
    assert len(pairs) == 3 * len(configs)
    assert f"{len(pairs)} of {len(pairs)} scored pairs drawn" in text
    for link in links:
        image = _pixels(page.parent / link)
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50, link  # not blank
        if "heatmaps/" in link:
            assert _colour_bar(image), link
    face_gt = _pixels(page.parent / f"heatmaps/{pairs[0].scene_id}_3.face.gt.png")
    greyish = (np.ptp(face_gt, axis=2) < 6) & (face_gt[..., 0] < 200) & (face_gt[..., 0] > 40)
    assert greyish.sum() > 500  # the back of the head: not scored, grey


def test_cli_report_scenes_all_and_clip(synthetic, release, predictions, tmp_path, capsys):
    code = main([
        "evaluate", "--source", str(synthetic.folder), "--catalog", str(synthetic.catalog_path),
        "--predictions", str(predictions), "--views", "3", "--output", str(tmp_path / "r.json"),
        "--report", str(tmp_path / "report"), "--report-scenes", "all", "--clip-mm", "3",
        "--no-progress",
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'report' / 'index.html'}" in out
    text = (tmp_path / "report" / "index.html").read_text()
    assert "face 3 mm, head 3 mm" in text and "given with --clip-mm" in text
    assert len(list((tmp_path / "report" / "heatmaps").glob("*.png"))) == 3 * 2 * 2
