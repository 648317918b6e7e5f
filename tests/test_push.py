"""``h3ds-hf push`` and the gated-access helper, against the loopback Hub stub."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from hub_stub import HubStub

from h3ds_hf.cli import main
from h3ds_hf.errors import GatedDatasetError, HubError, SourceError
from h3ds_hf.hub.access import load_h3ds
from h3ds_hf.hub.prepare import MANIFEST_NAME, prepare_dataset
from h3ds_hf.hub.push import push_dataset

ALICE, BOB = "hf_alice_test_token", "hf_bob_test_token"


@pytest.fixture(scope="module")
def prepared(synthetic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("push") / "h3ds"
    prepare_dataset(
        synthetic.folder,
        output,
        catalog_path=synthetic.catalog_path,
        configs=["3-views"],
        progress=False,
    )
    return output


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no login cache
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf" / "datasets")
    with HubStub(tokens={ALICE: "alice", BOB: "bob"}, lifetime=60) as stub:
        stub.patch_environment(monkeypatch)
        yield stub


def _local_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST_NAME
    }


def test_cli_push_creates_gated_repo_in_one_commit(
    hub: HubStub,
    prepared: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_TOKEN", ALICE)
    assert main(["push", str(prepared), "--repo-id", "alice/h3ds"]) == 0
    output = capsys.readouterr()
    assert ALICE not in output.out + output.err
    repo = hub.repo("alice/h3ds", "dataset")
    assert repo.owner == "alice" and not repo.private
    assert repo.gated == "manual"
    assert len(repo.commits) == 1
    assert repo.files == _local_files(prepared)
    assert "README.md" in repo.files and "eval.yaml" in repo.files
    assert "3-views/test-00000-of-00001.parquet" in repo.files
    calls = [(r.method, r.path.split("?")[0]) for r in hub.requests]
    assert ("POST", "/api/repos/create") in calls
    assert calls.count(("POST", "/api/datasets/alice/h3ds/commit/main")) == 1
    assert ("PUT", "/api/datasets/alice/h3ds/settings") in calls
    assert all(r.user == "alice" for r in hub.requests if r.path.startswith("/api/datasets"))
    assert repo.commits[0]["oid"] in output.out


def test_push_again_reuses_the_repo_and_private_flag(hub: HubStub, prepared: Path) -> None:
    first = push_dataset(prepared, "alice/h3ds-private", private=True, token=ALICE)
    second = push_dataset(prepared, "alice/h3ds-private", private=True, token=ALICE)
    repo = hub.repo("alice/h3ds-private", "dataset")
    assert repo.private and repo.gated == "manual"
    assert len(repo.commits) == 2
    assert first.files == second.files == len(_local_files(prepared))


def test_push_errors_name_the_problem_not_the_token(
    hub: HubStub, prepared: Path, tmp_path: Path
) -> None:
    with pytest.raises(HubError, match="HF_TOKEN"):
        push_dataset(prepared, "alice/h3ds")
    push_dataset(prepared, "alice/h3ds", token=ALICE)
    with pytest.raises(HubError, match="HTTP 403") as refused:
        push_dataset(prepared, "alice/h3ds", token=BOB)
    assert BOB not in str(refused.value)
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="not a dataset folder"):
        push_dataset(tmp_path / "plain", "alice/h3ds", token=ALICE)


def test_gated_dataset_errors_say_how_to_get_access(hub: HubStub, prepared: Path) -> None:
    push_dataset(prepared, "alice/h3ds", token=ALICE)
    page = f"{hub.url}/datasets/alice/h3ds"
    with pytest.raises(GatedDatasetError, match="not logged in") as anonymous:
        load_h3ds("alice/h3ds", "3-views")
    assert f"request access at {page}" in str(anonymous.value)
    with pytest.raises(GatedDatasetError, match="not granted") as waiting:
        load_h3ds("alice/h3ds", "3-views", token=BOB)
    assert f"request access at {page}" in str(waiting.value)
    assert BOB not in str(waiting.value)
    with pytest.raises(HubError, match="does not exist") as missing:
        load_h3ds("alice/nothing-here", "3-views", token=BOB)
    assert not isinstance(missing.value, GatedDatasetError)
    statuses = [r.status for r in hub.requests if "/alice/h3ds/" in r.path and r.user != "alice"]
    assert 401 in statuses and 403 in statuses
