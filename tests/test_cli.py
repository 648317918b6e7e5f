"""The h3ds-hf command line: info, extract, evaluate; errors are one line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from h3ds_hf.cli import main
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions


@pytest.fixture(scope="module")
def predictions(synthetic, tmp_path_factory) -> Path:
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    folder = tmp_path_factory.mktemp("predictions") / "my-method"
    return write_synthetic_predictions(release, folder, views_configs=["3", "8"])


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed console entry point's module, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "h3ds_hf.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_info_on_folder_and_zip(synthetic, capsys, monkeypatch):
    assert main(["info", str(synthetic.folder), "--catalog", str(synthetic.catalog_path)]) == 0
    out = capsys.readouterr().out
    assert "3 (34-34 views each)" in out and "nothing, the release is complete" in out
    monkeypatch.setenv("H3DS_ACCESS_TOKEN", synthetic.token)
    assert main(["info", str(synthetic.zip_path), "--catalog", str(synthetic.catalog_path)]) == 0
    assert synthetic.token not in capsys.readouterr().out


def test_info_lists_missing_files(synthetic, tmp_path, capsys):
    import shutil

    copy = Path(shutil.copytree(synthetic.folder, tmp_path / "release"))
    scene_id = synthetic.catalog.scene_ids()[0]
    (copy / scene_id / "landmarks.txt").unlink()
    assert main(["info", str(copy), "--catalog", str(synthetic.catalog_path)]) == 1
    assert f"{scene_id}/landmarks.txt" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("token", "message"),
    [("wrong", "does not decrypt"), (None, "H3DS_ACCESS_TOKEN")],
)
def test_errors_are_one_line_without_traceback(synthetic, tmp_path, token, message):
    env = {k: v for k, v in __import__("os").environ.items() if k != "H3DS_ACCESS_TOKEN"}
    if token:
        env["H3DS_ACCESS_TOKEN"] = token
    done = run_cli("extract", str(synthetic.zip_path), str(tmp_path / "out"), env=env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_extract_command(synthetic, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("H3DS_ACCESS_TOKEN", synthetic.token)
    target = tmp_path / "h3ds"
    args = [
        "extract",
        str(synthetic.zip_path),
        str(target),
        "--catalog",
        str(synthetic.catalog_path),
        "--no-progress",
    ]
    assert main(args) == 0
    assert (target / "version.txt").read_text().strip() == "synthetic-0.1"
    assert synthetic.token not in capsys.readouterr().out


def test_evaluate_command(synthetic, predictions, tmp_path, capsys):
    output = tmp_path / "results.json"
    code = main([
        "evaluate", "--source", str(synthetic.folder), "--catalog", str(synthetic.catalog_path),
        "--predictions", str(predictions), "--views", "3,8", "--output", str(output),
        "--no-progress", "--heatmaps", str(tmp_path / "heat"),
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    results = json.loads(output.read_text())
    assert results["format"] == "h3ds-hf-results/1" and results["protocol"] == "h3ds"
    assert all(r["status"] == "ok" for r in results["results"])
    for config in ("3", "8"):
        summary = results["summary"][config]
        assert summary["complete"]
        cell = f"{summary['face_chamfer_mm']:.2f} / {summary['head_chamfer_mm']:.2f}"
        assert cell in printed
    assert "| my-method |" in printed
    assert output.with_suffix(".csv").read_text().count("\n") == 1 + 3 * 2 * 2
    assert len(list((tmp_path / "heat").glob("*.ply"))) == 3 * 2 * 4


def test_evaluate_unknown_views_is_an_error(synthetic, predictions, tmp_path):
    done = run_cli(
        "evaluate", "--source", str(synthetic.folder), "--catalog", str(synthetic.catalog_path),
        "--predictions", str(predictions), "--views", "5", "--output", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert done.returncode == 1 and "unknown views config" in done.stderr
    assert "Traceback" not in done.stderr


def test_version_and_help():
    done = run_cli("--help")
    assert done.returncode == 0
    for command in ("info", "extract", "evaluate", "demo"):
        assert command in done.stdout
