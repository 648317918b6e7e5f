"""A scored run as the Space shows it: the paper's table beside the published results, one row
per scene, and the ``h3ds-hf card`` command that publishes it.

The table's first row is exactly ``h3ds-hf evaluate``'s (:func:`~h3ds_hf.benchmark.report.
format_table`): a views config gets its "face / head" mean only over a complete set of scenes.
"""

from __future__ import annotations

import shlex
from typing import Any

from h3ds_hf.benchmark.names import REPORTED_REGIONS
from h3ds_hf.benchmark.published import PUBLISHED_RESULTS
from h3ds_hf.benchmark.report import EvaluationRun, format_table
from h3ds_hf.hub.dataset_card import PLACEHOLDER_REPO_ID
from h3ds_hf.hub.model_card import PUBLISHED_PROTOCOL

#: Columns of the per-scene table.
SCENE_COLUMNS = ["scene", "views", "status", "face (mm)", "head (mm)", "landmarks", "note"]


def benchmark_table(run: EvaluationRun) -> str:
    """Markdown: the run's row (as ``h3ds-hf evaluate`` prints it), then the published methods
    of its release on the same views configs (h3ds protocol only: other numbers differ)."""
    table = format_table([run])
    published = PUBLISHED_RESULTS.get(run.release, [])
    if run.protocol != PUBLISHED_PROTOCOL or not published:
        return table
    rows: dict[str, list[str]] = {}
    for result in published:
        rows.setdefault(result.method, ["—"] * len(run.views_configs))
        if result.views_config in run.views_configs:
            cell = f"{result.face_mm:.2f} / {result.head_mm:.2f}"
            rows[result.method][run.views_configs.index(result.views_config)] = cell
    lines = [
        f"| {method} (published) | " + " | ".join(cells) + " |" for method, cells in rows.items()
    ]
    return "\n".join([table, *lines])


def table_note(run: EvaluationRun) -> str:
    """One line saying what the table holds."""
    regions = " / ".join(r for r in REPORTED_REGIONS if r in run.regions)
    note = f"protocol {run.protocol}, release {run.release}, mean GT → prediction, {regions} (mm)"
    if run.protocol != PUBLISHED_PROTOCOL:
        return f"{note}; the published results use the h3ds protocol and are not shown"
    if run.release not in PUBLISHED_RESULTS:
        return f"{note}; no published results for this release"
    return note


def scene_rows(run: EvaluationRun) -> list[list[Any]]:
    """One row per (scene, views config) of :data:`SCENE_COLUMNS`: status, face and head (mm,
    3 decimals), whether landmarks were used, and why a prediction failed or is missing."""
    rows = []
    for result in run.results:
        face, head = (
            round(result.regions[r]["gt_to_pred_mm"], 3) if r in result.regions else None
            for r in REPORTED_REGIONS
        )
        rows.append(
            [
                result.scene_id,
                result.views_config,
                result.status,
                face,
                head,
                "yes" if result.landmarks_used else "no",
                result.reason or "",
            ]
        )
    return rows


def card_command(dataset_id: str | None, results_name: str = "results.json") -> str:
    """The ``h3ds-hf card`` command publishing the downloaded results on a model's card."""
    dataset = dataset_id or PLACEHOLDER_REPO_ID
    return (
        f"h3ds-hf card --results {shlex.quote(results_name)} --model-id ORG/MODEL "
        f"--dataset-id {shlex.quote(dataset)} --push"
    )
