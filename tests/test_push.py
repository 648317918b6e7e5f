"""``h3ds-hf push`` and the gated-access helper, against the loopback Hub stub."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from hub_stub import HubStub
from huggingface_hub import HfApi

from h3ds_hf.cli import main
from h3ds_hf.errors import REDACTED, GatedDatasetError, HubError, SourceError
from h3ds_hf.hub.access import load_h3ds
from h3ds_hf.hub.prepare import MANIFEST_NAME
from h3ds_hf.hub.push import push_dataset

ALICE, BOB = "hf_alice_test_token", "hf_bob_test_token"


@pytest.fixture(scope="module")
def prepared(prepared_synthetic) -> Path:
    return prepared_synthetic("3-views")


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


def _never_exposed(repo, *, earlier_commits: int = 0) -> None:
    """No state of the repository, at any commit or settings change, was public and ungated
    while it held our data (the H3DS licence: scans for approved users only); the first
    ``earlier_commits`` were in the repository before the push."""
    for commit in repo.commits[earlier_commits:]:
        assert commit["private"] or commit["gated"], f"data committed while exposed: {commit}"
    holding = False
    for event, private, gated in repo.history:
        holding = holding or event.startswith("commit")
        assert not (holding and not private and not gated), f"exposed after {event}"


def test_cli_push_creates_gated_repo_in_one_commit_never_exposed(
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
    _never_exposed(repo)
    # Created private, gated, committed, and only then made public (still gated).
    assert [event for event, _, _ in repo.history] == [
        "create",
        "settings",
        "commit main",
        "settings",
    ]
    assert repo.history[0][1:] == (True, False) and repo.history[-1][1:] == (False, "manual")
    calls = [(r.method, r.path.split("?")[0]) for r in hub.requests]
    assert calls.count(("POST", "/api/datasets/alice/h3ds/commit/main")) == 1
    assert all(r.user == "alice" for r in hub.requests if r.path.startswith("/api/datasets"))
    assert repo.commits[0]["oid"] in output.out
    assert "public, gated" in output.out


def test_push_again_is_idempotent_and_keeps_it_private(hub: HubStub, prepared: Path) -> None:
    first = push_dataset(prepared, "alice/h3ds-private", private=True, token=ALICE)
    second = push_dataset(prepared, "alice/h3ds-private", private=True, token=ALICE)
    repo = hub.repo("alice/h3ds-private", "dataset")
    assert repo.private and repo.gated == "manual"
    assert first.private and second.private and second.gated == "manual"
    assert len(repo.commits) == 1  # unchanged files are not committed again
    assert first.files == second.files == len(_local_files(prepared))
    _never_exposed(repo)


def test_push_into_an_existing_public_ungated_repo_hides_it_first(
    hub: HubStub, prepared: Path
) -> None:
    hub.add_repo("alice/h3ds", repo_type="dataset", owner="alice", files={"old.txt": b"old"})
    push_dataset(prepared, "alice/h3ds", token=ALICE)
    repo = hub.repo("alice/h3ds", "dataset")
    _never_exposed(repo, earlier_commits=1)
    assert repo.history[0][0] == "settings" and repo.history[0][1] is True  # private first
    assert not repo.private and repo.gated == "manual"


@pytest.mark.parametrize(
    ("failing", "step"),
    [
        (r"/settings$", "turning on manual gating"),
        (r"/commit/main$", "uploading"),
    ],
)
def test_a_failed_step_leaves_it_private_and_says_how_to_resume(
    hub: HubStub, prepared: Path, failing: str, step: str
) -> None:
    method = "PUT" if "settings" in failing else "POST"
    hub.fail(method, failing, 500, "Internal Error")
    with pytest.raises(HubError) as failed:
        push_dataset(prepared, "alice/h3ds", token=ALICE)
    message = str(failed.value)
    assert step in message and hub.url in message and "HTTP 500" in message
    assert "alice/h3ds is private" in message and "rerun" in message
    assert "\n" not in message
    repo = hub.repo("alice/h3ds", "dataset")
    assert repo.private and not repo.commits
    push_dataset(prepared, "alice/h3ds", token=ALICE)  # resumed
    assert not repo.private and repo.gated == "manual" and len(repo.commits) == 1
    _never_exposed(repo)


def test_failing_to_publish_leaves_the_data_private(hub: HubStub, prepared: Path) -> None:
    # The first settings call gates, the second (after the commit) would publish.
    hub.fail("PUT", r"/settings$", 503, "Service Unavailable", times=0)
    push_dataset(prepared, "alice/warmup", token=ALICE)
    original = hub.failures.pop()
    assert original.times == 0
    calls = {"n": 0}
    api_update = HfApi.update_repo_settings

    def second_fails(self, *args, **kwargs):
        calls["n"] += 1
        if kwargs.get("private") is False:
            hub.fail("PUT", r"/settings$", 503, "Service Unavailable")
        return api_update(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HfApi, "update_repo_settings", second_fails)
        with pytest.raises(HubError, match="making the gated repository public") as failed:
            push_dataset(prepared, "alice/h3ds", token=ALICE)
    assert "HTTP 503" in str(failed.value) and "private" in str(failed.value)
    repo = hub.repo("alice/h3ds", "dataset")
    assert repo.private and repo.gated == "manual" and len(repo.commits) == 1
    _never_exposed(repo)


def test_push_errors_name_the_problem_not_the_token(
    hub: HubStub, prepared: Path, tmp_path: Path
) -> None:
    with pytest.raises(HubError, match="HF_TOKEN"):
        push_dataset(prepared, "alice/h3ds")
    push_dataset(prepared, "alice/h3ds", token=ALICE)
    with pytest.raises(HubError, match="not a member of 'alice'") as refused:
        push_dataset(prepared, "alice/h3ds", token=BOB)
    assert BOB not in str(refused.value)
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="not a dataset folder"):
        push_dataset(tmp_path / "plain", "alice/h3ds", token=ALICE)


def test_a_read_only_token_says_so(prepared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with HubStub(tokens={ALICE: "alice"}, read_only={ALICE}) as stub:
        stub.patch_environment(monkeypatch)
        with pytest.raises(HubError, match="read-only"):
            push_dataset(prepared, "alice/h3ds", token=ALICE)
        assert not stub.repos


def test_a_server_echoing_the_token_does_not_make_us_print_it(
    hub: HubStub, prepared: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    hub.fail("POST", r"/api/repos/create$", 500, "proxy error", echo_authorization=True)
    monkeypatch.setenv("HF_TOKEN", ALICE)
    assert main(["push", str(prepared), "--repo-id", "alice/h3ds"]) == 1
    err = capsys.readouterr().err
    assert "proxy error" in err and REDACTED in err
    assert ALICE not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("repo_id", ["a/b/c", "../../etc", "alice/h3 ds", "alice/'h3ds'", "h3ds"])
def test_invalid_repo_ids_are_refused_before_any_request(
    hub: HubStub, prepared: Path, repo_id: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", ALICE)
    assert main(["push", str(prepared), "--repo-id", repo_id]) == 1
    err = capsys.readouterr().err
    assert "is not a Hub repository id" in err and len(err.strip().splitlines()) == 1
    assert not hub.requests


def test_an_unreachable_hub_is_one_line_naming_endpoint_and_step(
    prepared: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    with HubStub() as stub:
        url = stub.url
    # The stub is stopped: nothing listens on its port any more.
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", url)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", ALICE)
    assert main(["push", str(prepared), "--repo-id", "alice/h3ds"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"cannot reach the Hub at {url} (checking the token)" in err
    assert "nothing was created" in err


def test_a_granted_user_loads_the_gated_dataset(hub: HubStub, prepared: Path) -> None:
    push_dataset(prepared, "alice/h3ds", token=ALICE)
    hub.grant("bob", "alice/h3ds")
    rows = load_h3ds("alice/h3ds", "3-views", token=BOB)
    assert len(rows) == 3 and len(rows[0]["views"]) == 3
    reads = [r for r in hub.requests if r.user == "bob" and "/resolve/" in r.path]
    assert not [r for r in reads if r.status in {401, 403}]
    shards = [r for r in reads if r.path.endswith(".parquet")]
    assert shards and all(r.status in {200, 206} for r in shards)


def test_gated_dataset_errors_say_how_to_get_access(hub: HubStub, prepared: Path) -> None:
    push_dataset(prepared, "alice/h3ds", token=ALICE)
    page = f"{hub.url}/datasets/alice/h3ds"
    with pytest.raises(GatedDatasetError, match="not logged in") as anonymous:
        load_h3ds("alice/h3ds", "3-views")
    assert f"request access at {page}" in str(anonymous.value)
    assert anonymous.value.__suppress_context__ and anonymous.value.__cause__ is None
    with pytest.raises(GatedDatasetError, match="not granted") as waiting:
        load_h3ds("alice/h3ds", "3-views", token=BOB)
    assert f"request access at {page}" in str(waiting.value)
    assert BOB not in str(waiting.value)
    with pytest.raises(HubError, match="does not exist") as missing:
        load_h3ds("alice/nothing-here", "3-views", token=BOB)
    assert not isinstance(missing.value, GatedDatasetError)
    statuses = [r.status for r in hub.requests if "/alice/h3ds/" in r.path and r.user != "alice"]
    assert 401 in statuses and 403 in statuses
