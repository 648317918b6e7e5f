"""The benchmark's leaderboard: the Hub's results for each task merged with the published ones.

The Hub keeps one leaderboard per task of the dataset's ``eval.yaml`` (``face_chamfer_3views``,
``head_chamfer_3views``, ...). huggingface_hub's ``HfApi.get_dataset_leaderboard`` (2.4) reads
``GET /api/datasets/{repo}/leaderboard`` and takes no task: its entries name the model and the
``.eval_results`` file the value came from. Each model's file is read (the model repository's
own results, as ``h3ds-hf card`` writes them) to get its value for every task of this dataset,
so face and head of each views config come from one place. The Hub has no lower-is-better
field: rows are sorted here, smallest chamfer first.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import HfApi, parse_eval_result_entries
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from h3ds_hf.benchmark.names import REPORTED_REGIONS, task_id
from h3ds_hf.benchmark.published import PUBLISHED_RESULTS, published_views_configs
from h3ds_hf.hub.calls import HUB_FAILURES, hub_failure, without_secrets

logger = logging.getLogger(__name__)

#: The step named when the leaderboard cannot be read.
_READING = "reading the Hub leaderboard"

#: Columns of a leaderboard table.
COLUMNS = ["rank", "method", "face (mm)", "head (mm)", "source"]
#: The releases whose views configs the leaderboard lists, newest first.
RELEASES = ("v2", "v1")


@dataclass(frozen=True)
class BoardRow:
    """One method on one views config: face and head in mm (None when not reported)."""

    method: str
    face_mm: float | None
    head_mm: float | None
    source: str


@dataclass(frozen=True)
class HubResults:
    """What the Hub holds: model id -> task id -> value (mm), and a one-line note."""

    values: dict[str, dict[str, float]]
    verified: dict[str, bool]
    note: str


def views_choices() -> list[tuple[str, str]]:
    """(label, value) of every views config with published results: ('v2 · 3 views', 'v2:3')."""
    return [
        (f"{release} · {views} views", f"{release}:{views}")
        for release in RELEASES
        for views in published_views_configs(release)
    ]


def fetch_hub_results(api: HfApi, dataset_id: str | None) -> HubResults:
    """Every model's values for the tasks of ``dataset_id`` on its Hub leaderboard.

    Never raises for a Hub failure: the note says what happened (no dataset set, not a
    registered benchmark yet, unreachable), and the published results are shown regardless.
    """
    if dataset_id is None:
        return HubResults({}, {}, "no Hub dataset configured: only the published results")
    try:
        entries = api.get_dataset_leaderboard(dataset_id)
    except RepositoryNotFoundError:
        note = f"{dataset_id} is not on the Hub or not visible with this Space's token"
        return HubResults({}, {}, f"{note}: only the published results")
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in {400, 404}:
            note = (
                f"{dataset_id} is not a registered benchmark on the Hub yet (it has no "
                "leaderboard): only the published results"
            )
            return HubResults({}, {}, note)
        return HubResults({}, {}, without_secrets(hub_failure(error, step=_READING)))
    except HUB_FAILURES as error:
        return HubResults({}, {}, without_secrets(hub_failure(error, step=_READING)))
    values: dict[str, dict[str, float]] = {}
    verified: dict[str, bool] = {}
    unread = 0
    for model_id, filename in dict.fromkeys((e.model_id, e.filename) for e in entries):
        tasks = _model_values(api, model_id, filename, dataset_id)
        if tasks is None:
            unread += 1
            continue
        values.setdefault(model_id, {}).update(tasks)
    for entry in entries:
        verified[entry.model_id] = verified.get(entry.model_id, False) or bool(entry.verified)
    note = f"{len(values)} model(s) on the Hub leaderboard of {dataset_id}"
    if unread:
        note += f"; {unread} results file(s) could not be read"
    return HubResults(values, verified, note)


def _model_values(
    api: HfApi, model_id: str, filename: str, dataset_id: str
) -> dict[str, float] | None:
    """task id -> value of one model's results file, for this dataset; None if unreadable."""
    try:
        path = api.hf_hub_download(model_id, filename)
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        entries = parse_eval_result_entries(document if isinstance(document, list) else [])
    except (*HUB_FAILURES, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        logger.warning("cannot read %s of %s: %s", filename, model_id, error)
        return None
    return {
        entry.task_id: float(entry.value)
        for entry in entries
        if entry.dataset_id == dataset_id and _is_number(entry.value)
    }


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def board(
    hub: HubResults, release: str, views_config: str, sort_by: str = "face"
) -> list[BoardRow]:
    """The rows of one views config: published methods and Hub models, lower is better.

    Rows without the ``sort_by`` region come last; ties are broken by the other region.
    """
    rows = [
        BoardRow(r.method, r.face_mm, r.head_mm, "published (paper)")
        for r in PUBLISHED_RESULTS.get(release, [])
        if r.views_config == views_config
    ]
    face, head = (task_id(region, release, views_config) for region in REPORTED_REGIONS)
    for model_id, tasks in sorted(hub.values.items()):
        if face in tasks or head in tasks:
            source = "Hub (verified)" if hub.verified.get(model_id) else "Hub"
            rows.append(BoardRow(model_id, tasks.get(face), tasks.get(head), source))
    first, second = ("face_mm", "head_mm") if sort_by == "face" else ("head_mm", "face_mm")

    def key(row: BoardRow) -> tuple:
        a, b = getattr(row, first), getattr(row, second)
        return (a is None, a or 0.0, b is None, b or 0.0, row.method)

    return sorted(rows, key=key)


def board_table(rows: list[BoardRow]) -> list[list[Any]]:
    """Rows of :data:`COLUMNS`, values rounded to 2 decimals as published."""
    return [
        [
            rank,
            row.method,
            None if row.face_mm is None else round(row.face_mm, 2),
            None if row.head_mm is None else round(row.head_mm, 2),
            row.source,
        ]
        for rank, row in enumerate(rows, start=1)
    ]
