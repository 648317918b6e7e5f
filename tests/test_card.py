"""``h3ds-hf card``: model-index and .eval_results written, merged, parsed back, pushed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hub_stub import HubStub
from huggingface_hub import HfApi, ModelCard, parse_eval_result_entries

from h3ds_hf.benchmark.batch import evaluate_folder
from h3ds_hf.benchmark.names import config_name, config_names
from h3ds_hf.cli import main
from h3ds_hf.hub.eval_yaml import eval_tasks
from h3ds_hf.hub.model_card import EVAL_RESULTS_PATH, TABLE_END, TABLE_START
from h3ds_hf.hub.prepare import prepare_dataset
from h3ds_hf.release.catalog import load_catalog
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions

DATASET_ID = "h3ds-org/h3ds"
TOKEN = "hf_card_writer_token"

EXISTING_CARD = """---
license: mit
tags:
- 3d
model-index:
- name: my-model
  results:
  - task:
      type: image-to-3d
    dataset:
      name: Other
      type: someone/other-heads
      split: test
    metrics:
    - type: chamfer
      value: 3.5
---
# My model

Hand-written introduction, kept as is.
"""


def _results(
    summary: dict, *, release: str = "v2", protocol: str = "h3ds", tags: list | None = None
) -> dict:
    """A results JSON in the format `h3ds-hf evaluate` writes (contracts.md)."""
    return {
        "format": "h3ds-hf-results/1",
        "package_version": "0.1.0",
        "protocol": protocol,
        "regions": ["face", "head"],
        "release": release,
        "catalog_version": "0.4" if release == "v2" else "0.2",
        "method": "my-method",
        "views_configs": list(summary),
        "tags": tags or [],
        "results": [],
        "summary": summary,
    }


def _cell(face: float | None, head: float | None, complete: bool = True) -> dict:
    return {
        "face_chamfer_mm": face,
        "head_chamfer_mm": head,
        "scenes": 59 if complete else 50,
        "expected": 59,
        "complete": complete,
    }


def _write(path: Path, results: dict) -> Path:
    path.write_text(json.dumps(results))
    return path


def _eval_yaml(catalogs_configs: dict[str, list[str] | None]) -> str:
    """An eval.yaml declaring the tasks of these releases' configs (None: all of them), as
    `h3ds-hf prepare` declares them."""
    tasks = []
    for release, configs in catalogs_configs.items():
        catalog = load_catalog(release)
        tasks += eval_tasks(catalog, config_names(catalog) if configs is None else configs)
    return yaml.safe_dump({"name": "H3DS", "tasks": tasks}, sort_keys=False)


def _dataset_dir(tmp_path: Path, catalogs_configs: dict[str, list[str] | None]) -> Path:
    folder = tmp_path / "dataset"
    folder.mkdir(exist_ok=True)
    (folder / "eval.yaml").write_text(_eval_yaml(catalogs_configs))
    return folder


def _card(
    tmp_path: Path,
    results: dict,
    *extra: str,
    output: Path | None = None,
    tasks: dict[str, list[str] | None] | None = None,
) -> int:
    """`h3ds-hf card --output` with a dataset folder whose eval.yaml has ``tasks`` (default:
    every config of v1 and v2)."""
    output = output or tmp_path / "card"
    source = _write(tmp_path / "results.json", results)
    dataset = _dataset_dir(tmp_path, tasks or {"v2": None, "v1": None})
    return main(
        [
            "card",
            "--results",
            str(source),
            "--model-id",
            "me/my-model",
            "--dataset-id",
            DATASET_ID,
            "--dataset-dir",
            str(dataset),
            "--output",
            str(output),
            *extra,
        ]
    )


def _entries(folder: Path) -> dict[str, float]:
    data = yaml.safe_load((folder / EVAL_RESULTS_PATH).read_text())
    return {entry.task_id: entry.value for entry in parse_eval_result_entries(data)}


def test_new_card_round_trips_through_huggingface_hub(tmp_path, capsys):
    summary = {"3": _cell(1.25, 9.5), "4": _cell(1.125, 9.25)}
    assert _card(tmp_path, _results(summary)) == 0
    folder = tmp_path / "card"
    assert str(folder / "README.md") in capsys.readouterr().out

    card = ModelCard.load(folder / "README.md")
    assert card.data.model_name == "my-model"
    assert DATASET_ID in card.data.datasets
    got = {
        (r.dataset_config, r.metric_config): r.metric_value
        for r in card.data.eval_results
        if r.dataset_type == DATASET_ID
    }
    assert got == {
        (config_name("v2", views), region): summary[views][f"{region}_chamfer_mm"]
        for views in summary
        for region in ("face", "head")
    }
    assert {r.dataset_split for r in card.data.eval_results} == {"test"}

    # Task ids are those of the dataset's eval.yaml.
    tasks = eval_tasks(load_catalog("v2"), ["3-views", "4-views"])
    entries = _entries(folder)
    assert set(entries) == {task["id"] for task in tasks}
    for task in tasks:
        region, views = task["id"].split("_")[0], task["config"].split("-")[0]
        assert entries[task["id"]] == summary[views][f"{region}_chamfer_mm"]
    data = yaml.safe_load((folder / EVAL_RESULTS_PATH).read_text())
    assert {entry.dataset_id for entry in parse_eval_result_entries(data)} == {DATASET_ID}


def test_existing_card_keeps_its_content_and_reruns_are_idempotent(tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "README.md").write_text(EXISTING_CARD)
    results = _results({"3": _cell(1.5, 10.0)})
    assert _card(tmp_path, results) == 0
    first = (folder / "README.md").read_text()
    first_yaml = (folder / EVAL_RESULTS_PATH).read_text()
    assert _card(tmp_path, results) == 0
    assert (folder / "README.md").read_text() == first
    assert (folder / EVAL_RESULTS_PATH).read_text() == first_yaml

    card = ModelCard.load(folder / "README.md")
    assert card.data.license == "mit"
    assert card.data.tags == ["3d"]
    assert "Hand-written introduction, kept as is." in card.text
    assert card.text.count(TABLE_START) == card.text.count(TABLE_END) == 1
    other = [r for r in card.data.eval_results if r.dataset_type == "someone/other-heads"]
    assert [r.metric_value for r in other] == [3.5]

    # New numbers for the same config replace the old ones; another release adds to them.
    assert _card(tmp_path, _results({"3": _cell(1.25, 9.0)})) == 0
    assert _card(tmp_path, _results({"3": _cell(2.0, 12.0)}, release="v1")) == 0
    card = ModelCard.load(folder / "README.md")
    ours = {
        (r.dataset_config, r.metric_config): r.metric_value
        for r in card.data.eval_results
        if r.dataset_type == DATASET_ID
    }
    assert ours == {
        ("3-views", "face"): 1.25,
        ("3-views", "head"): 9.0,
        ("v1-3-views", "face"): 2.0,
        ("v1-3-views", "head"): 12.0,
    }
    assert "| v1-3-views | test | 2.00 | 12.00 |" in card.text
    assert "| 3-views | test | 1.25 | 9.00 |" in card.text
    assert _entries(folder) == {
        "face_chamfer_3views": 1.25,
        "head_chamfer_3views": 9.0,
        "face_chamfer_v1_3views": 2.0,
        "head_chamfer_v1_3views": 12.0,
    }


def test_incomplete_configs_are_skipped_unless_allowed(tmp_path):
    results = _results({"3": _cell(1.5, 10.0), "4": _cell(1.0, 8.0, complete=False)})
    assert _card(tmp_path, results) == 0
    assert set(_entries(tmp_path / "card")) == {"face_chamfer_3views", "head_chamfer_3views"}
    assert _card(tmp_path, results, "--allow-incomplete") == 0
    assert _entries(tmp_path / "card")["face_chamfer_4views"] == 1.0


def test_h3d_net_split_goes_to_model_index_only(tmp_path):
    assert _card(tmp_path, _results({"3": _cell(1.5, 10.0)}, release="v1", tags=["h3d-net"])) == 0
    card = ModelCard.load(tmp_path / "card" / "README.md")
    assert {r.dataset_split for r in card.data.eval_results} == {"h3d_net"}
    assert _entries(tmp_path / "card") == {}


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (_results({"3": _cell(1.5, 10.0)}, protocol="surface"), "protocol 'surface'"),
        (_results({"3": _cell(None, None, complete=False)}), "incomplete (50 of 59 scenes"),
        (_results({"3": _cell(1.5, 10.0)}, tags=["sira++"]), "no dataset split"),
    ],
)
def test_unpublishable_results_are_refused(tmp_path, capsys, results, message):
    assert _card(tmp_path, results) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "card").exists()


def test_arguments_are_checked(tmp_path, capsys):
    source = str(_write(tmp_path / "results.json", _results({"3": _cell(1.0, 9.0)})))
    with pytest.raises(SystemExit):
        main(["card", "--results", source, "--model-id", "me/m"])
    assert "--output DIR, --push" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["card", "--results", source, "--model-id", "me/m", "--output", "x", "--create-pr"])
    assert main(["card", "--results", source, "--model-id", "me/m", "--push"]) == 1
    assert "--dataset-id is needed" in capsys.readouterr().err
    not_results = _write(tmp_path / "other.json", {"format": "other"})
    not_results_args = ["--model-id", "me/m", "--output", "x", "--no-task-check"]
    assert main(["card", "--results", str(not_results), *not_results_args]) == 1
    assert "not an h3ds-hf results file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- pushing


def _push(tmp_path: Path, model_id: str, *extra: str) -> int:
    source = _write(tmp_path / "results.json", _results({"3": _cell(1.5, 10.0)}))
    return main(
        [
            "card",
            "--results",
            str(source),
            "--model-id",
            model_id,
            "--dataset-id",
            DATASET_ID,
            "--push",
            *extra,
        ]
    )


@pytest.fixture
def hub(monkeypatch):
    with HubStub(tokens={TOKEN: "alice"}) as stub:
        stub.patch_environment(monkeypatch)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        stub.add_repo(
            DATASET_ID,
            repo_type="dataset",
            owner="h3ds-org",
            files={"eval.yaml": _eval_yaml({"v2": None}).encode()},
        )
        yield stub


def test_push_sends_both_files_in_one_commit_merged_with_the_hub_card(hub, tmp_path, capsys):
    hub.add_repo("alice/my-model", owner="alice", files={"README.md": EXISTING_CARD.encode()})
    commits_before = len(hub.repo("alice/my-model").commits)
    assert _push(tmp_path, "alice/my-model") == 0
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert "pushed to" in out.out

    repo = hub.repo("alice/my-model")
    assert len(repo.commits) == commits_before + 1
    added = repo.commits[-1]["added"]
    (results_file,) = (name for name in added if name.startswith(".eval_results/h3ds-results-"))
    assert sorted(added) == sorted(["README.md", EVAL_RESULTS_PATH, results_file])
    card = ModelCard(repo.files["README.md"].decode())
    assert "Hand-written introduction, kept as is." in card.text
    assert {r.dataset_type for r in card.data.eval_results} == {DATASET_ID, "someone/other-heads"}
    entries = parse_eval_result_entries(yaml.safe_load(repo.files[EVAL_RESULTS_PATH]))
    assert {e.task_id: e.value for e in entries} == {
        "face_chamfer_3views": 1.5,
        "head_chamfer_3views": 10.0,
    }


def test_push_as_pull_request(hub, tmp_path, monkeypatch):
    hub.add_repo("alice/new-model", owner="alice")
    calls = []
    create_commit = HfApi.create_commit

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return create_commit(self, *args, **kwargs)

    monkeypatch.setattr(HfApi, "create_commit", spy)
    assert _push(tmp_path, "alice/new-model", "--create-pr", "--output", str(tmp_path / "c")) == 0
    assert [call["create_pr"] for call in calls] == [True]
    repo = hub.repo("alice/new-model")
    assert "README.md" not in repo.files  # main is untouched until the PR is merged
    assert (tmp_path / "c" / "README.md").read_bytes() == repo.prs[1]["README.md"]
    assert repo.commits[-1]["revision"] == "refs/pr/1"


def test_push_errors_are_one_line(hub, tmp_path, capsys, monkeypatch):
    assert _push(tmp_path, "alice/missing") == 1
    assert "alice/missing not found" in capsys.readouterr().err
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "no-token"))
    assert _push(tmp_path, "alice/missing") == 1
    assert "no Hugging Face token" in capsys.readouterr().err


# ------------------------------------------------------------- tasks, revision, source, table


def _yaml_entries(folder: Path) -> list:
    return parse_eval_result_entries(yaml.safe_load((folder / EVAL_RESULTS_PATH).read_text()))


def test_only_tasks_of_the_datasets_eval_yaml_are_published(tmp_path, capsys):
    summary = {views: _cell(1.0 + int(views) / 100, 9.0) for views in ("1", "3", "8", "32")}
    assert _card(tmp_path, _results(summary), tasks={"v2": ["3-views"]}) == 0
    assert _entries(tmp_path / "card") == {"face_chamfer_3views": 1.03, "head_chamfer_3views": 9.0}
    card = ModelCard.load(tmp_path / "card" / "README.md")
    assert {r.dataset_config for r in card.data.eval_results} == {"3-views"}
    err = capsys.readouterr().err.splitlines()
    for views in ("1", "8", "32"):
        for region in ("face", "head"):
            assert any(f"left out {region}_chamfer_{views}views" in line for line in err), err
    assert len(err) == 6 and all("defines no such task" in line for line in err)


def test_card_from_a_prepared_folder_publishes_its_tasks_only(synthetic, tmp_path, capsys):
    catalog = load_catalog(path=synthetic.catalog_path)
    prepared = tmp_path / "prepared"
    prepare_dataset(
        synthetic.folder, prepared, catalog=catalog, configs=["3-views"], progress=False
    )
    opened = open_release(synthetic.folder, catalog=catalog)
    predictions = write_synthetic_predictions(opened, tmp_path / "recs", views_configs=["3", "4"])
    run = evaluate_folder(opened, predictions, views_configs=["3", "4"], progress=False)
    results, _ = run.write(tmp_path / "results.json")
    argv = ["card", "--results", str(results), "--model-id", "me/m", "--dataset-id", DATASET_ID]
    assert main([*argv, "--dataset-dir", str(prepared), "--output", str(tmp_path / "c")]) == 0
    assert set(_entries(tmp_path / "c")) == {"face_chamfer_3views", "head_chamfer_3views"}
    assert "left out face_chamfer_4views" in capsys.readouterr().err


def test_entries_carry_revision_and_a_source_that_is_the_results_file(tmp_path):
    revision = "5503434ddd753f426f4b38109466949a1217c2bb"
    results = _results({"3": _cell(1.25, 9.5)})
    assert _card(tmp_path, results, "--dataset-revision", revision) == 0
    folder = tmp_path / "card"
    entries = _yaml_entries(folder)
    assert {e.dataset_revision for e in entries} == {revision}
    (url,) = {e.source_url for e in entries}
    assert {e.source_name for e in entries} == {"h3ds-hf evaluate"}
    prefix = "https://huggingface.co/me/my-model/blob/main/"
    assert url.startswith(prefix + ".eval_results/h3ds-results-") and url.endswith(".json")
    assert json.loads((folder / url[len(prefix) :]).read_text()) == results
    card = ModelCard.load(folder / "README.md")
    assert {(r.dataset_revision, r.source_url) for r in card.data.eval_results} == {(revision, url)}


def test_dataset_revision_must_be_a_commit_without_the_hub(tmp_path, capsys):
    assert _card(tmp_path, _results({"3": _cell(1.25, 9.5)}), "--dataset-revision", "main") == 1
    assert "is not a commit sha" in capsys.readouterr().err
    assert not (tmp_path / "card").exists()


def test_partial_means_are_marked_in_table_and_notes_and_numbers_rounded(tmp_path):
    summary = {"3": _cell(1.234567, 9.87654), "4": _cell(1.0, 8.0, complete=False)}
    assert _card(tmp_path, _results(summary), "--allow-incomplete") == 0
    folder = tmp_path / "card"
    text = (folder / "README.md").read_text()
    assert "| 3-views | test | 1.23 | 9.88 |" in text
    assert "| 4-views †1 | test | 1.00 | 8.00 |" in text
    assert "†1 4-views, test: mean over 50 of 59 scenes" in text
    notes = {e.task_id: e.notes for e in _yaml_entries(folder)}
    assert "mean over 50 of 59 scenes" in notes["face_chamfer_4views"]
    assert "mean over" not in notes["face_chamfer_3views"]
    assert _entries(folder)["face_chamfer_3views"] == 1.2346
    card = ModelCard.load(folder / "README.md")
    assert {r.metric_value for r in card.data.eval_results} >= {1.2346, 9.8765}


def test_tables_and_entries_are_sorted_by_views_count(tmp_path):
    views = ["32", "16", "8", "6", "4", "3", "1"]
    shuffled = {v: _cell(float(v), float(v)) for v in ("8", "32", "1", "16", "3", "6", "4")}
    assert _card(tmp_path, _results(shuffled)) == 0
    assert _card(tmp_path, _results({"3": _cell(2.0, 2.0)}, release="v1")) == 0
    text = (tmp_path / "card" / "README.md").read_text()
    rows = [line.split(" | ")[0][2:] for line in text.splitlines() if line.startswith("| ")][2:]
    assert rows == [f"{v}-views" for v in reversed(views)] + ["v1-3-views"]
    ids = [e.task_id for e in _yaml_entries(tmp_path / "card") if "v1" not in e.task_id]
    assert ids == [f"{r}_chamfer_{v}views" for v in reversed(views) for r in ("face", "head")]


def test_new_cards_get_the_pipeline_tag_existing_ones_keep_theirs(tmp_path):
    assert _card(tmp_path, _results({"3": _cell(1.0, 9.0)})) == 0
    assert ModelCard.load(tmp_path / "card" / "README.md").data.pipeline_tag == "image-to-3d"
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "README.md").write_text(EXISTING_CARD.replace("license: mit", "pipeline_tag: x"))
    assert _card(tmp_path, _results({"3": _cell(1.0, 9.0)}), output=folder) == 0
    assert ModelCard.load(folder / "README.md").data.pipeline_tag == "x"


def test_tasks_from_the_hub_with_the_datasets_revision(hub, tmp_path, capsys):
    source = str(_write(tmp_path / "results.json", _results({"3": _cell(1.0, 9.0)})))
    argv = ["card", "--results", source, "--model-id", "me/m", "--dataset-id", DATASET_ID]
    assert main([*argv, "--output", str(tmp_path / "c")]) == 0
    sha = hub.repo(DATASET_ID, "dataset").sha
    assert {e.dataset_revision for e in _yaml_entries(tmp_path / "c")} == {sha}
    assert f"at revision {sha}" in capsys.readouterr().out

    hub.add_repo("h3ds-org/no-tasks", repo_type="dataset", files={"README.md": b"# x\n"})
    argv[-1] = "h3ds-org/no-tasks"
    assert main([*argv, "--output", str(tmp_path / "d")]) == 1
    assert "has no eval.yaml" in capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "d"), "--no-task-check"]) == 0
    assert {e.dataset_revision for e in _yaml_entries(tmp_path / "d")} == {None}


def test_without_eval_yaml_offline_one_line_and_nothing_written(tmp_path, capsys):
    source = str(_write(tmp_path / "results.json", _results({"3": _cell(1.0, 9.0)})))
    argv = ["card", "--results", source, "--model-id", "me/m", "--dataset-id", DATASET_ID]
    assert main([*argv, "--output", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "offline" in err and "--no-task-check" in err
    assert not (tmp_path / "c").exists()
    assert main([*argv, "--output", str(tmp_path / "c"), "--no-task-check"]) == 0
    assert set(_entries(tmp_path / "c")) == {"face_chamfer_3views", "head_chamfer_3views"}


def test_a_token_that_cannot_write_says_so(hub, tmp_path, capsys):
    hub.add_repo("bob/model", owner="bob", files={"README.md": EXISTING_CARD.encode()})
    assert _push(tmp_path, "bob/model") == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "your token cannot" in err and "403" in err
    assert "committing the card to bob/model" in err and TOKEN not in err
    assert len(hub.repo("bob/model").commits) == 1


def test_a_gated_dataset_or_a_refused_token_is_one_line(hub, tmp_path, capsys, monkeypatch):
    hub.add_repo(
        "h3ds-org/gated",
        repo_type="dataset",
        owner="h3ds-org",
        gated="manual",
        files={"eval.yaml": _eval_yaml({"v2": None}).encode()},
    )
    source = str(_write(tmp_path / "results.json", _results({"3": _cell(1.0, 9.0)})))
    argv = ["card", "--results", source, "--model-id", "me/m", "--dataset-id", "h3ds-org/gated"]
    assert main([*argv, "--output", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "is gated" in err and "request it at" in err

    hub.add_repo("alice/m", owner="alice")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_known_token")
    assert _push(tmp_path, "alice/m") == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "refused the token" in err and "401" in err
    assert "hf_not_a_known_token" not in err and not (tmp_path / "c").exists()
