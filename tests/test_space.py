"""The h3ds_chamfer Space with the real gradio: its handlers, its Blocks driven through
gradio_client on 127.0.0.1, the Hub leaderboard against the stub, and ``h3ds-hf space``."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomllib
import trimesh
import yaml

if os.environ.get("CI"):  # CI installs the `space` extra: these tests never skip there
    import gradio as gr
else:
    gr = pytest.importorskip("gradio")

from hub_stub import HubStub
from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml

from h3ds_hf.benchmark.report import EvaluationRun, load_results
from h3ds_hf.cli import main
from h3ds_hf.evaluation import SceneEvaluator, load_prediction
from h3ds_hf.hub.ground_truth import open_ground_truth
from h3ds_hf.hub.prepare import prepare_dataset
from h3ds_hf.metric import metric_path
from h3ds_hf.release.reader import open_release
from h3ds_hf.space.app import SpaceApp, build_demo, one_line
from h3ds_hf.space.errormesh import error_colors
from h3ds_hf.space.names import SDK_VERSION
from h3ds_hf.space.settings import SpaceSettings
from h3ds_hf.space.tables import benchmark_table
from h3ds_hf.space.uploads import (
    UploadError,
    extract_predictions,
    parse_prediction_name,
)
from h3ds_hf.synthetic.predictions import write_synthetic_predictions

ROOT = Path(__file__).resolve().parent.parent
VIEWS = "3"


@pytest.fixture(scope="module")
def prepared(synthetic, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("space-prepared") / "h3ds"
    prepare_dataset(
        synthetic.folder,
        output,
        catalog_path=synthetic.catalog_path,
        configs=[f"{VIEWS}-views"],
        progress=False,
    )
    return output


@pytest.fixture(scope="module")
def predictions(synthetic, tmp_path_factory) -> Path:
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    folder = tmp_path_factory.mktemp("space-predictions") / "my-method"
    return write_synthetic_predictions(release, folder, views_configs=[VIEWS])


@pytest.fixture(scope="module")
def archive(predictions) -> Path:
    """The predictions folder zipped under its own name, as a user zips it, with a file of a
    views config the dataset does not hold."""
    path = predictions.parent / "my-method.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(predictions.iterdir()):
            zf.write(file, f"my-method/{file.name}")
        zf.writestr("my-method/0000abdb093ccf08_99.ply", b"not scored")
    return path


@pytest.fixture(scope="module")
def app(prepared) -> SpaceApp:
    return SpaceApp(SpaceSettings(str(prepared)))


# ------------------------------------------------------------------------------ uploads


def test_the_file_name_says_the_scene_and_views():
    parsed = parse_prediction_name("0000abdb093ccf08_3.ply")
    assert (parsed.scene_id, parsed.views_config, parsed.landmarks) == (
        "0000abdb093ccf08",
        "3",
        False,
    )
    assert parse_prediction_name("dir/a_b_16.landmarks.json").scene_id == "a_b"
    assert parse_prediction_name("recon.ply") is None
    assert parse_prediction_name("a_3.txt") is None


def test_a_zip_never_writes_outside_its_folder_and_is_bounded(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../escape_3.ply", b"x" * 10)
        zf.writestr("/abs/dir/abs_3.ply", b"y")
        zf.writestr("__MACOSX/._hidden_3.ply", b"z")
        zf.writestr("notes.txt", b"ignored")
    folder = tmp_path / "out" / "inside"
    assert extract_predictions(path, folder) == ["abs_3.ply", "escape_3.ply"]
    assert sorted(p.name for p in tmp_path.rglob("*_3.ply")) == ["abs_3.ply", "escape_3.ply"]
    assert all(p.parent == folder for p in tmp_path.rglob("*_3.ply"))
    with pytest.raises(UploadError, match="more than"):
        extract_predictions(path, tmp_path / "small", max_bytes=5)
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as zf:
        zf.writestr("a/s_3.ply", b"1")
        zf.writestr("b/s_3.ply", b"2")
    with pytest.raises(UploadError, match=r"two files named s_3\.ply"):
        extract_predictions(twice, tmp_path / "twice")
    (tmp_path / "fake.zip").write_bytes(b"not a zip")
    with pytest.raises(UploadError, match="not a readable zip"):
        extract_predictions(tmp_path / "fake.zip", tmp_path / "fake")


# ------------------------------------------------------------------------------ handlers


def test_starts_without_a_dataset_and_says_what_to_set():
    app = SpaceApp(SpaceSettings(None))
    status, scenes, _views = app.page_status()
    assert "H3DS_DATASET" in status and "HF_TOKEN" in status
    assert scenes["choices"] == [] and scenes["value"] is None
    demo = build_demo(SpaceSettings(None))  # builds without touching any data
    assert isinstance(demo, gr.Blocks)


def test_an_unreachable_dataset_is_one_line_in_the_page(tmp_path):
    status, _, _ = SpaceApp(SpaceSettings(str(tmp_path / "nowhere"))).page_status()
    assert "cannot be opened" in status and "H3DS_DATASET" in status
    assert str(tmp_path) not in status and "\n" not in status


def test_scene_and_views_from_the_file_name_else_a_dropdown_without_value(
    app, predictions, tmp_path
):
    mesh = sorted(predictions.glob(f"*_{VIEWS}.ply"))[0]
    note, scene, views = app.inspect_upload([str(mesh)])
    assert mesh.stem.split("_")[0] in note and scene["visible"] is False
    renamed = tmp_path / "recon.ply"
    shutil.copyfile(mesh, renamed)
    note, scene, views = app.inspect_upload([str(renamed)])
    assert "choose" in note
    assert scene == views == {"__type__": "update", "visible": True, "value": None}
    with pytest.raises(UploadError, match="does not say"):
        app.score([str(renamed)], None, None, "h3ds")
    scene_id = mesh.stem.rsplit("_", 1)[0]
    chosen = app.score([str(renamed)], scene_id, VIEWS, "h3ds")
    assert [row[:3] for row in chosen[2]] == [[scene_id, VIEWS, "ok"]]


@pytest.fixture(scope="module")
def scored_zip(app, archive) -> tuple:
    return app.score([str(archive)], None, None, "h3ds")


def test_a_zip_scores_like_h3ds_hf_evaluate(app, scored_zip, prepared, predictions, tmp_path):
    note, table, rows, results, command, shown, model, state = scored_zip
    assert "1 file(s) not scored" in note and "0000abdb093ccf08_99.ply" in note
    expected = tmp_path / "cli.json"
    assert main(
        ["evaluate", "--source", str(prepared), "--predictions", str(predictions),
         "--output", str(expected), "--no-progress"]
    ) == 0  # fmt: skip
    ours, cli = load_results(results), load_results(expected)
    # The upload holds one file more than the folder (0000abdb093ccf08_99.ply): the run warns
    # about it, and everything else is the same.
    assert [w for w in ours.pop("warnings") if "_99.ply" not in w] == cli.pop("warnings")
    assert ours == cli
    cell = "{face_chamfer_mm:.2f} / {head_chamfer_mm:.2f}".format(**ours["summary"][VIEWS])
    assert f"| my-method | {cell} |" in table
    assert "published" not in table  # a custom catalog has no published results
    assert len(rows) == 3 and all(row[2] == "ok" for row in rows)
    assert "h3ds-hf card --results results.json" in command
    assert shown["choices"] == [f"{r['scene_id']}_{VIEWS}" for r in ours["results"]]
    assert Path(model).suffix == ".glb"
    assert app.show_error(shown["choices"][1], state).endswith(f"{shown['choices'][1]}.glb")
    with pytest.raises(UploadError, match="not scored"):
        app.show_error("../../etc_3", state)


def test_the_published_results_stand_beside_the_table():
    run = EvaluationRun("m", "h3ds", ("face", "head"), "v2", "0.4", ["3", "8"], [], [], {})
    assert "| SIRA++ (published) | 1.18 / 9.70 | 1.18 / 5.28 |" in benchmark_table(run)
    surface = EvaluationRun("m", "surface", ("face", "head"), "v2", "0.4", ["3"], [], [], {})
    assert "published" not in benchmark_table(surface)


def test_the_3d_view_is_the_aligned_prediction_coloured_by_its_error(prepared, predictions):
    source = open_ground_truth(str(prepared))
    scene_id = source.catalog.scene_ids()[0]
    mesh = predictions / f"{scene_id}_{VIEWS}.ply"
    state_app = SpaceApp(SpaceSettings(str(prepared)))
    landmarks_path = predictions / f"{scene_id}_{VIEWS}.landmarks.json"
    out = state_app.score([str(mesh), str(landmarks_path)], None, None, "h3ds")
    assert out[2][0][5] == "yes"  # the landmarks were used
    glb = trimesh.load(out[6], force="mesh", process=False)
    vertices, faces = load_prediction(mesh)
    landmarks = json.loads(landmarks_path.read_text())
    _, d_pred, _, (aligned, _) = SceneEvaluator(source.ground_truth(scene_id)).reference(
        vertices, faces, landmarks, None
    )
    assert len(glb.vertices) == len(vertices)
    np.testing.assert_allclose(glb.vertices, aligned, atol=1e-3)  # GLB stores float32
    np.testing.assert_array_equal(glb.visual.vertex_colors, error_colors(d_pred))


def test_errors_in_the_page_are_one_line_without_server_paths(app, tmp_path):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", b"nothing")
    handler = build_demo.__globals__["_shown"](app.score)
    with pytest.raises(gr.Error) as caught:
        handler([str(empty)], None, None, "h3ds")
    assert "holds no .ply" in caught.value.message and "/" not in caught.value.message
    assert one_line(f"cannot read {tmp_path}/x/a_3.ply:\n bad") == "cannot read a_3.ply: bad"
    url = "request access at https://huggingface.co/datasets/org/h3ds and log in"
    assert one_line(url) == url


# ------------------------------------------------------------------------------ leaderboard


def _entry(model_id: str, value: float) -> dict:
    return {
        "rank": 1, "modelId": model_id, "value": value, "filename": ".eval_results/h3ds.yaml",
        "verified": False, "author": {"type": "user", "name": model_id.split("/", maxsplit=1)[0]},
    }  # fmt: skip


def test_leaderboard_merges_the_hub_with_the_published_results(monkeypatch):
    results = [
        EvalResultEntry(dataset_id="org/h3ds", task_id="face_chamfer_3views", value=1.01),
        EvalResultEntry(dataset_id="org/h3ds", task_id="head_chamfer_3views", value=9.9),
        EvalResultEntry(dataset_id="other/bench", task_id="face_chamfer_3views", value=0.1),
    ]
    text = yaml.safe_dump(eval_result_entries_to_yaml(results)).encode()
    with HubStub(tokens={"hf_reader": "reader"}) as hub:
        hub.patch_environment(monkeypatch)
        hub.add_repo("org/h3ds", repo_type="dataset", files={"README.md": b"---\n---\n"})
        hub.add_repo("org/plain", repo_type="dataset", files={"README.md": b"---\n---\n"})
        hub.add_repo("alice/method", files={".eval_results/h3ds.yaml": text})
        hub.leaderboards["org/h3ds"] = [_entry("alice/method", 1.01)]
        from huggingface_hub import HfApi

        api = HfApi(endpoint=hub.url, token=False)
        app = SpaceApp(SpaceSettings("org/h3ds"), api)
        note, rows = app.leaderboard("v2:3", "face")
        assert "1 model(s)" in note and "Lower is better" in note
        assert [row[1] for row in rows] == ["alice/method", "SIRA++"]
        assert rows[0] == [1, "alice/method", 1.01, 9.9, "Hub"]
        _, by_head = app.leaderboard("v2:3", "head")
        assert [row[1] for row in by_head] == ["SIRA++", "alice/method"]
        _, v1 = app.leaderboard("v1:3", "face")
        assert [row[1] for row in v1] == ["SIRA++", "H3D-Net", "IDR"]  # no v1 task on the Hub
        plain_note, plain = SpaceApp(SpaceSettings("org/plain"), api).leaderboard("v2:3", "face")
        assert "not a registered benchmark" in plain_note and [r[1] for r in plain] == ["SIRA++"]
        assert any(r.path == "/api/datasets/org/h3ds/leaderboard" for r in hub.requests)


# ------------------------------------------------------------------------------ Blocks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_blocks_scored_through_gradio_client(prepared, archive, monkeypatch):
    from gradio_client import Client, handle_file

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build_demo(SpaceSettings(str(prepared)))
    demo.launch(
        server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True
    )
    try:
        client = Client(demo.local_url, verbose=False, download_files=False)
        status, _scenes, _views = client.predict(api_name="/status")
        assert "release catalog (3 scenes)" in status
        note, _, _ = client.predict([handle_file(str(archive))], api_name="/inspect_upload")
        assert "my-method.zip" in note
        job = client.submit([handle_file(str(archive))], None, None, "h3ds", api_name="/score")
        _note, table, rows, results, _command, _shown, model = job.result(timeout=120)
        assert "| my-method |" in table and len(rows["data"]) == 3
        assert Path(results["path"]).name == "results.json"
        assert model["path"].endswith(".glb")
        assert "ground" not in json.dumps(model).lower()
    finally:
        demo.close()


def test_the_blocks_start_without_a_dataset(archive, monkeypatch):
    from gradio_client import Client, handle_file

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build_demo(SpaceSettings(None))
    demo.launch(
        server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True
    )
    try:
        client = Client(demo.local_url, verbose=False, download_files=False)
        status, _scenes, _views = client.predict(api_name="/status")
        assert "Not configured yet" in status and "H3DS_DATASET" in status
        with pytest.raises(Exception, match="no dataset configured") as caught:
            client.predict([handle_file(str(archive))], None, None, "h3ds", api_name="/score")
        assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    finally:
        demo.close()


# ------------------------------------------------------------------------------ h3ds-hf space


def _front_matter(readme: Path) -> dict:
    return yaml.safe_load(readme.read_text(encoding="utf-8").split("---")[1])


def test_sdk_version_is_the_pinned_gradio():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["space"] == [f"gradio=={SDK_VERSION}"]
    assert _front_matter(Path(metric_path()) / "README.md")["sdk_version"] == SDK_VERSION


def test_space_writes_a_folder_that_launches_with_python_app_py(prepared, tmp_path, capsys):
    out = tmp_path / "space"
    spec = "h3ds-hf @ git+https://github.com/example/h3ds-hf@v0.1.0"
    assert main(["space", "--output", str(out), "--requirement", spec,
                 "--dataset-id", "org/h3ds"]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md", "app.py", "h3ds_chamfer.py", "requirements.txt"
    ]  # fmt: skip
    meta = _front_matter(out / "README.md")
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == SDK_VERSION
    assert meta["datasets"] == ["org/h3ds"] and meta["app_file"] == "app.py"
    assert (out / "requirements.txt").read_text() == spec + "\n"
    assert "HF_TOKEN" in (out / "README.md").read_text()
    port = _free_port()
    env = {**os.environ, "H3DS_DATASET": str(prepared), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=tmp_path / "space", env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline, page = time.monotonic() + 60, None
        while page is None and time.monotonic() < deadline and process.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            except OSError:
                time.sleep(0.5)
        assert page is not None, process.stderr.read().decode()[-2000:] if process.poll() else ""
        assert b"H3DS chamfer" in page
    finally:
        process.kill()
        process.communicate(timeout=10)


def test_space_needs_a_requirement_naming_h3ds_hf(tmp_path, capsys):
    assert main(["space", "--output", str(tmp_path), "--requirement", "numpy"]) == 1
    assert "h3ds-hf is not on PyPI" in capsys.readouterr().err


def test_space_push_creates_the_gradio_space_and_never_prints_the_secret(
    tmp_path, monkeypatch, capsys
):
    with HubStub(tokens={"hf_writer_secret": "alice"}) as hub:
        hub.patch_environment(monkeypatch)
        monkeypatch.setenv("HF_TOKEN", "hf_writer_secret")
        code = main(
            ["space", "--output", str(tmp_path / "s"), "--requirement", "h3ds-hf @ file:///x.whl",
             "--dataset-id", "org/h3ds", "--push", "--space-id", "alice/h3ds_chamfer",
             "--secret", "HF_TOKEN"]
        )  # fmt: skip
        out = capsys.readouterr()
        assert code == 0, out.err
        space = hub.repos[("space", "alice/h3ds_chamfer")]
        assert {"README.md", "app.py", "h3ds_chamfer.py", "requirements.txt"} <= set(space.files)
        assert "secrets set: HF_TOKEN" in out.out
        assert "hf_writer_secret" not in out.out + out.err


def test_requirements_resolve_with_the_built_wheel(tmp_path):
    """requirements.txt + the pinned gradio, with h3ds-hf from its wheel, offline: pip
    resolves them against this environment (which installed the `space` extra)."""
    sources = tmp_path / "src"
    shutil.copytree(
        ROOT, sources,
        ignore=shutil.ignore_patterns(".git", ".venv*", "*.egg-info", "__pycache__", "build",
                                      ".*_cache", ".hypothesis"),
    )  # fmt: skip
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", "dist", "."],
        check=True, capture_output=True, cwd=sources,
    )  # fmt: skip
    wheel = next((sources / "dist").glob("h3ds_hf-*.whl"))
    assert main(["space", "--output", str(tmp_path / "s"), "--requirement",
                 f"h3ds-hf @ {wheel.as_uri()}"]) == 0  # fmt: skip
    done = subprocess.run(
        [*pip[:-1], "install", "--dry-run", "--no-index", "-r", str(tmp_path / "s" /
         "requirements.txt"), f"gradio=={SDK_VERSION}"],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"Would install .*h3ds-hf-0\.", done.stdout), done.stdout
