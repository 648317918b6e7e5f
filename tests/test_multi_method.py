"""``evaluate --predictions A/ B/`` (or a parent of method folders): one row per method."""

from __future__ import annotations

import json
import shutil

import pytest

from h3ds_hf.benchmark.methods import method_folders
from h3ds_hf.cli import main
from h3ds_hf.errors import EvaluationError
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions


@pytest.fixture(scope="module")
def parent(synthetic, tmp_path_factory):
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    folder = tmp_path_factory.mktemp("methods")
    write_synthetic_predictions(release, folder / "alpha", views_configs=["3"])
    write_synthetic_predictions(release, folder / "beta", views_configs=["3"], seed=1)
    (folder / "notes").mkdir()  # no reconstruction: not a method
    return folder


def test_method_folders(parent, tmp_path):
    assert method_folders([parent]) == [("alpha", parent / "alpha"), ("beta", parent / "beta")]
    assert method_folders([parent / "beta"]) == [("beta", parent / "beta")]
    shutil.copytree(parent / "alpha", tmp_path / "alpha")
    with pytest.raises(EvaluationError, match="named alpha"):
        method_folders([parent / "alpha", tmp_path / "alpha"])


@pytest.mark.parametrize("form", ["parent", "list"])
def test_several_methods_in_one_run(synthetic, parent, tmp_path, capsys, form):
    folders = [parent] if form == "parent" else [parent / "beta", parent / "alpha"]
    code = main([
        "evaluate", "--source", str(synthetic.folder), "--catalog", str(synthetic.catalog_path),
        "--predictions", *map(str, folders), "--output", str(tmp_path / "results.json"),
        "--no-progress", *(["--report", str(tmp_path / "report")] if form == "list" else []),
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "cells face / head" in printed
    rows = [line for line in printed.splitlines() if line.startswith(("| alpha", "| beta"))]
    assert len(rows) == 2
    for name in ("alpha", "beta"):
        data = json.loads((tmp_path / f"results.{name}.json").read_text())
        assert data["method"] == name
        cell = data["summary"]["3"]
        assert f"| {name} | {cell['face_chamfer_mm']:.2f} / {cell['head_chamfer_mm']:.2f} |" in rows
    if form == "list":
        page = (tmp_path / "report" / "index.html").read_text()
        assert 'href="alpha/index.html"' in page and 'href="beta/index.html"' in page
        assert (tmp_path / "report" / "beta" / "index.html").is_file()
        assert f"report: {tmp_path / 'report' / 'index.html'}" in printed


def test_one_method_name_for_several_is_an_error(synthetic, parent, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([
            "evaluate", "--source", str(synthetic.folder), "--catalog",
            str(synthetic.catalog_path), "--predictions", str(parent), "--output",
            str(tmp_path / "r.json"), "--method", "x",
        ])  # fmt: skip
    assert "--method names one method" in capsys.readouterr().err
