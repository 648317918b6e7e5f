"""Evaluation results as plain objects, files (JSON, CSV) and the paper's "face / head" table.

A table cell is, for one views config, the mean over scenes of the per-scene mean GT ->
prediction distance (mm) of the face (GT region face_sphere) and of the full head: the numbers
the H3DS papers publish. A mean is only reported over a complete set of scenes unless missing
or failed predictions are explicitly allowed; it is never a NaN.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from h3ds_hf.atomic import atomic_write_text
from h3ds_hf.benchmark.histograms import region_histograms
from h3ds_hf.benchmark.names import REPORTED_REGIONS
from h3ds_hf.distribution import __version__
from h3ds_hf.errors import H3DSError
from h3ds_hf.evaluation import PairResult, RegionResult
from h3ds_hf.release.catalog import Catalog

RESULTS_FORMAT = "h3ds-hf-results/1"
#: Marker of a table cell that averages over flagged predictions, explained in a footnote.
FLAG = " (!)"
#: Flagged predictions named in the table's footnote before the rest is only counted.
SHOWN_FLAGS = 10


@dataclass(frozen=True)
class ScoredPrediction:
    """Outcome of one (scene, views config) reconstruction.

    Attributes:
        scene_id, views_config: what was scored.
        prediction: the reconstruction's file name; sha256: its digest.
        status: 'ok', 'failed' (with ``reason``) or 'missing'.
        regions: region name -> the region's scores (``RegionResult.to_dict()``), with a
            ``histograms`` record of its distances when they were kept
            (:mod:`~h3ds_hf.benchmark.histograms`; absent in older results files).
        warnings: why the scores may be wrong though computed (``PairResult.warnings``).
        inputs: every file the scores depend on -> its sha256 (the mesh, its landmarks).
    """

    scene_id: str
    views_config: str
    prediction: str | None
    sha256: str | None
    status: str
    reason: str | None = None
    regions: dict[str, dict[str, Any]] = field(default_factory=dict)
    landmarks_used: bool = False
    warnings: tuple[str, ...] = ()
    inputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_result(
        cls, prediction: Any, inputs: dict[str, str], result: PairResult
    ) -> ScoredPrediction:
        return cls(
            scene_id=prediction.scene_id,
            views_config=prediction.views_config,
            prediction=prediction.mesh_path.name,
            sha256=inputs[prediction.mesh_path.name],
            status="failed" if result.failed else "ok",
            reason=result.reason,
            regions={name: _region_record(region) for name, region in result.regions.items()},
            landmarks_used=result.landmarks_used,
            warnings=result.warnings,
            inputs=inputs,
        )

    @classmethod
    def failure(cls, prediction: Any, inputs: dict[str, str], reason: str) -> ScoredPrediction:
        return cls(
            prediction.scene_id,
            prediction.views_config,
            prediction.mesh_path.name,
            inputs[prediction.mesh_path.name],
            "failed",
            reason,
            inputs=inputs,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "scene_id": self.scene_id,
            "views_config": self.views_config,
            "prediction": self.prediction,
            "sha256": self.sha256,
            "status": self.status,
            "reason": self.reason,
            "landmarks_used": self.landmarks_used,
            "warnings": list(self.warnings),
            "inputs": self.inputs,
            "regions": self.regions,
        }


def _region_record(region: RegionResult) -> dict[str, Any]:
    """A region's scores, with its distance histograms when the distances were kept."""
    record = region.to_dict()
    if region.gt_to_pred is not None and region.pred_to_gt is not None:
        record["histograms"] = region_histograms(region.gt_to_pred, region.pred_to_gt)
    return record


@dataclass(frozen=True)
class ConfigSummary:
    """Table cell of one views config: per-region means over scenes (None when incomplete)."""

    views_config: str
    means_mm: dict[str, float | None]
    scenes: int
    expected: int

    @property
    def complete(self) -> bool:
        return self.scenes == self.expected

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"{r}_chamfer_mm": m for r, m in self.means_mm.items()}
        out.update(scenes=self.scenes, expected=self.expected, complete=self.complete)
        return out


@dataclass(frozen=True)
class EvaluationRun:
    """Everything one evaluation produced; ``to_dict()`` is the results JSON."""

    method: str
    protocol: str
    regions: tuple[str, ...]
    release: str
    catalog_version: str
    views_configs: list[str]
    tags: list[str]
    results: list[ScoredPrediction]
    summary: dict[str, ConfigSummary]
    allow_missing: bool = False
    warnings: tuple[str, ...] = ()
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def missing(self) -> list[ScoredPrediction]:
        return [r for r in self.results if r.status == "missing"]

    @property
    def failed(self) -> list[ScoredPrediction]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def flagged(self) -> list[ScoredPrediction]:
        """Scored predictions with warnings: their numbers need a second look."""
        return [r for r in self.results if r.warnings]

    def all_warnings(self) -> list[str]:
        """The run's warnings, then each flagged prediction's, prefixed by its name."""
        return list(self.warnings) + [
            f"{r.scene_id}_{r.views_config}: {warning}"
            for r in self.flagged
            for warning in r.warnings
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULTS_FORMAT,
            "package_version": __version__,
            "protocol": self.protocol,
            "regions": list(self.regions),
            "release": self.release,
            "catalog_version": self.catalog_version,
            "method": self.method,
            "views_configs": self.views_configs,
            "tags": self.tags,
            "allow_missing": self.allow_missing,
            "warnings": self.all_warnings(),
            "inputs": self.inputs,
            "results": [r.to_dict() for r in self.results],
            "summary": {config: s.to_dict() for config, s in self.summary.items()},
        }

    def with_missing_allowed(self) -> EvaluationRun:
        """The same run whose table averages over the scenes that were scored."""
        return _with_summary(self, allow_missing=True)

    def table(self) -> str:
        """The README's table: one row (this method), one column per views config."""
        return format_table([self])

    def write(self, path: str | Path) -> tuple[Path, Path]:
        """Write the results JSON at ``path`` and a CSV (one row per region) beside it."""
        path = Path(path)
        csv_path = path.with_suffix(".csv")
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        atomic_write_text(csv_path, self.csv())
        return path, csv_path

    def csv(self) -> str:
        """One row per (scene, views config, region) with every figure and the status, led by
        the method and protocol so that files of several runs concatenate."""
        columns = [
            "method", "protocol", "scene_id", "views_config", "region", "status",
            "gt_to_pred_mm", "pred_to_gt_mm",
            "gt_to_pred_median_mm", "gt_to_pred_p90_mm", "pred_to_gt_median_mm",
            "pred_to_gt_p90_mm", "fscore_1mm", "fscore_2.5mm", "fscore_5mm", "icp_iterations",
            "icp_rms_mm", "icp_scale", "icp_reflection", "prediction", "reason",
        ]  # fmt: skip
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for result in self.results:
            base = {
                "method": self.method,
                "protocol": self.protocol,
                "scene_id": result.scene_id,
                "views_config": result.views_config,
                "status": result.status,
                "prediction": result.prediction,
                "reason": result.reason,
            }
            if not result.regions:
                writer.writerow(base)
            for region, scores in result.regions.items():
                row = dict(base, region=region)
                row.update({k: v for k, v in scores.items() if k in columns})
                for score in scores["fscores"]:
                    row[f"fscore_{score['threshold_mm']:g}mm"] = score["fscore"]
                alignment = scores["alignment"]
                row.update(
                    icp_iterations=alignment["iterations"],
                    icp_rms_mm=alignment["rms_mm"],
                    icp_scale=alignment["scale"],
                    icp_reflection=alignment["reflection"],
                )
                writer.writerow(row)
        return buffer.getvalue()


def summarize(
    scored: Sequence[ScoredPrediction],
    *,
    missing: Sequence[tuple[str, str]],
    catalog: Catalog,
    views_configs: Sequence[str],
    tags: list[str],
    protocol: str,
    regions: Sequence[str],
    method: str,
    allow_missing: bool = False,
    warnings: Sequence[str] = (),
    inputs: dict[str, str] | None = None,
) -> EvaluationRun:
    """Sort the outcomes (catalog order, then views config) and compute the table.

    ``warnings`` are the run's own (e.g. files of the predictions folder that match no
    expected name); ``inputs`` maps the run's shared inputs (the catalog, the GT source) to
    their sha256 or revision.
    """
    scene_order = {scene_id: i for i, scene_id in enumerate(catalog.scenes)}
    config_order = {config: i for i, config in enumerate(views_configs)}
    results = list(scored) + [
        ScoredPrediction(scene_id, config, None, None, "missing", "no reconstruction file")
        for scene_id, config in missing
    ]
    results.sort(key=lambda r: (scene_order[r.scene_id], config_order[r.views_config]))
    run = EvaluationRun(
        method=method,
        protocol=protocol,
        regions=tuple(regions),
        release=catalog.name,
        catalog_version=catalog.version,
        views_configs=list(views_configs),
        tags=tags,
        results=results,
        summary={},
        warnings=tuple(warnings),
        inputs=dict(inputs or {}),
    )
    return _with_summary(run, allow_missing)


def _with_summary(run: EvaluationRun, allow_missing: bool) -> EvaluationRun:
    summary = {}
    for config in run.views_configs:
        rows = [r for r in run.results if r.views_config == config]
        scored = [r for r in rows if r.status == "ok"]
        usable = bool(scored) and (allow_missing or len(scored) == len(rows))
        means = {
            region: float(np.mean([r.regions[region]["gt_to_pred_mm"] for r in scored]))
            if usable
            else None
            for region in run.regions
        }
        summary[config] = ConfigSummary(config, means, len(scored), len(rows))
    return EvaluationRun(**{**run.__dict__, "summary": summary, "allow_missing": allow_missing})


def format_table(runs: Sequence[EvaluationRun]) -> str:
    """Markdown table: rows = methods, columns = views configs, cells "face / head" (mm)."""
    configs: list[str] = []
    for run in runs:
        configs += [c for c in run.views_configs if c not in configs]
    header = "| method | " + " | ".join(f"{c} views" for c in configs) + " |"
    lines = [header, "|" + "---|" * (len(configs) + 1)]
    notes: list[str] = []
    for run in runs:
        cells = []
        for config in configs:
            cell = _cell(run.summary.get(config), run.regions)
            flagged = [r for r in run.flagged if r.views_config == config]
            if flagged and not cell.startswith("—"):
                cell += FLAG
                notes += [f"{r.scene_id}_{r.views_config}: {r.warnings[0]}" for r in flagged]
            cells.append(cell)
        lines.append(f"| {run.method} | " + " | ".join(cells) + " |")
        if run.warnings:  # the folder's: misnamed files, landmarks of no prediction
            notes += [f"{run.method}: {warning}" for warning in run.warnings]
    if notes:
        lines.append("")
        lines.append(
            f"{FLAG} {len(notes)} warning(s): the numbers may be wrong (all warnings are in "
            "the results JSON):"
        )
        lines += [f"  {note}" for note in notes[:SHOWN_FLAGS]]
        if len(notes) > SHOWN_FLAGS:
            lines.append(f"  ... and {len(notes) - SHOWN_FLAGS} more")
    return "\n".join(lines)


def _cell(summary: ConfigSummary | None, regions: Sequence[str]) -> str:
    if summary is None:
        return "—"
    values = [summary.means_mm.get(r) for r in REPORTED_REGIONS if r in regions]
    if any(v is None for v in values):
        return f"— ({summary.scenes}/{summary.expected} scenes)"
    text = " / ".join(f"{v:.2f}" for v in values)
    return text if summary.complete else f"{text} ({summary.scenes}/{summary.expected} scenes)"


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results JSON written by :meth:`EvaluationRun.write`, checking its format."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise H3DSError(f"cannot read results {path}: JSON nested too deeply") from None
    except (OSError, ValueError) as error:
        raise H3DSError(f"cannot read results {path}: {error}") from None
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise H3DSError(f"{path} is not an h3ds-hf results file ({RESULTS_FORMAT})")
    return data
