"""The Hub dataset as a source: read through olah (a real Hub mirror server) and the stub.

olah serves a prepared folder as ``org/h3ds``; ``load_dataset`` (also streaming, which needs
range requests) and ``--source ORG/NAME`` read through it and must equal the local folder.
Gating, which olah lacks, and the bytes a ground truth costs are checked against the stub,
which records every response's size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from hub_stub import HubStub, point_hub_clients_at
from olah_hub import OLAH_ENV, OlahHub, olah_command

from h3ds_hf.cli import main
from h3ds_hf.errors import GatedDatasetError, HubError
from h3ds_hf.hub.prepare import MANIFEST_NAME
from h3ds_hf.hub.prepared import GT_COLUMNS, PreparedRelease
from h3ds_hf.hub.remote import HubRelease, parse_hub_source
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions

REPO = "org/h3ds"
OWNER = "hf_owner_token_for_tests"
READER = "hf_reader_token_for_tests"


@pytest.fixture(scope="module")
def prepared(prepared_synthetic) -> Path:
    return prepared_synthetic("3-views", "all-views")


@pytest.fixture(scope="module")
def predictions(synthetic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    release = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    folder = tmp_path_factory.mktemp("hub-source-predictions") / "method"
    return write_synthetic_predictions(release, folder, views_configs=["3"])


@pytest.fixture(scope="module")
def olah(prepared: Path):
    if olah_command() is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs olah (${OLAH_ENV}, installed by .ci/run)")
        pytest.skip(f"olah is not installed: pip install olah in its own venv, set ${OLAH_ENV}")
    with OlahHub(prepared, REPO) as hub:
        yield hub


@pytest.fixture
def through_olah(olah: OlahHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> OlahHub:
    point_hub_clients_at(olah.url, monkeypatch)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    return olah


def test_parse_hub_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert parse_hub_source("org/h3ds") == (REPO, None)
    assert parse_hub_source("hf://datasets/org/h3ds@refs%2Fpr%2F1") == (REPO, "refs%2Fpr%2F1")
    assert parse_hub_source("org/h3ds@v1.0") == (REPO, "v1.0")
    assert parse_hub_source("h3ds_v0.4.zip") is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "h3ds").mkdir(parents=True)
    assert parse_hub_source("org/h3ds") is None  # a local folder of that name wins
    with pytest.raises(HubError, match="hf://datasets/ORG/NAME"):
        parse_hub_source("hf://datasets/org")


def test_load_dataset_through_olah_equals_the_local_folder(through_olah, prepared: Path):
    remote = datasets.load_dataset(REPO, "3-views", split="test")
    local = datasets.load_dataset(str(prepared), "3-views", split="test")
    assert remote["scene_id"] == local["scene_id"] and len(remote) == 3
    first, expected = remote[0], local[0]
    assert np.array_equal(np.asarray(first["vertices"]), np.asarray(expected["vertices"]))
    assert [v["view_index"] for v in first["views"]] == [v["view_index"] for v in expected["views"]]
    assert first["views"][0]["image"].size == expected["views"][0]["image"].size


def test_streaming_through_olah_reads_with_ranges(through_olah, prepared: Path):
    streamed = next(iter(datasets.load_dataset(REPO, "3-views", split="test", streaming=True)))
    local = datasets.load_dataset(str(prepared), "3-views", split="test")[0]
    assert streamed["scene_id"] == local["scene_id"]
    assert streamed["landmarks"] == local["landmarks"]


def test_evaluate_and_info_with_a_hub_source_equal_the_local_folder(
    through_olah, prepared: Path, predictions: Path, tmp_path: Path, capsys
):
    outputs = {}
    for name, source in {
        "local": str(prepared),
        "hub": REPO,
        "url": f"hf://datasets/{REPO}@{through_olah.sha}",
    }.items():
        target = tmp_path / name / "results.json"
        argv = ["evaluate", "--source", source, "--predictions", str(predictions)]
        assert main([*argv, "--views", "3", "--output", str(target), "--no-progress"]) == 0
        outputs[name] = json.loads(target.read_text())
    assert outputs["hub"]["results"] == outputs["local"]["results"] == outputs["url"]["results"]
    assert outputs["hub"]["summary"] == outputs["local"]["summary"]
    capsys.readouterr()
    assert main(["info", REPO]) == 0
    out = capsys.readouterr().out
    assert f"hf://datasets/{REPO}@{through_olah.sha}" in out and through_olah.sha in out


def test_the_metric_reads_ground_truth_from_the_hub(through_olah, prepared: Path, predictions):
    import evaluate

    import h3ds_hf

    scores = {}
    for source in (str(prepared), REPO):
        metric = evaluate.load(h3ds_hf.metric_path(), source=source)
        for scene_id in PreparedRelease(prepared).catalog.scene_ids():
            metric.add(prediction=str(predictions / f"{scene_id}_3.ply"), reference=scene_id)
        scores[source] = metric.compute()["per_scene"]
    assert scores[REPO] == scores[str(prepared)]


# -- against the stub: gating and the bytes a ground truth costs ---------------------------


@pytest.fixture
def gated_hub(prepared: Path, monkeypatch: pytest.MonkeyPatch):
    files = {
        p.relative_to(prepared).as_posix(): p.read_bytes()
        for p in prepared.rglob("*")
        if p.is_file() and p.name != MANIFEST_NAME
    }
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with HubStub(tokens={OWNER: "org", READER: "reader"}) as hub:
        hub.add_repo(REPO, repo_type="dataset", owner="org", files=files, gated="manual")
        point_hub_clients_at(hub.url, monkeypatch)
        yield hub


def test_a_ground_truth_costs_its_columns_not_the_photos(gated_hub: HubStub, prepared: Path):
    hub = gated_hub
    release = HubRelease(REPO, token=OWNER)
    local = PreparedRelease(prepared)
    assert release.catalog.scene_ids() == local.catalog.scene_ids()
    scene_id = release.catalog.scene_ids()[0]
    before = len(hub.requests)
    gt = release.ground_truth(scene_id)
    expected = local.ground_truth(scene_id)
    assert gt.vertices.dtype == np.float64 and np.array_equal(gt.vertices, expected.vertices)
    assert np.array_equal(gt.faces, expected.faces) and dict(gt.landmarks) == dict(
        expected.landmarks
    )
    reads = [r for r in hub.requests[before:] if "/resolve/" in r.path]
    fetched = sum(r.size for r in reads)
    assert reads and all(r.status == 206 for r in reads if r.path.endswith(".parquet"))
    # What that scene's row group holds, from the file's own metadata.
    shard = next(path for path in release._files["3-views"])
    local_shard = prepared / "3-views" / Path(shard).name
    metadata = pq.ParquetFile(local_shard).metadata
    group = metadata.row_group(release._locations[scene_id][1])
    sizes = {}
    for index in range(group.num_columns):
        column = group.column(index)
        top = column.path_in_schema.split(".")[0]
        sizes[top] = sizes.get(top, 0) + column.total_compressed_size
    ground_truth = sum(size for name, size in sizes.items() if name in GT_COLUMNS)
    photos = sizes["views"]
    print(
        f"scene {scene_id}: fetched {fetched} B of a {local_shard.stat().st_size} B shard "
        f"(ground-truth columns {ground_truth} B, photos and cameras {photos} B)"
    )
    assert fetched <= ground_truth + 4096  # and no footer: read once when opened
    assert fetched < local_shard.stat().st_size - photos / 2


def test_without_access_the_error_says_where_to_request_it(gated_hub: HubStub, capsys):
    with pytest.raises(GatedDatasetError, match="request access at") as anonymous:
        HubRelease(REPO).ground_truth("anything")
    assert f"{gated_hub.url}/datasets/{REPO}" in str(anonymous.value)
    with pytest.raises(GatedDatasetError, match="not granted"):
        HubRelease(REPO, token=READER)
    gated_hub.grant("reader", REPO)
    assert HubRelease(REPO, token=READER).catalog.scene_ids()
    os.environ.pop("HF_TOKEN", None)
    argv = ["evaluate", "--source", REPO, "--predictions", "nowhere", "--output", "x.json"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "request access at" in err


def test_an_unreachable_hub_source_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys):
    with HubStub() as stub:
        url = stub.url
    point_hub_clients_at(url, monkeypatch)
    assert main(["info", "org/nothing-here"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"cannot reach the Hub at {url} (reading the dataset's information)" in err
