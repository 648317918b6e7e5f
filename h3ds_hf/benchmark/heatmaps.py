"""Per-vertex error heatmaps: the scored pairs rescored with their distances kept, as meshes.

:func:`rescored_pairs` scores pairs of a run again with the run's options, keeping the
protocol's own per-vertex distances (nearest vertex for "h3ds", closest surface point for
"surface"), for the report's pictures and for :func:`write_run_heatmaps`'s files. Per pair
and region ('face': the scored points of face_sphere, 'head': the full head), two meshes: the
whole GT coloured by its distance to the prediction and the aligned prediction coloured by its
distance to the GT, as

- ``{scene}_{views}.{region}.{gt,pred}_heatmap.ply``: binary PLY with RGBA vertex colours and
  a float ``error_mm`` vertex property (NaN outside the scored region), to recolour in MeshLab;
- ``{scene}_{views}.{region}.{gt,pred}_heatmap.glb``: vertex-coloured GLB, what the Hub's file
  viewer and gradio's Model3D display (meshes only: a predicted point cloud has no GLB).

Colours follow :func:`h3ds_hf.render.colours.error_colours` with the report's per-region clip
(:func:`region_clips`): grey outside the scored region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from h3ds_hf.atomic import atomic_write_bytes
from h3ds_hf.benchmark.histograms import percentile_mm
from h3ds_hf.benchmark.report import EvaluationRun, ScoredPrediction
from h3ds_hf.evaluation import (
    LANDMARKS_SUFFIX,
    PairResult,
    RegionResult,
    SceneEvaluator,
    load_prediction,
    read_landmarks,
)
from h3ds_hf.render.colours import CLIP_PERCENTILE, default_clip_mm, error_colours
from h3ds_hf.scene import GroundTruth


@dataclass(frozen=True)
class RescoredPair:
    """One pair scored again with its arrays: the GT, the prediction's (M, 3) vertices and
    (F, 3) faces as read, and the :class:`PairResult` with per-vertex distances kept."""

    row: ScoredPrediction
    gt: GroundTruth
    pred_vertices: np.ndarray
    pred_faces: np.ndarray
    result: PairResult

    @property
    def stem(self) -> str:
        return f"{self.row.scene_id}_{self.row.views_config}"


def region_clips(run: EvaluationRun, clip_mm: float | None = None) -> dict[str, float]:
    """Clip (mm) of each region's colours: ``clip_mm`` for all, or
    :func:`~h3ds_hf.render.colours.default_clip_mm` of the run's 95th percentile GT ->
    prediction distance in the region (1 mm when the run kept no histogram)."""
    clips = {}
    for region in run.regions:
        records = [
            r.regions[region]["histograms"]
            for r in run.results
            if r.status == "ok" and "histograms" in r.regions.get(region, {})
        ]
        p = percentile_mm(records, CLIP_PERCENTILE) if records else 0.0
        clips[region] = clip_mm if clip_mm is not None else default_clip_mm(p)
    return clips


def rescored_pairs(
    rows: Sequence[ScoredPrediction],
    ground_truth: Callable[[str], GroundTruth],
    predictions: Path,
    *,
    protocol: str,
    regions: tuple[str, ...],
    alignment: str,
) -> Iterator[RescoredPair]:
    """Score ``rows`` (scored pairs of a run on files in ``predictions``) again, scene by
    scene (each GT read and indexed once), keeping the per-vertex distances."""
    for scene_id in dict.fromkeys(r.scene_id for r in rows):
        gt = ground_truth(scene_id)
        evaluator = SceneEvaluator(gt)
        for row in (r for r in rows if r.scene_id == scene_id):
            vertices, faces = load_prediction(predictions / str(row.prediction))
            landmarks_path = predictions / f"{scene_id}_{row.views_config}{LANDMARKS_SUFFIX}"
            landmarks = read_landmarks(landmarks_path) if landmarks_path.is_file() else None
            result = evaluator.evaluate(
                (vertices, faces),
                landmarks,
                protocol=protocol,
                regions=regions,
                alignment=alignment,
                keep_arrays=True,
            )
            yield RescoredPair(row, gt, vertices, faces, result)


def vertex_errors(scores: RegionResult, n: int, side: str) -> np.ndarray:
    """(n,) per-vertex distances (mm) of one side ("gt" or "pred") of a region kept with
    ``keep_arrays``, NaN where the vertex is not scored."""
    distances = np.full(n, np.nan)
    if side == "gt":
        distances[scores.gt_indices] = scores.gt_to_pred
    else:
        distances[scores.pred_indices] = scores.pred_to_gt
    return distances


def write_pair_heatmaps(pair: RescoredPair, folder: Path, clips: dict[str, float]) -> list[Path]:
    """Write the PLY and GLB heatmaps of one rescored pair into ``folder``; return paths."""
    written = []
    for region, scores in pair.result.regions.items():
        sides = (
            ("gt", pair.gt.vertices, pair.gt.faces),
            ("pred", scores.aligned_prediction, pair.pred_faces),
        )
        for side, vertices, faces in sides:
            errors = vertex_errors(scores, len(vertices), side)
            colours = error_colours(errors, clips[region])
            rgba = np.hstack([colours, np.full((len(colours), 1), 255, np.uint8)])
            mesh = trimesh.Trimesh(vertices, faces, vertex_colors=rgba, process=False)
            mesh.vertex_attributes["error_mm"] = errors.astype(np.float32)
            name = f"{pair.stem}.{region}.{side}_heatmap"
            ply = mesh.export(file_type="ply", encoding="binary", include_attributes=True)
            written.append(atomic_write_bytes(folder / f"{name}.ply", ply))
            if len(faces):
                glb = mesh.export(file_type="glb")
                written.append(atomic_write_bytes(folder / f"{name}.glb", glb))
    return written


def write_run_heatmaps(
    run: EvaluationRun,
    ground_truth: Callable[[str], GroundTruth],
    predictions: Path,
    folder: Path,
    *,
    alignment: str,
    clip_mm: float | None = None,
) -> list[Path]:
    """Heatmap files of every scored pair of a run (scored again, one scene at a time)."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = region_clips(run, clip_mm)
    rows = [r for r in run.results if r.status == "ok"]
    written: list[Path] = []
    for pair in rescored_pairs(
        rows, ground_truth, predictions, protocol=run.protocol, regions=run.regions,
        alignment=alignment,
    ):  # fmt: skip
        written += write_pair_heatmaps(pair, folder, clips)
    return written
