"""The library side of the ``h3ds_chamfer`` evaluate metric.

The metric module (``metric/h3ds_chamfer/h3ds_chamfer.py``, shipped in the wheel as package
``h3ds_hf.h3ds_chamfer``) is a thin adapter: evaluate copies it into its modules cache, so the
real work lives here, in the installed package, where it is tested like any other code:

- :func:`metric_path` finds the installed metric folder for ``evaluate.load``;
- :func:`ground_truth_loader` reads ground truths by scene id from the source the metric was
  loaded with (a raw release or a ``datasets.Dataset``);
- :func:`metric_features` declares how one item is stored in evaluate's Arrow cache;
- :func:`prediction_example` / :func:`reference_example` turn what users pass to ``add`` (dicts,
  trimesh objects, mesh files, dataset rows, scene ids) into that stored shape, validated;
- :func:`score` scores the stored items with :mod:`h3ds_hf.evaluation` and aggregates them like
  the published tables (mean over scenes of per-scene gt->pred means, mm).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from datasets import Features, List, Value

from h3ds_hf.benchmark.batch import GroundTruthSource
from h3ds_hf.distribution import shipped_folder
from h3ds_hf.errors import EvaluationError, H3DSError, UnknownRegionError, UnknownSceneError
from h3ds_hf.evaluation import (
    ALIGNMENTS,
    LANDMARKS_SUFFIX,
    PROTOCOLS,
    PairResult,
    RegionResult,
    SceneEvaluator,
    load_prediction,
    read_landmarks,
)
from h3ds_hf.evaluation.meshes import mesh_arrays, validate_landmarks, validate_mesh
from h3ds_hf.hub.ground_truth import open_ground_truth
from h3ds_hf.hub.rows import ground_truth_from_row
from h3ds_hf.release.catalog import Catalog
from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES, GroundTruth

#: Name of the metric (folder, module and Space).
METRIC_NAME = "h3ds_chamfer"
#: Package under which the wheel ships the metric folder (pyproject's package-dir).
METRIC_PACKAGE = "h3ds_hf.h3ds_chamfer"
#: Regions the metric reports: 'face' (GT region face_sphere) and 'head' (the whole GT).
METRIC_REGIONS: tuple[str, ...] = ("face", "head")

#: Loads the ground truth of a scene id (references given as ids with a source).
GroundTruthLoader = Callable[[str], GroundTruth]


def ground_truth_loader(
    source: Any,
    *,
    catalog: Catalog | str | Path | None = None,
    release: str | None = None,
    token: str | None = None,
) -> GroundTruthLoader:
    """A scene id -> GroundTruth function over a data source, opened on first use.

    Args:
        source: a raw release (folder or official zip, see :func:`h3ds_hf.open_release`), a
            prepared or downloaded Hub dataset folder, or a ``datasets.Dataset`` of H3DS rows.
        catalog: a Catalog or the path of a custom catalog TOML (raw releases only).
        release: 'v1' or 'v2' (raw releases only; default: from version.txt).
        token: the zip's access token (default ``$H3DS_ACCESS_TOKEN``); never stored on disk.
    """
    if isinstance(source, datasets.Dataset):
        return _dataset_loader(source)
    opened: list[GroundTruthSource] = []

    def load(scene_id: str) -> GroundTruth:
        if not opened:
            opened.append(
                open_ground_truth(
                    source,
                    catalog=catalog if isinstance(catalog, Catalog) else None,
                    catalog_path=None if isinstance(catalog, Catalog) else catalog,
                    release=release,
                    token=token,
                )
            )
        return opened[0].ground_truth(scene_id)

    return load


def _dataset_loader(dataset: datasets.Dataset) -> GroundTruthLoader:
    columns = dataset.select_columns(["scene_id", "vertices", "faces", "landmarks", "regions"])
    positions = {scene_id: i for i, scene_id in enumerate(columns["scene_id"])}

    def load(scene_id: str) -> GroundTruth:
        if scene_id not in positions:
            raise UnknownSceneError(f"scene {scene_id} is not in the source dataset")
        return ground_truth_from_row(columns[positions[scene_id]])

    return load


def metric_path() -> str:
    """Folder of the ``h3ds_chamfer`` metric, for ``evaluate.load(metric_path())``.

    Works offline from any working directory: for a wheel install (``.../h3ds_hf/h3ds_chamfer``),
    an editable one, and Python started in a source checkout, whose ``h3ds_hf/`` then shadows
    any installed copy and has no metric package inside (``<checkout>/metric/h3ds_chamfer``).

    Raises:
        H3DSError: the metric folder is not installed (a broken installation).
    """
    folder = shipped_folder(METRIC_PACKAGE)
    if folder is not None and (folder / f"{METRIC_NAME}.py").is_file():
        return str(folder)
    raise H3DSError(
        f"the {METRIC_NAME} metric folder is not installed with h3ds_hf (package "
        f"{METRIC_PACKAGE} not found); reinstall h3ds-hf"
    )


def _matrix_rows(dtype: str) -> List:
    """A (rows, 3) matrix: a list of 3-long lists, nullable."""
    return List(List(Value(dtype), length=3))


def metric_features() -> Features:
    """How one (prediction, reference) item is stored in evaluate's Arrow cache.

    ``predictions``: vertices (N, 3) float64 mm, faces (M, 3) int64, landmarks (the six names
    -> vertex index; null when not predicted). ``references``: the dataset row's ground-truth
    columns; everything but ``scene_id`` is null when the scene's ground truth comes from the
    source given when loading the metric.
    """
    landmarks = {name: Value("int64") for name in LANDMARK_NAMES}
    return Features(
        {
            "predictions": {
                "vertices": _matrix_rows("float64"),
                "faces": _matrix_rows("int64"),
                "landmarks": landmarks,
            },
            "references": {
                "scene_id": Value("string"),
                "vertices": _matrix_rows("float64"),
                "faces": _matrix_rows("int64"),
                "landmarks": landmarks,
                "regions": {name: List(Value("int64")) for name in REGION_NAMES},
            },
        }
    )


# ------------------------------------------------------------------------------ add-time inputs


def _label(index: int, scene_id: str | None) -> str:
    return f"item {index}" + (f" (scene {scene_id})" if scene_id else "")


def prediction_example(prediction: Any, *, index: int, scene_id: str | None = None) -> dict:
    """Validate one prediction and return it in the stored shape of :func:`metric_features`.

    Args:
        prediction: ``{"vertices": (N, 3), "faces": (M, 3) (optional), "landmarks":
            {name: vertex index} (optional)}`` in mm; or a trimesh.Trimesh (any object with
            ``.vertices`` and ``.faces``); or a path to a .ply / .obj / .glb file, with the
            landmarks of ``<stem>.landmarks.json`` beside it if that file exists (the naming
            ``h3ds-hf evaluate`` reads).
        index: position of the item among everything added (for error messages).
        scene_id: the reference's scene id, if known (for error messages).

    Raises:
        EvaluationError: (a ValueError) naming the item: unreadable file, invalid mesh or
            landmarks.
    """
    what = f"prediction of {_label(index, scene_id)}"
    landmarks = None
    if isinstance(prediction, str | os.PathLike):
        path = Path(prediction)
        if not path.is_file():
            raise EvaluationError(f"{what}: no such file {str(prediction)!r}")
        # The landmarks file `h3ds-hf evaluate` reads next to a reconstruction, if any.
        sidecar = path.with_name(path.stem + LANDMARKS_SUFFIX)
        try:
            vertices, faces = load_prediction(path)
            landmarks = read_landmarks(sidecar) if sidecar.is_file() else None
        except EvaluationError as err:
            raise EvaluationError(f"{what}: {err}") from None
    elif isinstance(prediction, Mapping):
        if prediction.get("vertices") is None:
            raise EvaluationError(f"{what}: a dict prediction needs 'vertices' (N, 3) in mm")
        vertices, faces = validate_mesh(prediction["vertices"], prediction.get("faces"), what=what)
        landmarks = prediction.get("landmarks")
    else:
        vertices, faces = mesh_arrays(prediction, what=what)
    if landmarks is not None:
        landmarks = validate_landmarks(
            landmarks, LANDMARK_NAMES, len(vertices), what=f"{what}: landmarks"
        )
    return {"vertices": vertices, "faces": faces, "landmarks": _stored_landmarks(landmarks)}


def _stored_landmarks(landmarks: Mapping[str, int] | None) -> dict[str, int | None]:
    """Landmarks as stored: absent ones as a struct of nulls, since evaluate's input checks
    cannot walk a null struct."""
    return dict(landmarks) if landmarks is not None else dict.fromkeys(LANDMARK_NAMES)


def _landmarks_of(stored: Mapping[str, int | None] | None) -> dict[str, int] | None:
    """Inverse of :func:`_stored_landmarks`: None when no landmark was given."""
    if stored is None or all(index is None for index in stored.values()):
        return None
    return {name: int(index) for name, index in stored.items() if index is not None}


def reference_example(reference: Any, *, index: int) -> dict:
    """Validate one reference and return it in the stored shape of :func:`metric_features`.

    Args:
        reference: a row of the H3DS dataset (``scene_id``, ``vertices``, ``faces``,
            ``landmarks``, ``regions``; other columns are ignored), a
            :class:`~h3ds_hf.scene.GroundTruth`, or a scene id (str) whose ground truth comes
            from the source given when loading the metric.
        index: position of the item among everything added (for error messages).

    Raises:
        EvaluationError: (a ValueError) naming the item: no scene id, or incomplete or
            invalid ground truth.
    """
    if isinstance(reference, str):
        return _id_only(reference)
    if isinstance(reference, GroundTruth):
        reference = {
            "scene_id": reference.scene_id,
            "vertices": reference.vertices,
            "faces": reference.faces,
            "landmarks": dict(reference.landmarks),
            "regions": dict(reference.regions),
        }
    if not isinstance(reference, Mapping) or not reference.get("scene_id"):
        raise EvaluationError(
            f"reference of {_label(index, None)}: expected a dataset row with 'scene_id', a "
            f"GroundTruth or a scene id, got {type(reference).__name__}"
        )
    scene_id = str(reference["scene_id"])
    what = f"reference of {_label(index, scene_id)}"
    if reference.get("vertices") is None:
        return _id_only(scene_id)
    missing = [key for key in ("faces", "landmarks", "regions") if reference.get(key) is None]
    if missing:
        raise EvaluationError(f"{what}: the ground truth lacks {missing}")
    raw = reference["vertices"]
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "f" and raw.dtype.itemsize < 8:
        # datasets' numpy format casts the stored float64 scan to float32: refuse, it moves
        # every vertex by up to ~1e-5 mm and breaks parity with the published evaluation.
        raise EvaluationError(
            f"{what}: vertices are {raw.dtype}, not the dataset's float64; use the default "
            "(python) format or .with_format('arrow') instead of .with_format('numpy')"
        )
    vertices, faces = validate_mesh(raw, reference["faces"], what=what)
    landmarks = validate_landmarks(
        reference["landmarks"], LANDMARK_NAMES, len(vertices), what=f"{what}: landmarks"
    )
    regions = {}
    for name in REGION_NAMES:
        indices = reference["regions"].get(name)
        regions[name] = None if indices is None else np.asarray(indices, dtype=np.int64)
    return {
        "scene_id": scene_id,
        "vertices": vertices,
        "faces": faces,
        "landmarks": landmarks,
        "regions": regions,
    }


def _id_only(scene_id: str) -> dict:
    return {
        "scene_id": scene_id,
        "vertices": None,
        "faces": None,
        "landmarks": _stored_landmarks(None),
        "regions": dict.fromkeys(REGION_NAMES),
    }


def check_options(protocol: str, regions: Iterable[str] | str, alignment: str) -> tuple[str, ...]:
    """Validate the compute options; returns the regions as a tuple.

    Raises:
        EvaluationError, UnknownRegionError: (ValueErrors) unknown protocol, alignment or region.
    """
    regions = (regions,) if isinstance(regions, str) else tuple(regions)
    if protocol not in PROTOCOLS:
        raise EvaluationError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    if alignment not in ALIGNMENTS:
        raise EvaluationError(f"unknown alignment {alignment!r}; expected one of {ALIGNMENTS}")
    unknown = [name for name in regions if name not in METRIC_REGIONS]
    if unknown or not regions:
        raise UnknownRegionError(
            f"unknown region(s) {unknown or regions!r}; expected any of {METRIC_REGIONS}"
        )
    return regions


# ------------------------------------------------------------------------------ compute time


def ground_truth_of(reference: Mapping[str, Any]) -> GroundTruth | None:
    """The GroundTruth a stored reference carries, or None if it holds only a scene id."""
    if reference["vertices"] is None:
        return None
    return GroundTruth(
        scene_id=reference["scene_id"],
        vertices=reference["vertices"],
        faces=reference["faces"],
        landmarks=_landmarks_of(reference["landmarks"]) or {},
        regions={k: v for k, v in reference["regions"].items() if v is not None},
    )


def score(
    predictions: list[Mapping[str, Any]],
    references: list[Mapping[str, Any]],
    *,
    protocol: str = "h3ds",
    regions: Iterable[str] | str = METRIC_REGIONS,
    alignment: str = "similarity",
    load_ground_truth: GroundTruthLoader | None = None,
    package_version: str = "",
) -> dict[str, Any]:
    """Score stored items and aggregate them like the published tables.

    Args:
        predictions, references: items in the shape of :func:`metric_features` with numpy
            arrays (see :func:`h3ds_hf.hub.rows.arrow_rows`).
        protocol: "h3ds" (the published numbers) or "surface".
        regions: any of "face", "head".
        alignment: "similarity" or "rigid" (surface protocol only).
        load_ground_truth: scene id -> GroundTruth, for references holding only a scene id.
        package_version: written into the output.

    Returns:
        ``{region}_chamfer_mm`` per region (mean over items of the per-item gt->pred means,
        mm); with the surface protocol also the other figures of :func:`_figures`;
        ``scenes`` (number of items), ``per_scene`` (one dict per item: ``scene_id``, the
        same figures and its ``warnings``), ``warnings`` (every item's, each prefixed with the
        item it is about: a unit mistake, an implausible fit; the figures are unchanged),
        ``protocol``, ``regions``, ``alignment``, ``package_version``.

    Raises:
        EvaluationError: (a ValueError) naming the item: lengths differ, a reference without
            ground truth and no loader, a prediction that cannot be scored.
    """
    regions = check_options(protocol, regions, alignment)
    if len(predictions) != len(references):
        raise EvaluationError(
            f"got {len(predictions)} predictions but {len(references)} references"
        )
    evaluators: dict[str, SceneEvaluator] = {}
    per_scene = []
    for index, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        scene_id = reference["scene_id"]
        evaluator = _evaluator(reference, index, load_ground_truth, evaluators)
        try:
            result = evaluator.evaluate(
                (prediction["vertices"], prediction["faces"]),
                _landmarks_of(prediction["landmarks"]),
                protocol=protocol,
                regions=regions,
                alignment=alignment if protocol == "surface" else "similarity",
            )
        except EvaluationError as err:
            raise EvaluationError(f"{_label(index, scene_id)}: {err}") from None
        per_scene.append(
            {"scene_id": scene_id, **_figures(result, protocol), "warnings": list(result.warnings)}
        )
    keys = [key for key in per_scene[0] if key not in ("scene_id", "warnings")] if per_scene else []
    means = {key: float(np.mean([item[key] for item in per_scene])) for key in keys}
    return {
        **means,
        "scenes": len(per_scene),
        "per_scene": per_scene,
        "warnings": [
            f"{_label(index, item['scene_id'])}: {warning}"
            for index, item in enumerate(per_scene)
            for warning in item["warnings"]
        ],
        "protocol": protocol,
        "regions": list(regions),
        "alignment": alignment if protocol == "surface" else "similarity+reflection",
        "package_version": package_version,
    }


def _evaluator(
    reference: Mapping[str, Any],
    index: int,
    load_ground_truth: GroundTruthLoader | None,
    cache: dict[str, SceneEvaluator],
) -> SceneEvaluator:
    """The evaluator of an item's ground truth; scenes from the loader are built once."""
    scene_id = reference["scene_id"]
    gt = ground_truth_of(reference)
    if gt is not None:
        return SceneEvaluator(gt)
    if load_ground_truth is None:
        raise EvaluationError(
            f"reference of {_label(index, scene_id)} has no ground truth: pass rows of the "
            "H3DS dataset as references, or load the metric with a source "
            "(evaluate.load(..., source=RELEASE))"
        )
    if scene_id not in cache:
        try:
            cache[scene_id] = SceneEvaluator(load_ground_truth(scene_id))
        except (H3DSError, OSError) as err:
            raise EvaluationError(
                f"reference of {_label(index, scene_id)}: cannot read its ground truth: {err}"
            ) from None
    return cache[scene_id]


def _figures(result: PairResult, protocol: str) -> dict[str, float]:
    """Per-item figures: ``{region}_chamfer_mm`` (gt->pred mean), plus for the surface
    protocol the other direction, medians, 90th percentiles and F-scores."""
    figures: dict[str, float] = {}
    for name, region in result.regions.items():
        figures[f"{name}_chamfer_mm"] = region.gt_to_pred_mm
        if protocol == "surface":
            figures.update(_surface_figures(name, region))
    return figures


def _surface_figures(name: str, region: RegionResult) -> dict[str, float]:
    figures = {
        f"{name}_pred_to_gt_mm": region.pred_to_gt_mm,
        f"{name}_gt_to_pred_median_mm": region.gt_to_pred_median_mm,
        f"{name}_gt_to_pred_p90_mm": region.gt_to_pred_p90_mm,
        f"{name}_pred_to_gt_median_mm": region.pred_to_gt_median_mm,
        f"{name}_pred_to_gt_p90_mm": region.pred_to_gt_p90_mm,
    }
    for fscore in region.fscores:
        suffix = f"{fscore.threshold_mm:g}mm"
        figures[f"{name}_fscore_{suffix}"] = fscore.fscore
        figures[f"{name}_precision_{suffix}"] = fscore.precision
        figures[f"{name}_recall_{suffix}"] = fscore.recall
    return figures
