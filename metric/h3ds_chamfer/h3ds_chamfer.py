"""H3DS chamfer: the official H3DS evaluation of 3D head reconstructions, as an evaluate metric.

A thin adapter over the installed ``h3ds_hf`` package (``h3ds_hf.metric``,
``h3ds_hf.hub.rows`` and ``h3ds_hf.evaluation``), which does the real work: evaluate copies
this file into its modules cache, so nothing here may depend on files next to it. One import
per line: evaluate's import scanner reads this file line by line.
"""

from __future__ import annotations

from typing import Any

import evaluate

import h3ds_hf
from h3ds_hf import metric as h3ds_metric
from h3ds_hf.hub.rows import arrow_rows

_CITATION = """\
@inproceedings{ramon2021h3dnet,
  title     = {{H3D-Net}: Few-Shot High-Fidelity {3D} Head Reconstruction},
  author    = {Ramon, Eduard and Triginer, Gil and Escur, Janna and Pumarola, Albert and
               Garcia, Jaime and Gir{\\'o}-i-Nieto, Xavier and Moreno-Noguer, Francesc},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  year      = {2021}
}

@article{caselles2025sira,
  title   = {Implicit Shape and Appearance Priors for Few-Shot Full Head Reconstruction},
  author  = {Caselles, Pol and Ramon, Eduard and Garc{\\'i}a, Jaime and Triginer, Gil and
             Moreno-Noguer, Francesc},
  journal = {IEEE Transactions on Pattern Analysis and Machine Intelligence},
  year    = {2025},
  note    = {SIRA++; arXiv:2310.08784}
}
"""

_DESCRIPTION = """\
Chamfer distance (mm) between reconstructed 3D heads and the H3DS ground-truth scans, with the
official H3DS protocol (landmark pre-alignment, ICP, vertex-to-vertex distances) or a
point-to-surface protocol free of its biases. 'face' is the GT region within 95 mm of the nose
tip, 'head' the whole scan; the reported figure is the mean over scenes of the per-scene mean
distance from the ground truth to the reconstruction, as in the published tables.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one reconstruction per scene, in mm, in the ground truth's frame or not (it is
        aligned): a dict {"vertices": (N, 3), "faces": (M, 3) (optional), "landmarks":
        {name: vertex index} (optional, the six H3DS landmarks)}, a trimesh.Trimesh, or the
        path of a .ply / .obj / .glb file (landmarks from <stem>.landmarks.json beside it, if
        present).
    references: one per prediction: a row of the H3DS dataset as load_dataset returns it
        (scene_id, vertices, faces, landmarks, regions; other columns are ignored), an
        h3ds_hf.GroundTruth, or a scene id when the metric was loaded with a source
        (evaluate.load(path, source=..., catalog=..., release=...), where source is a raw
        release folder or zip, a prepared or downloaded Hub folder, the Hub dataset
        "ORG/NAME" or "hf://datasets/ORG/NAME", or a datasets.Dataset of H3DS rows).
    protocol: "h3ds" (default; reproduces h3ds 0.4.0, comparable with the published tables) or
        "surface" (no reflection, point-to-surface distances, F-scores).
    regions: any of "face", "head" (default both).
    alignment: "similarity" (default) or "rigid"; surface protocol only.
Returns:
    face_chamfer_mm, head_chamfer_mm: mean over scenes of the per-scene gt->pred mean (mm);
    with protocol="surface" also {region}_pred_to_gt_mm, medians, 90th percentiles and
        {region}_fscore/precision/recall_{1,2.5,5}mm;
    scenes: number of scored items; per_scene: one dict per item (scene_id, the figures and
        its warnings); warnings: every item's (a mesh in metres, an implausible fit scale, ICP
        RMS or a reflection), prefixed by the item; the figures are never changed by them;
    protocol, regions, alignment, package_version.
Examples:
    >>> import evaluate
    >>> import h3ds_hf
    >>> from datasets import load_dataset
    >>> ds = load_dataset("<org>/h3ds", "3-views", split="test")
    >>> metric = evaluate.load(h3ds_hf.metric_path())
    >>> for row in ds:
    ...     metric.add(prediction=f"recs/{row['scene_id']}_3.ply", reference=row)
    >>> metric.compute()["face_chamfer_mm"]
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class H3dsChamfer(evaluate.Metric):
    """The H3DS chamfer metric (see the module's card).

    Args:
        source: optional data source for references given as scene ids: a raw release folder
            or official zip (token from $H3DS_ACCESS_TOKEN), or a datasets.Dataset of rows.
        catalog: Catalog or path of a custom catalog TOML for a raw release.
        release: 'v1' or 'v2' for a raw release (default: from its version.txt).
        **kwargs: evaluate's own (num_process, process_id, experiment_id, cache_dir, ...).
    """

    def __init__(
        self,
        source: Any = None,
        catalog: Any = None,
        release: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._load_ground_truth = (
            None
            if source is None
            else h3ds_metric.ground_truth_loader(source, catalog=catalog, release=release)
        )

    def _info(self) -> evaluate.MetricInfo:
        info = evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=h3ds_metric.metric_features(),
            homepage="https://github.com/CrisalixSA/h3ds",
            license="MIT",
            codebase_urls=["https://github.com/CrisalixSA/h3ds"],
            reference_urls=["https://arxiv.org/abs/2107.12512"],
        )
        # Hand the stored meshes to _compute as Arrow, not as Python lists (seconds per scene
        # saved). MetricInfo refuses a format for nested features at construction only.
        info.format = "arrow"
        return info

    def add(self, *, prediction: Any = None, reference: Any = None, **kwargs: Any) -> None:
        """Add one prediction and its reference (see the inputs below)."""
        index = len(self)
        reference = h3ds_metric.reference_example(reference, index=index)
        self._check_source(reference, index)
        prediction = h3ds_metric.prediction_example(
            prediction, index=index, scene_id=reference["scene_id"]
        )
        super().add(prediction=prediction, reference=reference, **kwargs)

    def add_batch(self, *, predictions: Any = None, references: Any = None, **kwargs: Any) -> None:
        """Add a batch of predictions and their references (see the inputs below)."""
        predictions = list(predictions if predictions is not None else [])
        references = list(references if references is not None else [])
        if len(predictions) != len(references):
            raise ValueError(f"got {len(predictions)} predictions but {len(references)} references")
        start = len(self)
        normalized_references = []
        normalized_predictions = []
        for offset, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
            index = start + offset
            stored = h3ds_metric.reference_example(reference, index=index)
            self._check_source(stored, index)
            normalized_references.append(stored)
            normalized_predictions.append(
                h3ds_metric.prediction_example(prediction, index=index, scene_id=stored["scene_id"])
            )
        super().add_batch(
            predictions=normalized_predictions, references=normalized_references, **kwargs
        )

    def compute(self, *, predictions: Any = None, references: Any = None, **kwargs: Any) -> Any:
        """Score everything added (and the predictions/references given here, if any)."""
        # Refuse bad options before evaluate consumes what was added.
        h3ds_metric.check_options(
            kwargs.get("protocol", "h3ds"),
            kwargs.get("regions", h3ds_metric.METRIC_REGIONS),
            kwargs.get("alignment", "similarity"),
        )
        return super().compute(predictions=predictions, references=references, **kwargs)

    def _compute(
        self,
        predictions: Any,
        references: Any,
        protocol: str = "h3ds",
        regions: Any = h3ds_metric.METRIC_REGIONS,
        alignment: str = "similarity",
    ) -> dict[str, Any]:
        return h3ds_metric.score(
            arrow_rows(predictions),
            arrow_rows(references),
            protocol=protocol,
            regions=regions,
            alignment=alignment,
            load_ground_truth=self._load_ground_truth,
            package_version=h3ds_hf.__version__,
        )

    def _check_source(self, reference: dict, index: int) -> None:
        if reference["vertices"] is None and self._load_ground_truth is None:
            raise ValueError(
                f"reference of item {index} (scene {reference['scene_id']}) is a scene id "
                "without ground truth: pass rows of the H3DS dataset, or load the metric with "
                "a source: evaluate.load(..., source=RELEASE_OR_HUB_DATASET)"
            )
