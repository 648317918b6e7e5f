"""``eval.yaml``: the dataset declared as a Hub benchmark, exactly to the Hub's specification,
written by ``prepare`` and read back by ``card`` (which publishes only the tasks it defines).

The specification (hub-docs ``docs/hub/eval-results.md``, "Eval.yaml specification") allows
``name``, ``description``, ``evaluation_framework`` and ``tasks``, each task with ``id``,
``config`` and ``split``; nothing else. Each task becomes one leaderboard. The framework must
be one of the Hub's known frameworks (huggingface.js ``packages/tasks/src/eval.ts``); ours is
not one yet, which is why it is an option. The specification has no way to say that lower is
better, which chamfer distances are: the README says what registration still takes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    GatedRepoError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from h3ds_hf.benchmark.names import REPORTED_REGIONS, config_sort_key, parse_config_name, task_id
from h3ds_hf.errors import H3DSError, HubError
from h3ds_hf.hub.calls import HUB_FAILURES, failed_step
from h3ds_hf.hub.names import EVAL_YAML, EVALUATION_FRAMEWORK
from h3ds_hf.hub.untrusted import safe_yaml, utf8_text
from h3ds_hf.release.catalog import Catalog

#: The split a task is on when eval.yaml does not say (the specification's default).
BENCHMARK_SPLIT = "test"
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")

#: The specification as data: key -> (type, required); "tasks" items follow TASK_SCHEMA.
SCHEMA: dict[str, tuple[type, bool]] = {
    "name": (str, True),
    "description": (str, False),
    "evaluation_framework": (str, True),
    "tasks": (list, True),
}
TASK_SCHEMA: dict[str, tuple[type, bool]] = {
    "id": (str, True),
    "config": (str, False),
    "split": (str, False),
}


class EvalYamlError(H3DSError, ValueError):
    """An eval.yaml document that the Hub's specification does not allow."""


def _problems(document: Any, schema: Mapping[str, tuple[type, bool]], where: str) -> list[str]:
    if not isinstance(document, Mapping):
        return [f"{where} must be a mapping, got {type(document).__name__}"]
    problems = [f"{where}: unknown key {key!r}" for key in document if key not in schema]
    for key, (kind, required) in schema.items():
        if key not in document:
            problems += [f"{where}: missing {key!r}"] if required else []
        elif not isinstance(document[key], kind) or (kind is str and not document[key].strip()):
            problems.append(f"{where}: {key!r} must be a non-empty {kind.__name__}")
    return problems


def validate_eval_yaml(document: Any) -> None:
    """Check a parsed eval.yaml against the specification.

    Raises:
        EvalYamlError: every problem found, in one message.
    """
    problems = _problems(document, SCHEMA, "eval.yaml")
    tasks = document.get("tasks") if isinstance(document, Mapping) else None
    if isinstance(tasks, list):
        if not tasks:
            problems.append("eval.yaml: 'tasks' is empty")
        for index, task in enumerate(tasks):
            problems += _problems(task, TASK_SCHEMA, f"tasks[{index}]")
        ids = [task.get("id") for task in tasks if isinstance(task, Mapping)]
        problems += [
            f"eval.yaml: task id {i!r} appears twice" for i in set(ids) if ids.count(i) > 1
        ]
    if problems:
        raise EvalYamlError("; ".join(problems))


def eval_tasks(catalog: Catalog, configs: Sequence[str]) -> list[dict[str, str]]:
    """One task per reported region and views config (not 'all-views'), on split 'test'."""
    tasks = []
    for name in sorted(configs, key=config_sort_key):
        views = parse_config_name(name).views_config
        if views is None:
            continue
        tasks += [
            {"id": task_id(region, catalog.name, views), "config": name, "split": "test"}
            for region in REPORTED_REGIONS
        ]
    return tasks


def render_eval_yaml(
    catalog: Catalog, configs: Sequence[str], *, evaluation_framework: str = EVALUATION_FRAMEWORK
) -> str:
    """The eval.yaml of a prepared folder, validated against the specification."""
    document = {
        "name": "H3DS",
        "description": "Few-view full 3D head reconstruction: mean chamfer distance in mm "
        "(lower is better) from the high-resolution scan to the reconstruction, for the face "
        "(tasks face_chamfer_*: within 95 mm of the nose tip) and the full head "
        f"(head_chamfer_*), with the official H3DS protocol, release {catalog.name}. "
        "One task per region and views config.",
        "evaluation_framework": evaluation_framework,
        "tasks": eval_tasks(catalog, configs),
    }
    validate_eval_yaml(document)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


# -- reading an eval.yaml: the tasks that results may be published to ---------
@dataclass(frozen=True)
class BenchmarkTask:
    """One task of eval.yaml: its dataset config (None: the dataset's default) and split."""

    task_id: str
    config: str | None
    split: str


@dataclass(frozen=True)
class BenchmarkTasks:
    """The tasks a benchmark dataset defines, where they were read and at which revision.

    Attributes:
        origin: for messages ("dataset ORG/h3ds's eval.yaml", "DIR/eval.yaml").
        tasks: task id -> task.
        revision: the dataset's commit sha when known, else None.
    """

    origin: str
    tasks: dict[str, BenchmarkTask]
    revision: str | None = None


def parse_eval_yaml(text: str, *, origin: str, revision: str | None = None) -> BenchmarkTasks:
    """The tasks of an eval.yaml's text (safe YAML; keys other than the tasks' are ignored).

    Raises:
        H3DSError: not YAML, or not a mapping whose ``tasks`` is a list of ``{id, config?,
            split?}`` with string values and distinct ids.
    """
    document = safe_yaml(text, origin)
    tasks = document.get("tasks") if isinstance(document, dict) else None
    if not isinstance(tasks, list):
        raise H3DSError(f"{origin} has no 'tasks' list")
    found: dict[str, BenchmarkTask] = {}
    for item in tasks:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise H3DSError(f"{origin}: every task must be a mapping with a string 'id'")
        config, split = item.get("config"), item.get("split", BENCHMARK_SPLIT)
        if not (config is None or isinstance(config, str)) or not isinstance(split, str):
            raise H3DSError(f"{origin}: task {item['id']!r} has a non-string config or split")
        if item["id"] in found:
            raise H3DSError(f"{origin}: task {item['id']!r} is defined twice")
        found[item["id"]] = BenchmarkTask(item["id"], config, split)
    return BenchmarkTasks(origin, found, revision)


def read_local_tasks(folder: str | Path, *, revision: str | None = None) -> BenchmarkTasks:
    """The tasks of a prepared (``h3ds-hf prepare``) or downloaded dataset folder's eval.yaml.

    Args:
        revision: the Hub commit the folder holds, when the caller knows it (40 hex digits).

    Raises:
        H3DSError: no readable eval.yaml in ``folder``, or a malformed one.
    """
    path = Path(folder) / EVAL_YAML
    if not path.is_file():
        raise H3DSError(
            f"{folder} has no {EVAL_YAML}: give a folder written by `h3ds-hf prepare` or a "
            "download of the Hub dataset"
        )
    text = utf8_text(path.read_bytes(), str(path))
    return parse_eval_yaml(text, origin=str(path), revision=revision)


def read_hub_tasks(api: HfApi, dataset_id: str, *, revision: str | None = None) -> BenchmarkTasks:
    """The tasks of a Hub dataset's eval.yaml, read at ``revision`` (default: its main branch),
    with the commit sha that revision resolved to.

    Raises:
        HubError: offline, unreachable, no such dataset or revision, no access, no eval.yaml.
    """
    where = f"dataset {dataset_id}"
    step = f"reading {where}"
    try:
        sha = api.dataset_info(dataset_id, revision=revision).sha
        path = api.hf_hub_download(dataset_id, EVAL_YAML, repo_type="dataset", revision=sha)
    except GatedRepoError:
        raise HubError(
            f"{where} is gated and your token has not been granted access: request it at "
            f"{api.endpoint}/datasets/{dataset_id}, or give --dataset-dir"
        ) from None
    except RevisionNotFoundError:
        raise HubError(f"{where} has no revision {revision!r}") from None
    except RepositoryNotFoundError:
        raise HubError(f"{where} not found on {api.endpoint}, or not readable") from None
    except RemoteEntryNotFoundError:
        raise HubError(
            f"{where} has no {EVAL_YAML}: it does not declare benchmark tasks (give "
            "--dataset-dir, or --no-task-check to publish without checking task ids)"
        ) from None
    except HUB_FAILURES as error:
        hint = f" (give --dataset-dir DIR, or --no-task-check to publish without {EVAL_YAML})"
        step = f"{step}'s {EVAL_YAML}"
        raise failed_step(
            error, step=step, endpoint=api.endpoint, token=api.token, after=hint
        ) from None
    origin = f"{where}'s {EVAL_YAML}"
    return parse_eval_yaml(utf8_text(Path(path).read_bytes(), origin), origin=origin, revision=sha)


def check_revision(revision: str) -> str:
    """A dataset revision recorded without asking the Hub must be a full commit sha.

    Raises:
        H3DSError: it is not 40 lowercase hex digits.
    """
    if not _COMMIT_SHA.fullmatch(revision):
        raise H3DSError(
            f"dataset revision {revision!r} is not a commit sha (40 hex digits, as the Hub shows "
            "it in the dataset's history)"
        )
    return revision
