"""Scoring a folder of reconstructions against a release: one scene, or a whole benchmark.

Predictions are named as the reconstructions published with the paper:
``{scene_id}_{views_config_id}.ply`` (or .obj / .glb), with optional predicted landmarks in
``{scene_id}_{views_config_id}.landmarks.json`` (``{name: vertex index}``). Each scene's ground
truth is read once and its search structures are shared by all its views configs; scenes run
in parallel processes with ``jobs > 1`` and the results are identical to a serial run.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tqdm.auto import tqdm

from h3ds_hf.benchmark.heatmaps import write_run_heatmaps
from h3ds_hf.benchmark.report import EvaluationRun, ScoredPrediction, summarize
from h3ds_hf.errors import EvaluationError, MissingFileError
from h3ds_hf.evaluation import (
    LANDMARKS_SUFFIX,
    PREDICTION_SUFFIXES,
    SceneEvaluator,
    load_prediction,
    read_landmarks,
)
from h3ds_hf.release.catalog import Catalog
from h3ds_hf.scene import GroundTruth

logger = logging.getLogger(__name__)


class GroundTruthSource(Protocol):
    """What scoring needs of a source: its catalog and each scene's ground truth."""

    catalog: Catalog
    description: str

    def ground_truth(self, scene_id: str) -> GroundTruth: ...


@dataclass(frozen=True)
class Prediction:
    """One reconstruction file of a scene and views config, with optional landmarks."""

    scene_id: str
    views_config: str
    mesh_path: Path
    landmarks_path: Path | None = None


@dataclass(frozen=True)
class EvaluationOptions:
    """How to score: protocol ('h3ds' or 'surface'), regions, alignment, heatmap folder."""

    protocol: str = "h3ds"
    regions: tuple[str, ...] = ("face", "head")
    alignment: str = "similarity"
    heatmaps: Path | None = None


@dataclass
class _SceneJob:
    """What one worker needs to score a scene. Picklable: a worker receives the opened source
    itself (an archive's token travels through the pipe, never through a file)."""

    source: GroundTruthSource
    scene_id: str
    predictions: list[Prediction] = field(default_factory=list)


def find_predictions(
    folder: str | Path, scene_ids: Sequence[str], views_configs: Sequence[str]
) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Match reconstruction files to (scene, views config) pairs.

    Returns:
        the predictions found, and the (scene_id, views_config) pairs that have none.

    Raises:
        MissingFileError: the folder does not exist.
        EvaluationError: two files claim the same pair (e.g. both .ply and .obj).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"predictions folder {folder} does not exist")
    found, missing = [], []
    for scene_id in scene_ids:
        for views_config in views_configs:
            stem = f"{scene_id}_{views_config}"
            meshes = [
                folder / f"{stem}{s}"
                for s in PREDICTION_SUFFIXES
                if (folder / f"{stem}{s}").is_file()
            ]
            if len(meshes) > 1:
                names = ", ".join(path.name for path in meshes)
                raise EvaluationError(f"several reconstructions for {stem}: {names}")
            if not meshes:
                missing.append((scene_id, views_config))
                continue
            landmarks = folder / f"{stem}{LANDMARKS_SUFFIX}"
            found.append(
                Prediction(
                    scene_id, views_config, meshes[0], landmarks if landmarks.is_file() else None
                )
            )
    return found, missing


def evaluate_scene(
    gt: GroundTruth, predictions: Sequence[Prediction], options: EvaluationOptions
) -> list[ScoredPrediction]:
    """Score every views config of one scene, sharing the GT's search structures.

    Unreadable or invalid predictions are flagged as failed with the reason, never raised.
    """
    evaluator = SceneEvaluator(gt)
    scored = []
    for prediction in predictions:
        digest = file_sha256(prediction.mesh_path)
        try:
            vertices, faces = load_prediction(prediction.mesh_path)
            landmarks = (
                read_landmarks(prediction.landmarks_path) if prediction.landmarks_path else None
            )
        except EvaluationError as error:
            scored.append(ScoredPrediction.failure(prediction, digest, str(error)))
            continue
        result = evaluator.evaluate(
            (vertices, faces),
            landmarks,
            protocol=options.protocol,
            regions=options.regions,
            alignment=options.alignment,
            keep_arrays=True,  # the results' distance histograms
            on_error="flag",
        )
        scored.append(ScoredPrediction.from_result(prediction, digest, result))
    return scored


def evaluate_folder(
    source: GroundTruthSource,
    predictions: str | Path,
    *,
    views_configs: Iterable[str] | None = None,
    tags: Iterable[str] = (),
    options: EvaluationOptions | None = None,
    jobs: int = 1,
    progress: bool = True,
    method: str | None = None,
) -> EvaluationRun:
    """Score a folder of reconstructions against an opened ground-truth source.

    Args:
        source: where the ground truth comes from: an opened raw release
            (:func:`h3ds_hf.open_release`), a prepared Hub folder, or anything else with a
            ``catalog`` and ``ground_truth(scene_id)``
            (:func:`h3ds_hf.hub.ground_truth.open_ground_truth` opens any of them from a path).
        predictions: folder of ``{scene_id}_{views_config}.ply|obj|glb`` files.
        views_configs: views configs to score (default: those of the catalog for which the
            folder holds at least one reconstruction).
        tags: restrict to scenes carrying these tags (e.g. {'h3d-net'}).
        options: protocol, regions, alignment and heatmap folder.
        jobs: scenes scored in parallel processes (results identical to jobs=1).
        progress: show a progress bar over scenes.
        method: name of the method in tables (default: the predictions folder's name).
    """
    options = options or EvaluationOptions()
    catalog = source.catalog
    configs = list(views_configs) if views_configs is not None else catalog.views_config_ids()
    known = set(catalog.views_config_ids())
    unknown = [config for config in configs if config not in known]
    if unknown:
        raise EvaluationError(f"unknown views config(s) {unknown}; known: {sorted(known, key=int)}")
    scene_ids = catalog.scene_ids(tags)
    found, missing = find_predictions(predictions, scene_ids, configs)
    if not found:
        raise EvaluationError(
            f"no reconstruction named {{scene_id}}_{{views}}.ply|obj|glb in {predictions} for "
            f"views config(s) {', '.join(configs)}"
        )
    if views_configs is None:  # score the views configs the folder has reconstructions for
        configs = [c for c in configs if any(p.views_config == c for p in found)]
        missing = [(scene_id, config) for scene_id, config in missing if config in configs]
    jobs_by_scene = {scene_id: _SceneJob(source, scene_id) for scene_id in scene_ids}
    for prediction in found:
        jobs_by_scene[prediction.scene_id].predictions.append(prediction)
    todo = [job for job in jobs_by_scene.values() if job.predictions]
    scored: list[ScoredPrediction] = []
    bar = tqdm(total=len(todo), unit="scene", desc="Evaluating", disable=not progress)
    with bar:
        if jobs > 1 and len(todo) > 1:
            # "spawn": forking a process that ran the compiled kernels is unsafe (parallel.py).
            context = multiprocessing.get_context("spawn")
            workers = min(jobs, len(todo))
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for result in pool.map(_run_scene_job, todo, [options] * len(todo)):
                    scored.extend(result)
                    bar.update()
        else:
            for job in todo:
                scored.extend(_run_scene_job(job, options))
                bar.update()
    run = summarize(
        scored,
        missing=missing,
        catalog=catalog,
        views_configs=configs,
        tags=sorted(set(tags)),
        protocol=options.protocol,
        regions=options.regions,
        method=method or Path(predictions).name,
    )
    if options.heatmaps is not None:  # after the run: its colour clip is the run's
        write_run_heatmaps(
            run, source.ground_truth, Path(predictions), options.heatmaps,
            alignment=options.alignment,
        )  # fmt: skip
    return run


def _run_scene_job(job: _SceneJob, options: EvaluationOptions) -> list[ScoredPrediction]:
    return evaluate_scene(job.source.ground_truth(job.scene_id), job.predictions, options)


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file (recorded so a result names exactly what it scored)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
