"""Scoring a folder of reconstructions against a release: one scene, or a whole benchmark.

Predictions are named as the reconstructions published with the paper:
``{scene_id}_{views_config_id}.ply`` (or .obj / .glb), with optional predicted landmarks in
``{scene_id}_{views_config_id}.landmarks.json`` (``{name: vertex index}``). Each scene's ground
truth is read once and its search structures are shared by all its views configs; scenes run
in parallel processes with ``jobs > 1``, or on a Dask cluster with ``client``, and the results
are identical to a serial run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from h3ds_hf.benchmark.heatmaps import write_run_heatmaps
from h3ds_hf.benchmark.report import EvaluationRun, ScoredPrediction, summarize
from h3ds_hf.errors import EvaluationError, MissingFileError, get_logger
from h3ds_hf.evaluation import (
    LANDMARKS_SUFFIX,
    PREDICTION_SUFFIXES,
    SceneEvaluator,
    load_prediction,
    read_landmarks,
)
from h3ds_hf.evaluation.kernels import prepare_kernels
from h3ds_hf.evaluation.parallel import set_kernel_threads
from h3ds_hf.processes import available_cores, process_pool
from h3ds_hf.release.catalog import Catalog
from h3ds_hf.scene import GroundTruth

logger = get_logger(__name__)


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
    """Match reconstruction files to (scene, views config) pairs; suffixes in any case.

    Returns:
        the predictions found, and the (scene_id, views_config) pairs that have none.

    Raises:
        MissingFileError: the folder does not exist.
        EvaluationError: two files claim the same pair (e.g. both .ply and .obj).
    """
    files = _folder_files(folder)
    found, missing = [], []
    for scene_id in scene_ids:
        for views_config in views_configs:
            stem = f"{scene_id}_{views_config}"
            meshes = [
                files[stem + suffix] for suffix in PREDICTION_SUFFIXES if stem + suffix in files
            ]
            if len(meshes) > 1:
                names = ", ".join(path.name for path in meshes)
                raise EvaluationError(f"several reconstructions for {stem}: {names}")
            if not meshes:
                missing.append((scene_id, views_config))
                continue
            found.append(
                Prediction(scene_id, views_config, meshes[0], files.get(stem + LANDMARKS_SUFFIX))
            )
    return found, missing


def folder_warnings(
    folder: str | Path, scene_ids: Sequence[str], views_configs: Sequence[str]
) -> list[str]:
    """What in a predictions folder is ignored although it looks meant to be scored.

    Files that match no ``{scene_id}_{views}`` name of the catalog (a wrong separator,
    ``_3views``, ``_landmarks.json``), named with the name expected when it can be guessed, and
    landmarks files beside which no reconstruction lies. Hidden files are not listed.
    """
    files = _folder_files(folder)
    stems = {f"{scene_id}_{views}" for scene_id in scene_ids for views in views_configs}
    meshes = {
        stem
        for stem, dot, suffix in (key.rpartition(".") for key in files)
        if dot + suffix in PREDICTION_SUFFIXES
    }
    warnings = []
    for key, path in sorted(files.items()):
        if key.endswith(LANDMARKS_SUFFIX) and key[: -len(LANDMARKS_SUFFIX)] in stems:
            stem = key[: -len(LANDMARKS_SUFFIX)]
            if stem not in meshes:
                warnings.append(
                    f"{path.name} belongs to no prediction (no {stem}.ply|obj|glb): ignored"
                )
            continue
        stem, dot, suffix = key.rpartition(".")
        if stem in stems and dot + suffix in PREDICTION_SUFFIXES:
            continue
        expected = _expected_name(path.name, scene_ids, views_configs)
        hint = (
            f": rename it {expected}"
            if expected
            else " ({scene_id}_{views}.ply|obj|glb or .landmarks.json)"
        )
        warnings.append(f"{path.name} matches no expected name{hint}; ignored")
    return warnings


#: What may separate a scene id from its views count in a misnamed file, and follow the count.
_MISNAMED = re.compile(r"[\W_]*(\d+)(?:[\W_]*views?)?(.*)", re.IGNORECASE)


def _expected_name(name: str, scene_ids: Sequence[str], views_configs: Sequence[str]) -> str | None:
    """The expected name a misnamed prediction or landmarks file was probably meant to have."""
    for scene_id in scene_ids:
        if not name.lower().startswith(scene_id.lower()):
            continue
        match = _MISNAMED.fullmatch(name[len(scene_id) :])
        if match is None or match[1] not in views_configs:
            continue
        rest = match[2].lower()
        if "landmark" in rest and rest.endswith(".json"):
            return f"{scene_id}_{match[1]}{LANDMARKS_SUFFIX}"
        suffix = "." + rest.rpartition(".")[2]
        if suffix in PREDICTION_SUFFIXES:
            return f"{scene_id}_{match[1]}{suffix}"
    return None


def _folder_files(folder: str | Path) -> dict[str, Path]:
    """Visible files of a predictions folder by name with its suffix lower-cased (a
    ``.landmarks.json`` ending counts as one suffix)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"predictions folder {folder} does not exist")
    files = {}
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue
        lower = path.name.lower()
        cut = len(LANDMARKS_SUFFIX) if lower.endswith(LANDMARKS_SUFFIX) else len(path.suffix)
        key = path.name[: len(path.name) - cut] + lower[len(path.name) - cut :]
        if key in files:
            raise EvaluationError(f"{files[key].name} and {path.name} differ only in case")
        files[key] = path
    return files


def evaluate_scene(
    gt: GroundTruth, predictions: Sequence[Prediction], options: EvaluationOptions
) -> list[ScoredPrediction]:
    """Score every views config of one scene, sharing the GT's search structures.

    Unreadable or invalid predictions are flagged as failed with the reason, never raised.
    """
    evaluator = SceneEvaluator(gt)
    scored = []
    for prediction in predictions:
        inputs = {
            path.name: file_sha256(path)
            for path in (prediction.mesh_path, prediction.landmarks_path)
            if path is not None
        }
        inputs.update(gt.inputs)  # the ground-truth files (or Parquet row group) it is scored on
        try:
            vertices, faces = load_prediction(prediction.mesh_path)
            landmarks = (
                read_landmarks(prediction.landmarks_path) if prediction.landmarks_path else None
            )
        except EvaluationError as error:
            scored.append(ScoredPrediction.failure(prediction, inputs, str(error)))
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
        scored.append(ScoredPrediction.from_result(prediction, inputs, result))
    return scored


def evaluate_folder(
    source: GroundTruthSource,
    predictions: str | Path,
    *,
    views_configs: Iterable[str] | None = None,
    tags: Iterable[str] = (),
    options: EvaluationOptions | None = None,
    jobs: int | None = None,
    progress: bool = True,
    method: str | None = None,
    client: Any = None,
    strict: bool = False,
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
        jobs: scenes scored in parallel processes (results identical to jobs=1), each
            process computing with ``cores // jobs`` threads; None: :func:`default_jobs`.
        progress: show a progress bar over scenes.
        method: name of the method in tables (default: the predictions folder's name).
        client: a ``dask.distributed.Client``: the scenes are scored on its cluster (one task
            per scene; ``jobs`` is then ignored), results identical to a serial run.
        strict: refuse a folder holding files that look meant to be scored but match no
            expected name (see :func:`folder_warnings`) instead of warning about them.

    Raises:
        EvaluationError: unknown views configs, no reconstruction at all, or with ``strict``
            a misnamed file.
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
    warnings = folder_warnings(predictions, catalog.scene_ids(), sorted(known, key=int))
    if warnings and strict:
        raise EvaluationError(f"{predictions}: " + "; ".join(warnings))
    for warning in warnings:
        logger.warning("%s: %s", predictions, warning)
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
    # Results are put back in scene order, whatever order the workers finish in.
    by_job: dict[int, list[ScoredPrediction]] = {}
    workers = default_jobs(todo) if jobs is None and client is None else jobs or 1
    if client is None and todo:
        prepare_kernels()  # here, once for every worker, and its notice before the bar
    bar = tqdm(total=len(todo), unit="scene", desc="Evaluating", disable=not progress)
    with bar:
        for index, result in _scored_jobs(todo, options, workers, client):
            by_job[index] = result
            bar.update()
    scored = [row for index in range(len(todo)) for row in by_job[index]]
    run = summarize(
        scored,
        missing=missing,
        catalog=catalog,
        views_configs=configs,
        tags=sorted(set(tags)),
        protocol=options.protocol,
        regions=options.regions,
        method=method or Path(predictions).name,
        warnings=warnings,
        inputs=_source_inputs(source),
    )
    if options.heatmaps is not None:  # after the run: its colour clip is the run's
        write_run_heatmaps(
            run, source.ground_truth, Path(predictions), options.heatmaps,
            alignment=options.alignment,
        )  # fmt: skip
    return run


#: Predictions adding up to this many bytes are scored in one process per core by default:
#: starting the workers costs ~1 s, which the work they share must outweigh. Measured on 2
#: cores: the demo (12 predictions, 4.5 MB) 2.1 s in one process, 3.1 s in two; the v2-shaped
#: benchmark (413 predictions of 164k vertices, bench/bench_benchmark.py) 253 s, 197 s.
AUTO_JOBS_MIN_BYTES = 100_000_000
#: At most this many processes by default: each holds a scene's GT, its trees and a prediction
#: in memory, and the affinity mask does not see a container's CPU quota.
AUTO_JOBS_MAX = 8


def default_jobs(todo: Sequence[_SceneJob]) -> int:
    """Processes that score ``todo`` fastest: one per core (at most :data:`AUTO_JOBS_MAX`)
    when its prediction files add up to :data:`AUTO_JOBS_MIN_BYTES`, else 1."""
    size = 0
    for job in todo:
        for prediction in job.predictions:
            with contextlib.suppress(OSError):  # unreadable: its own error comes when scored
                size += prediction.mesh_path.stat().st_size
    if size < AUTO_JOBS_MIN_BYTES or len(todo) < 2:
        return 1
    return min(available_cores(), AUTO_JOBS_MAX)


def _scored_jobs(
    todo: list[_SceneJob], options: EvaluationOptions, jobs: int, client: Any
) -> Iterator[tuple[int, list[ScoredPrediction]]]:
    """(index into ``todo``, its scored predictions) for every job, as they finish."""
    if client is not None:
        from distributed import as_completed as completed_futures

        futures = {
            client.submit(_run_dask_job, job, options, pure=False): index
            for index, job in enumerate(todo)
        }
        for future in completed_futures(futures):
            yield futures[future], future.result()
        return
    if jobs <= 1 or len(todo) <= 1:
        for index, job in enumerate(todo):
            yield index, _run_scene_job(job, options)
        return
    # "spawn": forking a process that ran the compiled kernels is unsafe (parallel.py). The
    # cores are shared out: processes x kernel threads never exceed them.
    workers = min(jobs, len(todo))
    threads = max(1, available_cores() // workers)
    with process_pool(workers, set_kernel_threads, (threads,)) as pool:
        futures = {pool.submit(_run_scene_job, job, options): i for i, job in enumerate(todo)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _run_scene_job(job: _SceneJob, options: EvaluationOptions) -> list[ScoredPrediction]:
    return evaluate_scene(job.source.ground_truth(job.scene_id), job.predictions, options)


def _run_dask_job(job: _SceneJob, options: EvaluationOptions) -> list[ScoredPrediction]:
    """A scene scored on a Dask worker: a worker runs one kernel at a time, so its kernels
    use as many threads as it has task threads (its share of the machine's cores)."""
    from distributed import get_worker

    set_kernel_threads(get_worker().state.nthreads)
    return _run_scene_job(job, options)


def _source_inputs(source: GroundTruthSource) -> dict[str, str]:
    """The run's shared inputs: the catalog's sha256 (its canonical JSON), and what the source
    says identifies it (e.g. a Hub dataset's revision), if it says anything."""
    canonical = json.dumps(source.catalog.to_json_dict(), sort_keys=True).encode("utf-8")
    inputs = {"catalog": hashlib.sha256(canonical).hexdigest()}
    inputs.update(getattr(source, "inputs", {}))
    return inputs


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file (recorded so a result names exactly what it scored)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
