"""``eval.yaml``: the dataset declared as a Hub benchmark, exactly to the Hub's specification.

The specification (hub-docs ``docs/hub/eval-results.md``, "Eval.yaml specification") allows
``name``, ``description``, ``evaluation_framework`` and ``tasks``, each task with ``id``,
``config`` and ``split``; nothing else. Each task becomes one leaderboard. The framework must
be one of the Hub's known frameworks (huggingface.js ``packages/tasks/src/eval.ts``); ours is
not one yet, which is why it is an option. The specification has no way to say that lower is
better, which chamfer distances are: the README says what registration still takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from h3ds_hf.benchmark.names import REPORTED_REGIONS, config_sort_key, parse_config_name, task_id
from h3ds_hf.errors import H3DSError
from h3ds_hf.hub.names import EVALUATION_FRAMEWORK
from h3ds_hf.release.catalog import Catalog

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
