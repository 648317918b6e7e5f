"""Plain result objects of an evaluation, each with a JSON-ready ``to_dict()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: F-score thresholds of the surface protocol (mm).
FSCORE_THRESHOLDS_MM: tuple[float, ...] = (1.0, 2.5, 5.0)


@dataclass(frozen=True)
class AlignmentDiagnostics:
    """How the ground truth was fitted onto the prediction by ICP.

    Attributes:
        iterations: Procrustes steps taken (at most 20).
        rms_mm: root mean square distance of the last step's nearest-vertex matches (mm).
        scale: isotropic scale of the fitted GT -> prediction transform.
        reflection: whether that transform mirrors space (only the h3ds protocol allows it).
        matrix: (4, 4) GT -> prediction transform (after the landmark step), row-major.
    """

    iterations: int
    rms_mm: float
    scale: float
    reflection: bool
    matrix: tuple[tuple[float, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "iterations": self.iterations,
            "rms_mm": self.rms_mm,
            "scale": self.scale,
            "reflection": self.reflection,
            "matrix": [list(row) for row in self.matrix],
        }


@dataclass(frozen=True)
class FScore:
    """Precision (prediction points within the threshold of the GT), recall (GT points within
    the threshold of the prediction) and their harmonic mean, all in [0, 1]."""

    threshold_mm: float
    precision: float
    recall: float
    fscore: float

    def to_dict(self) -> dict[str, float]:
        return {
            "threshold_mm": self.threshold_mm,
            "precision": self.precision,
            "recall": self.recall,
            "fscore": self.fscore,
        }


@dataclass(frozen=True)
class RegionResult:
    """Scores of one region ("face" or "head") of one prediction.

    Attributes:
        region: "face" (GT region face_sphere) or "head" (whole GT).
        gt_to_pred_mm: mean distance from GT points to the prediction, the published metric.
        pred_to_gt_mm: mean distance from prediction points to the GT (region).
        gt_to_pred_median_mm, gt_to_pred_p90_mm, pred_to_gt_median_mm, pred_to_gt_p90_mm:
            median and 90th percentile of the same distances.
        fscores: one :class:`FScore` per threshold of :data:`FSCORE_THRESHOLDS_MM`.
        n_gt_points, n_pred_points: how many points each direction averaged over.
        alignment: ICP diagnostics of the fit used for this region.
        gt_to_pred, pred_to_gt: per-point distances (mm), kept only when asked for
            (``keep_arrays=True``); never serialized.
        gt_indices: (K,) int64 GT vertex indices ``gt_to_pred`` is about, in its order;
        pred_indices: (L,) int64 predicted vertex indices ``pred_to_gt`` is about;
        aligned_prediction: (M, 3) float64 all predicted vertices moved onto the GT (mm) by
            this region's alignment. Kept with the distances (to draw heatmaps), never
            serialized.
    """

    region: str
    gt_to_pred_mm: float
    pred_to_gt_mm: float
    gt_to_pred_median_mm: float
    gt_to_pred_p90_mm: float
    pred_to_gt_median_mm: float
    pred_to_gt_p90_mm: float
    fscores: tuple[FScore, ...]
    n_gt_points: int
    n_pred_points: int
    alignment: AlignmentDiagnostics
    gt_to_pred: np.ndarray | None = field(default=None, repr=False, compare=False)
    pred_to_gt: np.ndarray | None = field(default=None, repr=False, compare=False)
    gt_indices: np.ndarray | None = field(default=None, repr=False, compare=False)
    pred_indices: np.ndarray | None = field(default=None, repr=False, compare=False)
    aligned_prediction: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "gt_to_pred_mm": self.gt_to_pred_mm,
            "pred_to_gt_mm": self.pred_to_gt_mm,
            "gt_to_pred_median_mm": self.gt_to_pred_median_mm,
            "gt_to_pred_p90_mm": self.gt_to_pred_p90_mm,
            "pred_to_gt_median_mm": self.pred_to_gt_median_mm,
            "pred_to_gt_p90_mm": self.pred_to_gt_p90_mm,
            "fscores": [score.to_dict() for score in self.fscores],
            "n_gt_points": self.n_gt_points,
            "n_pred_points": self.n_pred_points,
            "alignment": self.alignment.to_dict(),
        }


@dataclass(frozen=True)
class PairResult:
    """Scores of one prediction against one ground truth.

    Attributes:
        scene_id: the GT scene.
        protocol: "h3ds" or "surface".
        alignment: "similarity" or "rigid" for the surface protocol, "similarity+reflection"
            for h3ds (its ICP may mirror).
        landmarks_used: whether the landmark pre-alignment ran.
        regions: region name -> :class:`RegionResult` (empty when failed).
        failed: True when the prediction could not be scored; ``reason`` says why.
        warnings: what makes the scores doubtful though computable (a unit mistake, an
            implausible fit scale or ICP RMS, a reflection); see
            :mod:`h3ds_hf.evaluation.plausibility`. Scores are never changed by them.
    """

    scene_id: str
    protocol: str
    alignment: str
    landmarks_used: bool
    regions: dict[str, RegionResult]
    failed: bool = False
    reason: str | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "scene_id": self.scene_id,
            "protocol": self.protocol,
            "alignment": self.alignment,
            "landmarks_used": self.landmarks_used,
            "failed": self.failed,
            "reason": self.reason,
            "warnings": list(self.warnings),
            "regions": {name: result.to_dict() for name, result in self.regions.items()},
        }


def region_result(
    region: str,
    gt_to_pred: np.ndarray,
    pred_to_gt: np.ndarray,
    alignment: AlignmentDiagnostics,
    *,
    keep_arrays: bool,
    where: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> RegionResult:
    """Summarize per-point distances (mm) of both directions into a :class:`RegionResult`.

    ``where``: (gt_indices, pred_indices, aligned_prediction) of the distances, kept with them
    when ``keep_arrays`` (see :class:`RegionResult`)."""
    gt_indices, pred_indices, aligned = where if keep_arrays and where else (None, None, None)
    gt_median, gt_p90 = (float(x) for x in np.percentile(gt_to_pred, (50, 90)))
    pred_median, pred_p90 = (float(x) for x in np.percentile(pred_to_gt, (50, 90)))
    return RegionResult(
        region=region,
        gt_to_pred_mm=float(np.mean(gt_to_pred)),
        pred_to_gt_mm=float(np.mean(pred_to_gt)),
        gt_to_pred_median_mm=gt_median,
        gt_to_pred_p90_mm=gt_p90,
        pred_to_gt_median_mm=pred_median,
        pred_to_gt_p90_mm=pred_p90,
        fscores=tuple(fscore(gt_to_pred, pred_to_gt, t) for t in FSCORE_THRESHOLDS_MM),
        n_gt_points=len(gt_to_pred),
        n_pred_points=len(pred_to_gt),
        alignment=alignment,
        gt_to_pred=gt_to_pred if keep_arrays else None,
        pred_to_gt=pred_to_gt if keep_arrays else None,
        gt_indices=gt_indices,
        pred_indices=pred_indices,
        aligned_prediction=aligned,
    )


def fscore(gt_to_pred: np.ndarray, pred_to_gt: np.ndarray, threshold_mm: float) -> FScore:
    """F-score at ``threshold_mm``: a point counts when its distance is strictly below it."""
    precision = float(np.mean(pred_to_gt < threshold_mm)) if len(pred_to_gt) else 0.0
    recall = float(np.mean(gt_to_pred < threshold_mm)) if len(gt_to_pred) else 0.0
    total = precision + recall
    return FScore(
        threshold_mm=threshold_mm,
        precision=precision,
        recall=recall,
        fscore=2 * precision * recall / total if total > 0 else 0.0,
    )
