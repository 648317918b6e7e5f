"""``h3ds-hf report``: methods side by side with every published baseline."""

from __future__ import annotations

import json

import pytest

from h3ds_hf.benchmark.batch import EvaluationOptions, evaluate_folder
from h3ds_hf.benchmark.compare import compare
from h3ds_hf.benchmark.published import PUBLISHED_RESULTS
from h3ds_hf.cli import main
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions


@pytest.fixture(scope="module")
def results(synthetic, tmp_path_factory):
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    folder = tmp_path_factory.mktemp("compare")
    predictions = write_synthetic_predictions(release, folder / "pred", views_configs=["3"])
    paths = {}
    for name, protocol in (("a", "h3ds"), ("b", "h3ds"), ("s", "surface")):
        run = evaluate_folder(
            release, predictions, options=EvaluationOptions(protocol), progress=False, method=name
        )
        paths[name], _ = run.write(folder / f"{name}.json")
    return paths


def test_report_lists_methods_and_every_published_row(results, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["report", str(results["a"]), str(results["b"]), "--method", "A", "--output",
                 str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    markdown = (out / "table.md").read_text()
    assert markdown.strip() in printed and f"report: {out / 'index.html'}" in printed
    lines = markdown.splitlines()
    assert lines[2].startswith("| A | a.json |") and lines[3].startswith("| b | b.json |")
    published = [line for line in lines if "| published |" in line]
    assert len(published) == sum(
        len({r.method for r in rows}) for rows in PUBLISHED_RESULTS.values()
    )
    for rows in PUBLISHED_RESULTS.values():
        for cell in rows:
            assert f"{cell.face_mm:.2f} / {cell.head_mm:.2f}" in markdown
    page = (out / "index.html").read_text()
    assert page.count('class="published"') == len(published)
    images = [f"curves_3_{region}.png" for region in ("face", "head")]
    assert all(f'src="{name}"' in page and (out / name).stat().st_size > 1000 for name in images)


def test_best_per_column_on_a_published_release(results):
    data = json.loads(results["a"].read_text())
    data["release"] = "v1"
    comparison = compare([data], ["a.json"])
    assert [r.method for r in comparison.rows] == ["a", "IDR", "H3D-Net", "SIRA++"]
    face, head = data["summary"]["3"]["face_chamfer_mm"], data["summary"]["3"]["head_chamfer_mm"]
    assert comparison.best("3", 0) == min(face, 1.13) and comparison.best("3", 1) == min(
        head, 10.52
    )
    row = next(line for line in comparison.markdown().splitlines() if line.startswith("| SIRA++"))
    assert ("**1.13**" in row) == (face > 1.13)


def test_mixing_protocols_is_refused_in_one_line(results, tmp_path, capsys):
    code = main(["report", str(results["a"]), str(results["s"]), "--output", str(tmp_path)])
    error = capsys.readouterr().err
    assert code != 0 and "protocol surface" in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "index.html").exists()
